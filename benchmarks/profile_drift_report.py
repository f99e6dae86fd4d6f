"""Where the Evidently HTML report's time goes: CPU seconds per phase, top functions by cProfile.

The drift report runs Evidently's `DataDriftPreset` on bounded samples (`EVIDENTLY_SAMPLE_ROWS`).
This splits `evidently_drift` into report.run / save_html / dict and prints the cumulative
top of `report.run`, on synthetic N x 30 samples (25 numeric, 5 categorical, one shifted).
CPU time (user+sys of this process), not wall time: the machine is shared.

Usage: python benchmarks/profile_drift_report.py [--rows 20000] [--top 25]
"""

import argparse
import cProfile
import pstats
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd


def samples(rows: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    rng = np.random.default_rng(0)
    numeric = {f"n{i}": rng.normal(size=rows) for i in range(25)}
    categorical = {f"c{i}": rng.choice(list("abcde"), rows).astype(object) for i in range(5)}
    reference = pd.DataFrame(numeric | categorical)
    current = reference.sample(frac=1, random_state=1).reset_index(drop=True)
    current["n0"] += 0.5
    kinds = {c: "numeric" if c in numeric else "categorical" for c in reference}
    return reference, current, kinds


def timed(label: str, call: Callable[[], Any]) -> Any:
    cpu, wall = time.process_time(), time.perf_counter()
    result = call()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{label:10s} {cpu:7.2f} s CPU {wall:7.2f} s wall")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference, current, kinds = samples(args.rows)
    definition = DataDefinition(
        numerical_columns=[c for c, k in kinds.items() if k == "numeric"],
        categorical_columns=[c for c, k in kinds.items() if k == "categorical"],
    )
    report = Report([DataDriftPreset(columns=list(kinds), drift_share=0.5)], include_tests=True)
    profiler = cProfile.Profile()
    profiler.enable()
    snapshot = timed(
        "run",
        lambda: report.run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        ),
    )
    profiler.disable()
    timed("save_html", lambda: snapshot.save_html("/dev/null"))
    timed("dict", snapshot.dict)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
