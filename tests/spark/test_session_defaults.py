"""gpurel's Spark session in local mode: its defaults, and the user's settings kept."""

from __future__ import annotations

from typing import Any

from gpurel import engines


def test_local_defaults_fill_only_what_the_configuration_leaves_unset(spark: Any) -> None:
    # the suite's session sets 2 shuffle partitions itself and says nothing about AQE
    spark.conf.unset("spark.sql.adaptive.enabled")
    assert spark.conf.get("spark.sql.adaptive.enabled") == "true"  # Spark's own default
    session = engines.spark_session()
    assert session is spark
    assert session.conf.get("spark.sql.adaptive.enabled") == "false"
    assert session.conf.get("spark.sql.shuffle.partitions") == "2"  # as configured
