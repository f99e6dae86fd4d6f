"""Clustering: Aurora's automatic k vs PyCaret-style defaults and an exhaustive sweep; and the
time + peak RSS to train and register a clustering model on 1M x 20.

Quality, per table (make_blobs with known k; sklearn's iris, wine and breast-cancer tables
with their classes as the truth), all on the same preprocessing (Aurora's: median impute,
standard scaling):
- Aurora: `train_unsupervised` with its defaults (k-means, GMM, agglomerative; k in
  [2, 10] by silhouette on a seeded 5,000-row sample; the algorithm by silhouette);
- PyCaret-style: `KMeans(n_clusters=4)` (PyCaret's `create_model("kmeans")` default);
- sweep: k-means for every k in [2, 10] on all rows, exact silhouette; its best k.
Reported: k, silhouette (all rows), adjusted Rand index vs the truth, seconds; whether
Aurora's k is within one of the sweep's.

Scale: in a fresh process, `train_unsupervised` (k-means only, k searched on the sample,
full fit with mini-batch k-means) and `log_and_register_unsupervised` into a new SQLite
MLflow store, on N x 20 make_blobs rows; against a plain `MiniBatchKMeans` fit at the
same k in a second fresh process (the baseline). Seconds and peak RSS of each process.

Usage: python benchmarks/bench_clustering.py [--rows 1000000] [--out BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))
from bench_profiling import run_measured  # noqa: E402
from report import update_section  # noqa: E402

SECTION = "clustering"
GIB = 1024**3
WIDTH = 20
SCALE_CENTERS = 6


def _tables():
    import pandas as pd
    from sklearn.datasets import load_breast_cancer, load_iris, load_wine, make_blobs

    X, y = make_blobs(3000, centers=5, n_features=8, cluster_std=1.5, random_state=11)
    yield "make_blobs (k=5)", pd.DataFrame(X, columns=[f"x{i}" for i in range(8)]), y
    for name, loader in (
        ("iris", load_iris),
        ("wine", load_wine),
        ("breast_cancer", load_breast_cancer),
    ):
        data = loader(as_frame=True)
        yield name, data.data, data.target.to_numpy()


def quality() -> list[dict]:
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, silhouette_score
    from threadpoolctl import threadpool_limits

    from aurora_pipelines.specs import UnsupervisedSpec
    from aurora_pipelines.training.unsupervised.estimators import unsupervised_outputs
    from aurora_pipelines.training.unsupervised.preprocess import build_preprocess, select_inputs
    from aurora_pipelines.training.unsupervised.trainer import train_unsupervised

    rows = []
    for name, frame, truth in _tables():
        inputs = select_inputs(frame, exclude=[])
        with threadpool_limits(limits=1):  # the same threads for every contender
            Z = np.asarray(build_preprocess(inputs.features, 0).fit_transform(inputs.X))
            t0 = time.perf_counter()
            result = train_unsupervised(
                frame, problem_type="clustering", settings=UnsupervisedSpec(), seed=0
            )
            aurora_s = time.perf_counter() - t0
            _, aurora_labels, _ = unsupervised_outputs(result.model, frame)
            t0 = time.perf_counter()
            pycaret = KMeans(n_clusters=4, random_state=0, n_init="auto").fit_predict(Z)
            pycaret_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            sweep = {}
            for k in range(2, 11):
                labels = KMeans(n_clusters=k, random_state=0, n_init="auto").fit_predict(Z)
                sweep[k] = (silhouette_score(Z, labels), labels)
            sweep_s = time.perf_counter() - t0
        best_k = max(sweep, key=lambda k: sweep[k][0])
        k = int(result.params["k"])
        rows.append(
            {
                "table": name,
                "rows": len(frame),
                "true_k": int(len(set(truth))),
                "aurora_algorithm": result.best_algorithm,
                "aurora_k": k,
                "sweep_k": best_k,
                "within_one": abs(k - best_k) <= 1,
                "aurora_silhouette": float(silhouette_score(Z, aurora_labels)),
                "pycaret_silhouette": float(silhouette_score(Z, pycaret)),
                "sweep_silhouette": float(sweep[best_k][0]),
                "aurora_ari": float(adjusted_rand_score(truth, aurora_labels)),
                "pycaret_ari": float(adjusted_rand_score(truth, pycaret)),
                "sweep_ari": float(adjusted_rand_score(truth, sweep[best_k][1])),
                "aurora_s": aurora_s,
                "pycaret_s": pycaret_s,
                "sweep_s": sweep_s,
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def _scale_frame(rows: int):
    import pandas as pd
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(rows, centers=SCALE_CENTERS, n_features=WIDTH, random_state=5)
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(WIDTH)])


def child_aurora(rows: int, home: str) -> None:
    from aurora_pipelines.registry.mlflow_registry import _client
    from aurora_pipelines.registry.unsupervised import log_and_register_unsupervised
    from aurora_pipelines.specs import UnsupervisedSpec
    from aurora_pipelines.training.unsupervised.trainer import train_unsupervised

    frame = _scale_frame(rows)
    # An existing store: its one-time schema migration (~30-50 s here) is not registration.
    uri = f"sqlite:///{home}/mlflow.db"
    _client(uri).search_experiments()
    t0 = time.perf_counter()
    result = train_unsupervised(
        frame, problem_type="clustering", settings=UnsupervisedSpec(algorithms=["kmeans"]), seed=0
    )
    train_s = time.perf_counter() - t0
    os.environ["MLFLOW_TRACKING_URI"] = ""
    registered = log_and_register_unsupervised(
        result,
        tracking_uri=uri,
        artifact_root=Path(home) / "artifacts",
        experiment_name="bench_clustering",
        registered_model_name="bench_clustering",
        training_data=frame,
        feature_table="make_blobs",
        feature_table_version=0,
        tags={},
    )
    total_s = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "k": result.params["k"],
                "fitted_as": result.params["fitted_as"],
                "train_s": train_s,
                "total_s": total_s,
                "version": registered.version,
            }
        )
    )


def child_baseline(rows: int, k: int) -> None:
    from sklearn.cluster import MiniBatchKMeans

    frame = _scale_frame(rows)
    t0 = time.perf_counter()
    MiniBatchKMeans(n_clusters=k, random_state=0, n_init=3, batch_size=4096).fit(frame.to_numpy())
    print(json.dumps({"total_s": time.perf_counter() - t0}))


def scale(rows: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    me = [sys.executable, __file__]
    with tempfile.TemporaryDirectory(prefix="bench-clustering-") as home:
        aurora, aurora_wall, aurora_rss = run_measured(
            [*me, "--child", "aurora", "--rows", str(rows), "--home", home], env
        )
    base, base_wall, base_rss = run_measured(
        [*me, "--child", "baseline", "--rows", str(rows), "--k", str(aurora["k"])], env
    )
    return {
        "rows": rows,
        "aurora": {**aurora, "wall_s": aurora_wall, "peak_rss_gib": aurora_rss / GIB},
        "baseline": {**base, "wall_s": base_wall, "peak_rss_gib": base_rss / GIB},
    }


def markdown(quality_rows: list[dict], scaled: dict) -> str:
    lines = [
        "## Clustering: automatic k, and train + register at scale "
        "(`benchmarks/bench_clustering.py`)",
        "",
        f"{platform.machine()}, {os.cpu_count()} cores shared, one BLAS/OpenMP thread for every "
        "contender. Silhouette on all rows of the scaled inputs; ARI = adjusted Rand index vs "
        "the table's classes (breast_cancer / wine / iris classes are not necessarily the "
        "natural clusters). PyCaret-style = `KMeans(n_clusters=4)`; sweep = k-means at every "
        "k in [2, 10] on all rows, best exact silhouette.",
        "",
        "| table | rows | true k | Aurora (algorithm, k) | sweep k | within 1 | silhouette "
        "Aurora / PyCaret / sweep | ARI Aurora / PyCaret / sweep "
        "| seconds Aurora / PyCaret / sweep |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in quality_rows:
        lines.append(
            f"| {r['table']} | {r['rows']:,} | {r['true_k']} | {r['aurora_algorithm']}, "
            f"{r['aurora_k']} | {r['sweep_k']} | {'yes' if r['within_one'] else 'no'} | "
            f"{r['aurora_silhouette']:.3f} / {r['pycaret_silhouette']:.3f} / "
            f"{r['sweep_silhouette']:.3f} | {r['aurora_ari']:.3f} / {r['pycaret_ari']:.3f} / "
            f"{r['sweep_ari']:.3f} | {r['aurora_s']:.2f} / {r['pycaret_s']:.2f} / "
            f"{r['sweep_s']:.2f} |"
        )
    a, b = scaled["aurora"], scaled["baseline"]
    lines += [
        "",
        f"Scale: {scaled['rows']:,} x {WIDTH} make_blobs ({SCALE_CENTERS} centres), each "
        "contender in a fresh process (wall clock includes imports and data generation):",
        "",
        "| contender | k | seconds (timed part) | process wall s | peak RSS GiB |",
        "|---|---|---|---|---|",
        f"| Aurora: k search on 5,000 rows + full fit ({a['fitted_as']}) + MLflow register | "
        f"{a['k']} | {a['total_s']:.1f} (train {a['train_s']:.1f}) | {a['wall_s']:.1f} | "
        f"{a['peak_rss_gib']:.2f} |",
        f"| plain MiniBatchKMeans fit at the same k | {a['k']} | {b['total_s']:.1f} | "
        f"{b['wall_s']:.1f} | {b['peak_rss_gib']:.2f} |",
        f"| ratio Aurora / plain | | {a['total_s'] / b['total_s']:.2f}x | "
        f"{a['wall_s'] / b['wall_s']:.2f}x | {a['peak_rss_gib'] / b['peak_rss_gib']:.2f}x |",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    parser.add_argument("--child")
    parser.add_argument("--home")
    parser.add_argument("--k", type=int)
    args = parser.parse_args()
    if args.child == "aurora":
        return child_aurora(args.rows, args.home)
    if args.child == "baseline":
        return child_baseline(args.rows, args.k)
    quality_rows = quality()
    scaled = scale(args.rows)
    text = markdown(quality_rows, scaled)
    print(text)
    update_section(args.out, SECTION, text)


if __name__ == "__main__":
    main()
