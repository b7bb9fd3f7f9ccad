"""Synthetic demo data for the Guangxi demo catalogue, and large synthetic catalogues (no Dagster here)."""

from pipelines.demo.generator import DEFAULT_SEED, generate_demo, generate_large_catalogue

__all__ = ["DEFAULT_SEED", "generate_demo", "generate_large_catalogue"]
