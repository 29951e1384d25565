"""Warning when slurmdbd's PrivateData hides jobs or events from the collecting user."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gpurel.collect.access import privacy_warning

Ask = Callable[[list[str]], str]


def slurm(private: str, level: str | None = "None") -> tuple[list[list[str]], Ask]:
    """A fake ``ask`` answering sacctmgr like slurmdbd with ``PrivateData=private``."""
    asked: list[list[str]] = []

    def ask(args: list[str]) -> str:
        asked.append(args)
        if "configuration" in args:
            return (
                "PrivateData            = none\n\nSlurmDBD configuration:\n"
                f"PrivateData            = {private}\nSlurmUser              = slurm(64030)\n"
            )
        return "AdminLevel\n" + ("" if level is None else f"{level}\n")

    return asked, ask


def test_nothing_private_needs_no_privilege() -> None:
    asked, ask = slurm("none")
    assert privacy_warning(ask, "gpurel", 1000) is None
    assert len(asked) == 1


@pytest.mark.parametrize("private", ["jobs", "events,jobs", "accounts,events"])
def test_hidden_jobs_or_events_need_an_operator(private: str) -> None:
    _, ask = slurm(private, level="None")
    warning = privacy_warning(ask, "gpurel", 1000)
    assert warning is not None
    assert f"PrivateData={private}" in warning and "AdminLevel=Operator" in warning


def test_a_user_unknown_to_slurmdbd_is_warned() -> None:
    _, ask = slurm("jobs", level=None)
    warning = privacy_warning(ask, "gpurel", 1000)
    assert warning is not None and "(AdminLevel None)" in warning


@pytest.mark.parametrize(
    ("user", "uid", "level"),
    [
        ("gpurel", 1000, "Operator"),
        ("gpurel", 1000, "Administrator"),
        ("root", 0, "None"),
        ("slurm", 64030, "None"),
    ],
)
def test_privileged_users_see_everything(user: str, uid: int, level: str) -> None:
    _, ask = slurm("jobs,events", level=level)
    assert privacy_warning(ask, user, uid) is None


def test_other_private_data_is_fine() -> None:
    _, ask = slurm("accounts,usage,users")
    assert privacy_warning(ask, "gpurel", 1000) is None
