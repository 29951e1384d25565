"""Which Spark SQL settings gpurel chooses for a session, and which it leaves to Spark."""

from __future__ import annotations

from gpurel.engines import local_defaults


def _none(key: str) -> bool:
    return False


def test_local_mode_gets_a_partition_per_core_and_no_adaptive_execution() -> None:
    assert dict(local_defaults("local[2]", _none, 2)) == {
        "spark.sql.shuffle.partitions": "2",
        "spark.sql.adaptive.enabled": "false",
    }
    assert dict(local_defaults("local[*]", _none, 16))["spark.sql.shuffle.partitions"] == "16"


def test_a_setting_of_the_configuration_is_kept() -> None:
    configured = {"spark.sql.shuffle.partitions"}
    chosen = dict(local_defaults("local[4]", configured.__contains__, 4))
    assert chosen == {"spark.sql.adaptive.enabled": "false"}


def test_a_cluster_keeps_sparks_defaults() -> None:
    for master in ("spark://head:7077", "yarn", "k8s://https://api:6443", None):
        assert local_defaults(master, _none, 64) == []
