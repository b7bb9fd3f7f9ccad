"""Supervision and evaluation (art. 7-10, 15): scorecards, contractors, violations, verdicts."""
