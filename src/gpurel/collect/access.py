"""Whether slurmdbd hides other users' jobs or node events from the collecting user.

With ``PrivateData=jobs`` in slurmdbd.conf, ``sacct --allusers`` run by a plain user answers
with that user's jobs only, and exits 0: a collector would store empty windows without a
word. ``PrivateData=events`` makes ``sacctmgr show event`` fail with "Access/permission
denied". Root, the SlurmUser and users with AdminLevel Operator or Administrator see
everything; this module says when the collecting user is none of these.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Callable

HIDDEN = ("jobs", "events")
PRIVILEGED = frozenset({"Operator", "Administrator"})
DBD_SECTION = "SlurmDBD configuration:"


def _setting(text: str, name: str) -> str:
    match = re.search(rf"^{name}\s*=\s*(.*)$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


def privacy_warning(
    ask: Callable[[list[str]], str], user: str | None = None, uid: int | None = None
) -> str | None:
    """Why this user would see only part of the accounting, or None if it sees all of it.

    ``ask`` runs a Slurm client command and returns its output; ``user`` and ``uid`` default
    to this process's.
    """
    user = user or getpass.getuser()
    uid = os.geteuid() if uid is None else uid
    config = ask(["sacctmgr", "show", "configuration"])
    dbd = config.split(DBD_SECTION)[-1]
    private = _setting(dbd, "PrivateData")
    hidden = [kind for kind in HIDDEN if kind in private.split(",")]
    if not hidden or uid == 0 or _setting(dbd, "SlurmUser").startswith(f"{user}("):
        return None
    answer = ask(["sacctmgr", "--parsable2", "show", "user", user, "format=AdminLevel"])
    level = next(iter(answer.splitlines()[1:]), "").strip() or "None"
    if level in PRIVILEGED:
        return None
    return (
        f"slurmdbd has PrivateData={private}: {user} (AdminLevel {level}) sees only its own "
        f"{' and '.join(hidden)}; give it AdminLevel=Operator (see docs/collector.md)"
    )
