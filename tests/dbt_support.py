"""Running the real dbt project (through `aurora-dbt`) in a subprocess, for tests.

Each run gets its own AURORA_HOME, target and log paths, so it neither touches the checkout's
`dbt_project/target` nor leaks state into other tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
AURORA_DBT = str(Path(sys.executable).parent / "aurora-dbt")


def run_dbt(
    home: Path, *args: str, project_dir: Path = PROJECT_DIR, target: str = "duckdb"
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AURORA_HOME": str(home),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "GX_ANALYTICS_ENABLED": "false",
        # A small driver: the dbt spark target starts its own JVM in the subprocess.
        "AURORA_SPARK_DRIVER_MEMORY": "1g",
    }
    command = [
        AURORA_DBT, *args, "--target", target,
        "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
        "--target-path", str(home / f"dbt_target_{target}"), "--log-path", str(home / "dbt_logs"),
    ]  # fmt: skip
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def lake(home: Path, table: str, experiment: str = "credit_default") -> Path:
    return home / "lake" / experiment / table


def copy_project(destination: Path) -> Path:
    """A private copy of the dbt project, for tests that break it on purpose."""
    shutil.copytree(
        PROJECT_DIR, destination, ignore=shutil.ignore_patterns("target", "dbt_packages", "logs")
    )
    return destination
