"""The engines that run the analyses: DuckDB in-process, Spark, or any Ibis connection URL.

The analyses are portable Ibis expressions; an engine only decides where they run. DuckDB is
the default. ``spark`` starts (or joins) a PySpark session — local mode unless Spark's own
configuration (``spark-defaults.conf``, ``spark-submit``) names a master — and needs the
``gpurel[spark]`` extra and Java 17. A URL (``duckdb:///path.duckdb``, ``pyspark://``,
``trino://...``, ``bigquery://...``) goes to ``ibis.connect``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gpurel import env_names
from gpurel.errors import ConfigError, GpurelError

if TYPE_CHECKING:
    import ibis

ENGINES = ("duckdb", "spark")
DEFAULT_ENGINE = "duckdb"
ENV_VAR = env_names.ENGINE


def choose(engine: str | None) -> str:
    """``engine``, else ``$GPUREL_ENGINE``, else duckdb; a ConfigError for unknown names."""
    name = (engine or os.environ.get(ENV_VAR) or DEFAULT_ENGINE).lower()
    if name not in ENGINES:
        raise ConfigError(f"unknown engine {name!r}; known: {', '.join(ENGINES)}")
    return name


def is_url(target: str) -> bool:
    """True for an Ibis connection URL such as ``duckdb:///x.duckdb`` or ``pyspark://``."""
    return "://" in target


# Local mode runs every query on one machine's cores: Spark's cluster defaults (200 shuffle
# partitions, adaptive re-planning at each shuffle) cost more there than the work itself.
LOCAL_SQL_DEFAULTS = {
    "spark.sql.shuffle.partitions": "{cores}",
    "spark.sql.adaptive.enabled": "false",
}


def spark_session() -> Any:
    """The active SparkSession or a new one (UTC, no progress bars, errors-only logging).

    In local mode, ``LOCAL_SQL_DEFAULTS`` apply where Spark's own configuration leaves them
    unset: as many shuffle partitions as cores, no adaptive execution.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise GpurelError("the spark engine needs PySpark: install gpurel[spark]") from exc
    session = (
        SparkSession.builder.appName("gpurel")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    context = session.sparkContext
    chosen = context.getConf()
    for key, value in local_defaults(context.master, chosen.contains, context.defaultParallelism):
        session.conf.set(key, value)
    return session


def local_defaults(
    master: str | None, configured: Callable[[str], bool], cores: int
) -> list[tuple[str, str]]:
    """The ``LOCAL_SQL_DEFAULTS`` a session of ``master`` takes: none off local mode, and
    none that Spark's configuration sets (``configured``)."""
    if not (master or "").startswith("local"):
        return []
    return [
        (key, value.format(cores=cores))
        for key, value in LOCAL_SQL_DEFAULTS.items()
        if not configured(key)
    ]


def connect(engine: str) -> ibis.BaseBackend:
    """An empty session of ``engine``: in-memory DuckDB, or PySpark on ``spark_session``."""
    import ibis  # the engine's own modules: only when a warehouse is opened

    if choose(engine) == "spark":
        return ibis.pyspark.connect(spark_session())
    return ibis.duckdb.connect()


def connect_url(url: str, *, read_only: bool = False) -> ibis.BaseBackend:
    """The Ibis backend a connection URL names; ``read_only`` opens a DuckDB file read-only
    (other engines' permissions are their own)."""
    import ibis

    options = {"read_only": True} if read_only and url.startswith("duckdb:") else {}
    try:
        return ibis.connect(url, **options)
    except Exception as exc:  # each backend raises its own family
        raise GpurelError(f"{url}: cannot connect: {exc}") from exc
