"""A figure that was not measured, and why.

Where a figure (a number, a table, a test) has no input to measure it by, the analysis holds
``Absent(reason)`` in its place instead of a 0, an infinity or a verdict. People see
"not measured: <reason>"; JSON gets ``{"value": null, "absent": "<reason>"}`` where the
measured value would stand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Absent:
    """No value, with the reason there is none (e.g. "no node events ingested")."""

    reason: str

    def __str__(self) -> str:
        return f"not measured: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        """The JSON form: ``{"value": null, "absent": reason}``."""
        return {"value": None, "absent": self.reason}
