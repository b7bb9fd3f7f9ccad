"""A large submission's progress through a stage: a line per chunk, none for a stage done in one chunk, and the
lines in a Dagster run's own log through the repository's dagster.yaml."""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
import pytest
import yaml

from pipelines import progress

REPO = Path(__file__).resolve().parents[2]


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage().rsplit(",", 1)[0] for r in caplog.records if r.name == "pipelines.progress"]


def test_a_line_after_each_chunk_with_the_share_of_the_total(caplog: pytest.LogCaptureFixture) -> None:
    chunks = [[0] * 400_000, [0] * 400_000, [0] * 200_000]
    with caplog.at_level(logging.INFO, logger="pipelines"):
        assert list(progress.reported(chunks, "gx_amr/registry: intake", 1_000_000, len)) == chunks
    assert _lines(caplog) == ["gx_amr/registry: intake: 400,000 of 1,000,000 rows (40%)",
                              "gx_amr/registry: intake: 800,000 of 1,000,000 rows (80%)",
                              "gx_amr/registry: intake: 1,000,000 of 1,000,000 rows (100%)"]


@pytest.mark.parametrize("total", [3, None])
def test_nothing_for_a_stage_done_in_one_chunk(caplog: pytest.LogCaptureFixture, total: int | None) -> None:
    with caplog.at_level(logging.INFO, logger="pipelines"):
        assert list(progress.reported([[1, 2, 3]], "small: intake", total, len)) == [[1, 2, 3]]
    assert _lines(caplog) == []


def test_without_a_total_the_rows_so_far_from_the_second_chunk_on(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="pipelines"):
        list(progress.reported([[0] * 5, [0] * 5, [0] * 2], "open data", None, len))
    assert _lines(caplog) == ["open data: 10 rows", "open data: 12 rows"]


def test_a_line_before_a_one_step_stage(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="pipelines"):
        progress.before("gx_amr/registry: converging", 987_500)
    assert [r.getMessage() for r in caplog.records] == ["gx_amr/registry: converging: 987,500 rows"]


def test_the_repository_instance_puts_the_lines_in_the_run_s_log(tmp_path: Path) -> None:
    """The repository's dagster.yaml, not a setting of the test's own: its ``python_logs`` makes the platform's
    loggers Dagster's, so the UI's run page shows a large submission's progress."""
    settings = yaml.safe_load((REPO / "dagster.yaml").read_text(encoding="utf-8"))["python_logs"]

    @dg.op
    def intake() -> None:
        list(progress.reported([[0] * 2, [0] * 2, [0]], "gx_amr/registry: intake", 5, len))

    @dg.job
    def staged() -> None:
        intake()

    with dg.instance_for_test(overrides={"python_logs": settings}, temp_dir=str(tmp_path)) as instance:
        result = staged.execute_in_process(instance=instance)
        messages = [e.user_message for e in instance.all_logs(result.run_id)]
    assert [m.rsplit(",", 1)[0] for m in messages if "intake:" in m] == [
        "gx_amr/registry: intake: 2 of 5 rows (40%)", "gx_amr/registry: intake: 4 of 5 rows (80%)",
        "gx_amr/registry: intake: 5 of 5 rows (100%)"]
