"""serve/batch_scores as one stage function: score a day with the routed versions, write it.

The champion always scores, the challenger too when one is deployed (deploy/routing.py); the
day's rows are replaced atomically in the Delta table (serving/batch.py `write_day`). Under a
local master a small local table is scored in this process (serving/batch_local.py) and Spark
is not started; a cluster, or a large table, scores on Spark's executors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aurora_pipelines.errors import NotFound
from aurora_pipelines.results import JsonValue, MetadataDict

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from aurora_pipelines.registry.model_version import ModelVersion
    from aurora_pipelines.specs import ExperimentSpec


@dataclass
class BatchScoresResult:
    day: str
    rows: int
    time_column: str | None
    champion: ModelVersion
    challenger_version: str | None
    features_version: int
    path: Path
    table_version: int
    engine: str = "spark"  # spark | in-process (serving/batch_local.py)
    summary: dict[str, Any] = field(default_factory=dict)

    def as_metadata(self) -> MetadataDict:
        from aurora_pipelines.serving.batch import is_spark_model

        by = f"time_column {self.time_column}" if self.time_column else "snapshot"
        metadata: MetadataDict = {
            "dagster/row_count": self.rows,
            "partition": self.day,
            "rows_selected_by": by,
            "model_version": self.champion.version,
            "challenger_version": self.challenger_version or "none",
            "model_family": "spark" if is_spark_model(self.champion.model) else "in-process",
            "scoring_engine": self.engine,
            "scoring_features_version": self.features_version,
            "delta_path": self.path,
            "delta_version": self.table_version,
        }
        if not self.champion.is_multiclass:  # multiclass predicts the argmax: no threshold
            metadata["decision_threshold"] = self.champion.decision_threshold
        return {**metadata, **self.summary}


def score_and_write_day(
    spark: Callable[[], SparkSession],
    spec: ExperimentSpec,
    *,
    spark_master: str,
    day: str,
    tracking_uri: str,
    features_path: Path,
    scores_path: Path,
    load_version: Callable[[str], ModelVersion],
    commit_info: dict[str, str] | None = None,
    engine: str = "auto",
) -> BatchScoresResult:
    """Score `day` of the scoring features with the champion (and challenger) and replace that
    day in `scores_path`. `load_version(version)` gives the handle of a registered version;
    `spark()` the session, called only when the day scores on Spark. `engine`: auto (module
    docstring), spark or in-process."""
    from aurora_pipelines.deploy.routing import CHALLENGER, CHAMPION, read_routing
    from aurora_pipelines.lake import delta
    from aurora_pipelines.serving.batch import ScoringModel, day_string, score_day, write_day
    from aurora_pipelines.serving.batch_local import local_engine_applies, score_day_local

    day = day_string(day)
    routing = read_routing(tracking_uri, spec.name)
    if routing.champion is None:
        raise NotFound(f"model '{spec.name}' has no champion; pass the production gate first")
    models = [ScoringModel(CHAMPION, load_version(routing.champion))]
    challenger = routing.challenger if routing.challenger != routing.champion else None
    if challenger:
        models.append(ScoringModel(CHALLENGER, load_version(challenger)))
    if engine not in {"auto", "spark", "in-process"}:
        raise ValueError(f"engine {engine!r}: use auto, spark or in-process")
    features_version = delta.version(features_path)
    time_column, id_column = spec.scoring.time_column, spec.id_column or ""
    if engine == "auto":
        local = local_engine_applies(
            features_path, models, spark_master=spark_master, time_column=time_column
        )
        engine = "in-process" if local else "spark"
    if engine == "in-process":
        day_scores = score_day_local(
            features_path, models, day=day, time_column=time_column,
            id_column=id_column, label_column=spec.target,
        )  # fmt: skip
        table_version = delta.write_partition(
            scores_path, day_scores, column="date", value=day, commit_info=commit_info
        )
    else:
        session = spark()
        scored = score_day(
            delta.read_spark(session, features_path),
            models,
            day=day,
            time_column=time_column,
            id_column=id_column,
            label_column=spec.target,
        )
        table_version = write_day(scored, str(scores_path), day, commit_info=commit_info)
    written = delta.read_partition(
        scores_path, column="date", value=day, columns=["role", "score", "prediction"]
    )
    champion = written[written["role"] == CHAMPION]
    summary: dict[str, Any] = {}
    if len(champion):
        summary["mean_score"] = float(champion["score"].mean())
        if models[0].model.is_multiclass:
            shares = champion["prediction"].value_counts(normalize=True)
            summary["predicted_class_share"] = JsonValue(
                {str(k): float(v) for k, v in shares.items()}
            )
        else:
            summary["positive_rate"] = float(champion["prediction"].mean())
    return BatchScoresResult(
        day=day,
        rows=len(champion),
        time_column=spec.scoring.time_column,
        champion=models[0].model,
        challenger_version=challenger,
        features_version=features_version,
        path=scores_path,
        table_version=table_version,
        engine=engine,
        summary=summary,
    )
