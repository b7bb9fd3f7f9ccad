"""``evaluation.yaml`` (optional, in the catalogue directory): compliance thresholds, rectification
deadlines per violation kind and the answer deadline for sharing applications. Defaults in code."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pipelines.catalogue.loader import load_settings_file

EVALUATION_FILE = "evaluation.yaml"
OUT_OF_CATALOGUE = "out_of_catalogue"
REPEATED_COLLECTION = "repeated_collection"
EXPIRED_TEMPORARY = "expired_temporary"
OVERDUE_CORRECTION = "overdue_correction"
KINDS = (OUT_OF_CATALOGUE, REPEATED_COLLECTION, EXPIRED_TEMPORARY, OVERDUE_CORRECTION)

Share = float  # 0..1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Thresholds(_Frozen):
    """A unit passes when every indicator it has data for is at or beyond its threshold."""

    catalogue_coverage: Share = Field(default=0.9, ge=0, le=1, description="minimum share of items submitted")
    directory_registration: Share = Field(default=0.9, ge=0, le=1, description="minimum share registered")
    on_time_rate: Share = Field(default=0.8, ge=0, le=1, description="minimum share of expected submissions on time")
    pass_rate: Share = Field(default=0.9, ge=0, le=1, description="minimum mean pass rate of the quality checks")
    held_back_rate: Share = Field(default=0.1, ge=0, le=1, description="maximum share of received rows held back")
    sharing_answered_in_time: Share = Field(default=0.9, ge=0, le=1,
                                            description="minimum share of applications answered in time")
    correction_turnaround_days: float = Field(default=10.0, ge=0, description="maximum median days to correct")
    overdue_violations: int = Field(default=0, ge=0, description="maximum overdue violations")


class Deadlines(_Frozen):
    """Days a unit has to rectify each kind of violation, counted from the day it was opened."""

    out_of_catalogue: int = Field(default=15, ge=0)
    repeated_collection: int = Field(default=30, ge=0)
    expired_temporary: int = Field(default=15, ge=0)
    overdue_correction: int = Field(default=15, ge=0)

    def days(self, kind: str) -> int:
        return int(getattr(self, kind))


class EvaluationConfig(_Frozen):
    thresholds: Thresholds = Thresholds()
    deadlines: Deadlines = Deadlines()
    correction_days: int = Field(default=7, ge=0, description="held rows older than this open a violation")
    sharing_answer_days: int = Field(default=10, ge=0, description="days to answer a sharing application")


def load_evaluation_config(catalogue_dir: str | Path) -> EvaluationConfig:
    """The directory's evaluation.yaml, or the defaults; CatalogueError names the file and the field."""
    config: EvaluationConfig = load_settings_file(Path(catalogue_dir) / EVALUATION_FILE, EvaluationConfig,
                                                  "evaluation")
    return config
