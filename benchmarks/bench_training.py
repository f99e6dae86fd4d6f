"""Aurora's training vs FLAML AutoML at the same wall-clock budget; Spark MLlib vs sklearn.

Part 1 — quality. For each dataset: one seeded 75/25 split; Aurora (recommendations →
plan → Optuna-tuned CV, `hpo.timeout_seconds` = budget) and FLAML (`AutoML.fit`,
`time_budget` = budget, its default estimators that are installed: lgbm, rf, extra_tree,
lrl1...) each train on the 75% and are scored on the same 25%. Ratio > 1 means Aurora is
better (higher-is-better metrics: aurora / flaml; RMSE: flaml / aurora). Datasets: the
ones scikit-learn ships (no download), Aurora's synthetic credit data and the documented
stand-in for a 6%-positive table of 85 ordinal features (benchmarks/insurance_table.py).
Each row also scores the plain baselines (`HistGradientBoosting*()` and logistic / linear
regression with defaults) on the same split: Aurora's default path must not fall below them.

Part 2 — scale. Train time of logistic regression on Spark MLlib (local[2]) vs scikit-learn
on the same rows, as the row count grows.

Both sides run single-threaded BLAS/OpenMP (n_jobs=1) so a shared machine's load does not
decide the result. FLAML is a benchmark-only dependency: `pip install -e '.[bench]'`.

Usage: python benchmarks/bench_training.py [--budget 30] [--spark-rows 100000,1000000]
       [--skip-spark] [--out BENCHMARKS.md]
"""

from __future__ import annotations

import os

# Before numpy/sklearn/lightgbm load: one thread each, for both contestants.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/insurance_table.py
START, END = "<!-- bench_training:start -->", "<!-- bench_training:end -->"


@dataclass
class Dataset:
    name: str
    frame: pd.DataFrame
    target: str
    problem_type: str
    metric: str  # roc_auc or rmse
    note: str


def datasets() -> list[Dataset]:
    from sklearn import datasets as sk

    from aurora_pipelines.sources.sample_data import generate_credit_data

    def frame_of(bunch, target: pd.Series) -> pd.DataFrame:
        data = pd.DataFrame(bunch.data, columns=[f"f_{c}" for c in bunch.feature_names])
        return data.assign(target=target.to_numpy())

    cancer = sk.load_breast_cancer()
    wine = sk.load_wine()
    digits = sk.load_digits()
    diabetes = sk.load_diabetes()
    from insurance_table import generate_insurance_table

    credit = generate_credit_data(20_000, seed=42).drop(
        columns=["application_id", "application_date", "last_delinquency_date"]
    )
    return [
        Dataset(
            "breast_cancer",
            frame_of(cancer, pd.Series(cancer.target)),
            "target",
            "classification",
            "roc_auc",
            "569 rows x 30, binary",
        ),
        Dataset(
            "wine (class 1 vs rest)",
            frame_of(wine, pd.Series(wine.target == 1).astype(int)),
            "target",
            "classification",
            "roc_auc",
            "178 rows x 13, binary",
        ),
        Dataset(
            "digits (>= 5 vs < 5)",
            frame_of(digits, pd.Series(digits.target >= 5).astype(int)),
            "target",
            "classification",
            "roc_auc",
            "1,797 rows x 64, binary",
        ),
        Dataset(
            "diabetes",
            frame_of(diabetes, pd.Series(diabetes.target)),
            "target",
            "regression",
            "rmse",
            "442 rows x 10, regression",
        ),
        Dataset(
            "credit (Aurora sample)",
            credit.rename(columns={"default_flag": "target"}),
            "target",
            "classification",
            "roc_auc",
            "20,000 rows x 17 mixed types, 12% positives",
        ),
        Dataset(
            "insurance stand-in",
            generate_insurance_table(),
            "target",
            "classification",
            "roc_auc",
            "5,822 rows x 85 ordinal, 6% positives (benchmarks/insurance_table.py)",
        ),
    ]


def _split(ds: Dataset, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    stratify = ds.frame[ds.target] if ds.problem_type == "classification" else None
    return train_test_split(ds.frame, test_size=0.25, random_state=seed, stratify=stratify)


def _score(ds: Dataset, y: pd.Series, pred: np.ndarray) -> float:
    from sklearn.metrics import mean_squared_error, roc_auc_score

    if ds.metric == "roc_auc":
        return float(roc_auc_score(y, pred))
    return float(np.sqrt(mean_squared_error(y, pred)))


def run_aurora(
    ds: Dataset, train: pd.DataFrame, test: pd.DataFrame, budget: float
) -> tuple[float, float, str]:
    from aurora_pipelines.recommend import recommend_for_frame, resolve_plan
    from aurora_pipelines.specs import ExperimentSpec
    from aurora_pipelines.training.hpo import HpoConfig
    from aurora_pipelines.training.trainer import train_experiment

    spec = ExperimentSpec.model_validate(
        {
            "name": "bench",
            "team": "bench",
            "owner": "bench",
            "source": {"kind": "csv", "path": "x"},
            "target": ds.target,
            "problem_type": ds.problem_type,
            "features": {"dbt_model": "x"},
            # The benchmark's metric is pinned; everything else is Aurora's own choice.
            "training": {"primary_metric": ds.metric, "holdout_fraction": 0},
        }
    )
    started = time.perf_counter()
    plan = resolve_plan(spec, recommend_for_frame(train, spec))
    kwargs = plan.train_kwargs()
    kwargs["hpo"] = HpoConfig(n_trials=10_000, timeout_seconds=budget, pruning=True)
    result = train_experiment(
        train.reset_index(drop=True), target=ds.target, problem_type=ds.problem_type, **kwargs
    )
    seconds = time.perf_counter() - started
    X = test.drop(columns=[ds.target])
    if ds.problem_type == "classification":
        pred = result.model.predict_proba(X)[:, 1]
    else:
        pred = result.model.predict(X)
    tried = sum(1 for t in result.trials if t.state == "COMPLETE")
    return _score(ds, test[ds.target], pred), seconds, f"{result.best_algorithm} ({tried} configs)"


def run_flaml(
    ds: Dataset, train: pd.DataFrame, test: pd.DataFrame, budget: float
) -> tuple[float, float, str]:
    from flaml import AutoML

    automl = AutoML()
    X = train.drop(columns=[ds.target])
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        automl.fit(
            X,
            train[ds.target],
            task="classification" if ds.problem_type == "classification" else "regression",
            metric="roc_auc" if ds.metric == "roc_auc" else "rmse",
            time_budget=budget,
            seed=0,
            n_jobs=1,
            verbose=0,
        )
    seconds = time.perf_counter() - started
    X_test = test.drop(columns=[ds.target])
    if ds.problem_type == "classification":
        pred = automl.predict_proba(X_test)[:, 1]
    else:
        pred = automl.predict(X_test)
    return _score(ds, test[ds.target], pred), seconds, str(automl.best_estimator)


def run_baselines(ds: Dataset, train: pd.DataFrame, test: pd.DataFrame) -> dict[str, float]:
    """Test score of plain `HistGradientBoosting*()` and a plain linear model, no preprocessing
    beyond what they need (median imputation, scaling and one-hot for the linear model)."""
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    X, y = train.drop(columns=[ds.target]), train[ds.target]
    X_test = test.drop(columns=[ds.target])
    numeric = make_column_selector(dtype_include="number")
    other = make_column_selector(dtype_exclude="number")
    classify = ds.problem_type == "classification"
    trees = make_pipeline(
        make_column_transformer(
            ("passthrough", numeric),
            (OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), other),
        ),
        HistGradientBoostingClassifier() if classify else HistGradientBoostingRegressor(),
    )
    linear = make_pipeline(
        make_column_transformer(
            (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (OneHotEncoder(handle_unknown="ignore"), other),
        ),
        LogisticRegression(max_iter=1000) if classify else LinearRegression(),
    )
    scores = {}
    for name, model in (("hgb", trees), ("linear", linear)):
        model.fit(X, y)
        pred = model.predict_proba(X_test)[:, 1] if classify else model.predict(X_test)
        scores[name] = _score(ds, test[ds.target], pred)
    return scores


def _ratio(ds: Dataset, aurora: float, other: float) -> float:
    return aurora / other if ds.metric == "roc_auc" else other / aurora


def quality(budget: float) -> list[str]:
    rows = [
        f"Aurora: tuning budget {budget:.0f} s (`hpo.timeout_seconds`); FLAML: `time_budget` = "
        "Aurora's total wall-clock time (recommendation + tuning + final fit), so FLAML never "
        "gets less time. One seeded 75/25 split; test-set score. Ratio > 1.00 = Aurora better "
        "(ROC-AUC: aurora/flaml; RMSE: flaml/aurora).",
        "",
        "Plain HGB = `HistGradientBoosting*()` defaults, plain linear = logistic / linear "
        "regression defaults, fit on the same 75% (the never-below-a-baseline check: "
        "`vs best baseline`).",
        "",
        "| dataset | metric | Aurora | FLAML | ratio | plain HGB | plain linear "
        "| vs best baseline | Aurora s | FLAML s | Aurora best | FLAML best |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ratios, floors = [], []
    for ds in datasets():
        train, test = _split(ds)
        a_score, a_sec, a_best = run_aurora(ds, train, test, budget)
        # FLAML gets at least the wall-clock time Aurora used in total (its budget + fitting).
        f_score, f_sec, f_best = run_flaml(ds, train, test, max(budget, a_sec))
        ratio = _ratio(ds, a_score, f_score)
        ratios.append(ratio)
        plain = run_baselines(ds, train, test)
        floor = min(_ratio(ds, a_score, value) for value in plain.values())
        floors.append(floor)
        line = (
            f"| {ds.name} ({ds.note}) | {ds.metric} | {a_score:.4f} | {f_score:.4f} | "
            f"{ratio:.3f}x | {plain['hgb']:.4f} | {plain['linear']:.4f} | {floor:.3f}x | "
            f"{a_sec:.0f} | {f_sec:.0f} | {a_best} | {f_best} |"
        )
        print(line, flush=True)
        rows.append(line)
    mean = float(np.mean(ratios))
    rows += [
        "",
        f"**Mean ratio: {mean:.3f}x** (target >= 1.00x); lowest {min(ratios):.3f}x "
        f"(target >= 0.99x). Versus the best plain baseline: lowest {min(floors):.3f}x.",
    ]
    print(f"mean ratio {mean:.3f}", flush=True)
    return rows


def spark_scaling(row_counts: list[int]) -> list[str]:
    from aurora_pipelines.training.spark_ml import spark_vs_sklearn_seconds

    lines = [
        "Logistic regression (50 iterations) on 10 normal features with a logistic label: "
        "Spark MLlib (`local[2]`, data generated and cached in Spark, fit timed) vs "
        "scikit-learn (numpy in memory, fit timed).",
        "",
        "| rows | Spark MLlib s | sklearn s | Spark / sklearn |",
        "|---|---|---|---|",
    ]
    for rows in row_counts:
        spark_s, sklearn_s = spark_vs_sklearn_seconds(rows)
        line = f"| {rows:,} | {spark_s:.1f} | {sklearn_s:.1f} | {spark_s / sklearn_s:.2f}x |"
        print(line, flush=True)
        lines.append(line)
    return lines


def _previous_spark_section(out: Path) -> list[str]:
    """The Spark scaling table of the last full run, kept when this run skips Spark."""
    text = out.read_text() if out.exists() else ""
    match = re.search(r"\n(## Training: Spark MLlib.*?\n\|[^\n]*\n(?:\|[^\n]*\n)*)", text, re.S)
    return ["", *match.group(1).rstrip("\n").split("\n")] if match else []


def write_section(out: Path, lines: list[str]) -> None:
    section = "\n".join([START, *lines, END])
    text = out.read_text() if out.exists() else "# Benchmarks\n"
    if START in text:
        text = re.sub(
            re.escape(START) + r".*?" + re.escape(END), lambda _: section, text, flags=re.S
        )
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    out.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--spark-rows", default="100000,1000000")
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args()
    os.environ.setdefault("AURORA_HOME", tempfile.mkdtemp(prefix="aurora-bench-"))

    lines = ["## Training: Aurora vs FLAML AutoML", "", *quality(args.budget)]
    if args.skip_spark:
        lines += _previous_spark_section(args.out)
    else:
        counts = [int(n) for n in args.spark_rows.split(",") if n]
        lines += [
            "",
            "## Training: Spark MLlib vs scikit-learn as rows grow",
            "",
            *spark_scaling(counts),
        ]
    lines += ["", f"Command: `python benchmarks/bench_training.py --budget {args.budget:.0f}`."]
    write_section(args.out, lines)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
