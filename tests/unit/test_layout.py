"""The project's own packages are the ones imported, the domain stays free of Dagster, imports do no work."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOMAIN = ["pipelines.catalogue", "pipelines.standards", "pipelines.quality.rules", "pipelines.quality.checks",
          "pipelines.quality.masking", "pipelines.intake", "pipelines.process", "pipelines.store",
          "pipelines.summary", "pipelines.catalogue.governance", "pipelines.sharing", "pipelines.connected",
          "pipelines.directory", "pipelines.supervision", "pipelines.store.migrate", "pipelines.quality.store_rules",
          "pipelines.access", "pipelines.access.cli", "pipelines.quality.context", "pipelines.quality.corrections",
          "pipelines.quality.inspection", "pipelines.quality.outcome", "pipelines.evaluation",
          "pipelines.evaluation.periods", "pipelines.evaluation.records", "pipelines.evaluation.config",
          "pipelines.evaluation.scorecard", "pipelines.evaluation.violations", "pipelines.evaluation.contractors",
          "pipelines.evaluation.verdicts", "pipelines.evaluation.service", "pipelines.evaluation.report",
          "pipelines.opendata", "pipelines.entrustment", "pipelines.catalogue.contractors",
          "pipelines.demo.showcase", "pipelines.values", "pipelines.serving.service", "pipelines.serving.api",
          "pipelines.serving.extracts", "pipelines.serving.usage", "pipelines.serving.cli", "pipelines.serving.server"]


def _python(code: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, env=env,
                          check=True)
    return done.stdout.strip()


def test_generic_top_level_packages_are_ours_from_the_repo_root_and_elsewhere(tmp_path: Path) -> None:
    code = ("import json, assets, resources, expectations, pipelines; "
            "print(json.dumps([m.__file__ for m in (assets, resources, expectations, pipelines)]))")
    for cwd in (REPO, tmp_path):
        for path in json.loads(_python(code, cwd)):
            assert Path(path).resolve().is_relative_to(REPO), path


def test_domain_modules_do_not_import_dagster_or_gx() -> None:
    code = (f"import json, sys; import {', '.join(DOMAIN)}; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'great_expectations'))))")
    assert json.loads(_python(code)) == []


def test_importing_the_entry_point_reads_no_environment_and_opens_nothing(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "GOVDATA_CATALOGUE_DIR": str(tmp_path / "missing"),
           "GOVDATA_STORE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    code = "import pipelines.definitions, assets.units, resources.platform; print('imported')"
    assert _python(code, env=env) == "imported"
