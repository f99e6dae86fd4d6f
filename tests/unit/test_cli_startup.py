"""`aurora --help` (and every command's start) stays fast: no heavy library is imported."""

from __future__ import annotations

import subprocess
import sys

from aurora_pipelines.settings import REPO_DIR

HEAVY = ("pandas", "numpy", "mlflow", "pyspark", "sqlalchemy", "dagster", "sklearn")


def test_aurora_help_imports_no_pandas_mlflow_spark_sqlalchemy_or_dagster():
    probe = (
        "import sys\n"
        "from aurora_pipelines.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO_DIR
    ).stdout
    assert "HEAVY []" in out, out.splitlines()[-1]
