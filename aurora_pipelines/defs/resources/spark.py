"""Spark as a resource: dagster-pyspark's PySparkResource, with the session started on first use.

PySparkResource starts its session when a step's resources are set up; ours starts it when an
asset first asks for it (`spark_session`), so a step that needs no Spark pays no JVM start,
and every step of an in-process run shares the process's one session (lake/spark.py).
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from dagster_pyspark import PySparkResource
from pydantic import Field

from aurora_pipelines.settings import Settings


class SparkResource(PySparkResource):
    """The process-wide Spark session for `master`, its Hive catalog under `home`."""

    master: str = Field(default="local[2]", description="local[N] or spark://host:7077")
    home: str = Field(description="AURORA_HOME: the Hive metastore and warehouse live here.")
    spark_config: dict[str, Any] = Field(
        default_factory=dict, description="Extra Spark settings, e.g. spark.executor.memory."
    )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Nothing to start yet: the session starts on first use."""

    @property
    def spark_session(self) -> Any:
        from aurora_pipelines.lake.spark import get_spark

        settings = Settings(home=self.home, spark_master=self.master)
        return get_spark(settings, extra_config=self.spark_config)
