"""Keep the dbt manifest (what dagster-dbt reads to build assets) in step with the project.

`make install` builds it once; the CLI rebuilds it only when a model, macro or YAML file is
newer, so loading the code location never waits for dbt unless the project changed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from aurora_pipelines.errors import SpecError

WATCHED = ("models", "macros", "tests", "dbt_project.yml", "profiles.yml")


def manifest_path(project_dir: Path) -> Path:
    return project_dir / "target" / "manifest.json"


def manifest_is_stale(project_dir: Path) -> bool:
    manifest = manifest_path(project_dir)
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    for name in WATCHED:
        root = project_dir / name
        files = [root] if root.is_file() else root.rglob("*") if root.exists() else []
        if any(f.is_file() and f.stat().st_mtime > built for f in files):
            return True
    return False


def dbt_executable(name: str = "aurora-dbt") -> str:
    """`aurora-dbt` (dbt with staged Delta commits and the local spark target) by default."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def dbt_cli_executable() -> str:
    """Plain dbt, for commands that execute no SQL (parse, docs from a built catalog)."""
    return dbt_executable("dbt")


def ensure_manifest(project_dir: Path, aurora_home: Path, target: str = "duckdb") -> Path:
    """Run `dbt parse` when the manifest is missing or older than the project's files."""
    if manifest_is_stale(project_dir):
        env = {**os.environ, "AURORA_HOME": str(aurora_home)}
        done = subprocess.run(
            [
                dbt_cli_executable(),
                "parse",
                "--project-dir",
                str(project_dir),
                "--profiles-dir",
                str(project_dir),
                "--target",
                target,
                "--quiet",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            message = (done.stdout + done.stderr).strip().splitlines()[-5:]
            raise SpecError(
                "the dbt project does not parse; fix it and retry: " + " | ".join(message)
            )
    return manifest_path(project_dir)
