"""Quality rules derived from the catalogue, and their outcomes: plain Python, no Dagster, no GX."""
