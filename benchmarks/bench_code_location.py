"""Time loading the code location (what `dagster dev` and every run worker do first).

Each figure is the median of several fresh interpreter starts. The baseline, measured in the
same run, is importing `dagster` and `dagster_dbt` alone: the floor any dbt-backed Dagster code
location pays. The target is under 3 s; the probe also confirms nothing heavy started (no
Spark session, no MLflow, no database driver).

Usage: python benchmarks/bench_code_location.py [--repeats 5] [--out BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from report import update_section  # noqa: E402

TARGET_SECONDS = 3.0
PROBE = """
import json, sys, time
start = time.perf_counter()
{body}
elapsed = time.perf_counter() - start
spark = sys.modules.get("pyspark")
print(json.dumps({{
    "seconds": elapsed,
    "mlflow": "mlflow" in sys.modules,
    "sqlite_driver": "sqlalchemy.dialects.sqlite.pysqlite" in sys.modules,
    "spark_session": bool(spark and spark.SparkContext._active_spark_context),
}}))
"""
BASELINE = "import dagster, dagster_dbt"
LOCATION = "import aurora_pipelines.defs.definitions as d\nd.defs.resolve_asset_graph()"


def _time(body: str, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(body=body)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "AURORA_HOME": home, "GX_ANALYTICS_ENABLED": "false"}
        _time(LOCATION, env)  # compile bytecode once, outside the measurement
        baseline = [_time(BASELINE, env)["seconds"] for _ in range(args.repeats)]
        runs = [_time(LOCATION, env) for _ in range(args.repeats)]
    seconds = statistics.median(r["seconds"] for r in runs)
    floor = statistics.median(baseline)
    heavy = [k for k in ("mlflow", "sqlite_driver", "spark_session") if any(r[k] for r in runs)]
    markdown = f"""## Code-location load (`bench_code_location.py`)

Median of {args.repeats} fresh interpreters; load average {os.getloadavg()[0]:.1f}.

| what | seconds | ratio to baseline |
|---|---|---|
| baseline: `import dagster, dagster_dbt` | {floor:.2f} | 1.00 |
| code location loaded, asset graph resolved | {seconds:.2f} | {seconds / floor:.2f} |

Target under {TARGET_SECONDS:.0f} s: {"met" if seconds < TARGET_SECONDS else "missed"}.
Started while loading: {", ".join(heavy) or "nothing (no Spark session, MLflow or DB driver)"}.
"""
    print(markdown)
    update_section(args.out, "code_location", markdown)


if __name__ == "__main__":
    main()
