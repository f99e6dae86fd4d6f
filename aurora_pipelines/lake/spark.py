"""One Spark session per process, created on first use (never at import).

A local JVM costs ~6-11 s to start, so every step of an in-process run shares this session.
The catalog is a persistent Hive metastore (embedded Derby) under AURORA_HOME, so tables
registered by one process are visible to the next.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aurora_pipelines.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Debian's libpostgresql-jdbc-java; AURORA_SPARK_JARS (comma-separated) adds or replaces jars.
JDBC_JARS = ("/usr/share/java/postgresql.jar",)

_lock = threading.Lock()
_session: SparkSession | None = None
_session_home: str | None = None


def extra_jars() -> list[str]:
    """Jars for Spark's classpath: AURORA_SPARK_JARS if set, else JDBC drivers found locally."""
    configured = os.environ.get("AURORA_SPARK_JARS")
    if configured is not None:
        return [j for j in configured.split(",") if j.strip()]
    return [j for j in JDBC_JARS if os.path.exists(j)]


def _builder(settings: Settings, hive: bool = True, extra_config: dict[str, Any] | None = None):
    from pyspark.sql import SparkSession

    root = settings.root
    root.mkdir(parents=True, exist_ok=True)
    # Python workers (mapInPandas, UDFs) must run this interpreter, with this venv's packages.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    jars = extra_jars()
    if jars:
        builder = builder.config("spark.jars", ",".join(jars))
    builder = (
        builder.master(settings.spark_master)
        .appName("aurora")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.pyspark.python", os.environ["PYSPARK_PYTHON"])
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Batches of 100k rows to pandas UDFs (default 10k): batch scoring's per-batch cost
        # (Arrow framing, DataFrame set-up, sklearn call overhead) paid 10x less often.
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "100000")
        .config("spark.driver.memory", os.environ.get("AURORA_SPARK_DRIVER_MEMORY", "4g"))
    )
    for name, value in (extra_config or {}).items():
        builder = builder.config(name, value)
    if not hive:
        # In-memory catalog with its own warehouse: embedded Derby admits one process at a
        # time, and a dbt subprocess must not fight the Dagster process for it.
        warehouse = dbt_warehouse_dir(settings)
        return builder.config("spark.sql.warehouse.dir", str(warehouse)).config(
            "spark.sql.catalogImplementation", "in-memory"
        )
    builder = builder.config("spark.sql.warehouse.dir", str(settings.warehouse_dir))
    if settings.metastore_url:
        builder = _shared_metastore(builder, settings.metastore_url, jars)
    else:
        builder = builder.config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={settings.metastore_dir};create=true",
        ).config("spark.driver.extraJavaOptions", f"-Dderby.system.home={root}")
    return builder.enableHiveSupport()


def _shared_metastore(builder: Any, url: str, jars: list[str]) -> Any:
    """A Hive metastore in a database every process shares (the cluster profile): each Dagster
    step and run worker is its own Spark driver, and embedded Derby admits only one of them.
    The driver's JDBC jar goes on the driver classpath: DataNucleus loads it from there."""
    if not url.startswith("jdbc:postgresql:"):
        raise ValueError(f"AURORA_METASTORE_URL={url!r}: only jdbc:postgresql://host:port/db")
    driver_jars = [j for j in jars if "postgresql" in os.path.basename(j)]
    if not driver_jars:
        raise FileNotFoundError(
            "AURORA_METASTORE_URL needs the PostgreSQL JDBC driver: install "
            "libpostgresql-jdbc-java (/usr/share/java/postgresql.jar) or list it in "
            "AURORA_SPARK_JARS"
        )
    hadoop = {
        "javax.jdo.option.ConnectionURL": url,
        "javax.jdo.option.ConnectionDriverName": "org.postgresql.Driver",
        "javax.jdo.option.ConnectionUserName": os.environ.get("AURORA_METASTORE_USER", ""),
        "javax.jdo.option.ConnectionPassword": os.environ.get("AURORA_METASTORE_PASSWORD", ""),
        # A fresh database gets its schema on first use (the wheel has no schematool scripts).
        # Without foreign keys: DataNucleus adds them from a second connection while the first
        # holds row locks on the referenced table, which deadlocks on PostgreSQL.
        "datanucleus.schema.autoCreateAll": "true",
        "datanucleus.schema.autoCreateConstraints": "false",
        "datanucleus.autoCreateConstraints": "false",
        "datanucleus.rdbms.constraintCreateMode": "JDO2",
        "hive.metastore.schema.verification": "false",
    }
    for name, value in hadoop.items():
        builder = builder.config(f"spark.hadoop.{name}", value)
    return builder.config("spark.driver.extraClassPath", ":".join(driver_jars))


def dbt_warehouse_dir(settings: Settings) -> Path:
    """Where the dbt spark target stages its tables (one directory per process)."""
    return settings.root / "dbt" / "spark_warehouse" / str(os.getpid())


def get_spark(
    settings: Settings, hive: bool = True, extra_config: dict[str, Any] | None = None
) -> SparkSession:
    """The process-wide session for this AURORA_HOME (restarted if the home changed).

    `hive=False` (the dbt spark target's own process) uses an in-memory catalog instead of
    the persistent Hive metastore. `extra_config` (the Spark resource's `spark_config`) applies
    when the session starts; a running session keeps its own.
    """
    global _session, _session_home
    home = str(settings.root)
    with _lock:
        if _session is not None and _session_home != home:
            _session.stop()
            _session = None
        if _session is None:
            _session = _builder(settings, hive, extra_config).getOrCreate()
            _session.sparkContext.setLogLevel("ERROR")
            _session_home = home
        return _session


def stop_spark() -> None:
    global _session, _session_home
    with _lock:
        if _session is not None:
            _session.stop()
        _session, _session_home = None, None
