"""The failure taxonomy: check names, XID codes and drain reasons → category, domain, severity.

The mapping is data (TOML files in ``taxonomy/data``, each citing its sources); users extend or
override it with their own TOML file of the same shape (``load(extra=...)``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa

from gpurel.errors import ConfigError
from gpurel.schema import Domain, Severity

DATA_FILES = ("categories.toml", "checks.toml", "xids.toml", "reasons.toml")
REASON_CHARS = 4096  # of a free-text reason read for its cause


@dataclass(frozen=True)
class Category:
    """One failure category and its attribution priority (smaller = more likely root cause)."""

    name: str
    domain: str
    severity: str
    priority: int
    description: str
    evidence: bool = True  # False: recorded, but never the cause of a job failure


@dataclass(frozen=True)
class Classification:
    """Where one failing record belongs."""

    category: str
    domain: str
    severity: str


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    category: str
    severity: str | None


class Taxonomy:
    """A loaded taxonomy. Build with ``load()``; look records up with the ``classify_*`` methods."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.versions: dict[str, int] = doc.get("versions", {})
        self.categories = {
            name: Category(
                name=name,
                domain=Domain(spec["domain"]).value,
                severity=Severity(spec["severity"]).value,
                priority=int(spec["priority"]),
                description=spec.get("description", ""),
                evidence=bool(spec.get("evidence", True)),
            )
            for name, spec in doc.get("categories", {}).items()
        }
        self._checks = {k.lower(): self._entry(k, v) for k, v in doc.get("checks", {}).items()}
        self._xids = {int(k): self._entry(k, v) for k, v in doc.get("xids", {}).items()}
        self._reasons = [
            _Pattern(re.compile(p["pattern"], re.IGNORECASE), *self._entry(p["pattern"], p))
            for p in doc.get("reasons", [])
        ]

    def _entry(self, key: str, value: str | dict[str, Any]) -> tuple[str, str | None]:
        spec = {"category": value} if isinstance(value, str) else value
        category = spec.get("category")
        if not isinstance(category, str) or category not in self.categories:
            raise ConfigError(f"taxonomy entry {key!r}: unknown category {category!r}")
        severity = spec.get("severity")
        if severity is not None:
            severity = Severity(severity).value
        return category, severity

    def _classification(self, category: str, severity: str | None = None) -> Classification:
        cat = self.categories[category]
        return Classification(category, cat.domain, severity or cat.severity)

    def classify_check(self, check: str) -> Classification:
        """A health check by name (GCM, NHC, DCGM or gpurel's own); unknown names → ``unknown``."""
        hit = self._checks.get(check.strip().lower())
        if hit is None:
            return self.classify_reason(check)
        return self._classification(*hit)

    def classify_xid(self, code: int) -> Classification:
        """An NVIDIA XID code; unlisted codes are ``gpu_error`` at low severity."""
        hit = self._xids.get(code)
        if hit is None:
            return self._classification("gpu_error")
        return self._classification(*hit)

    def classify_reason(self, text: str) -> Classification:
        """Free text (a drain reason, a trace's cause) by the first matching reason pattern,
        read in its first REASON_CHARS characters: a cause is named up front, and a field of
        megabytes must not cost seconds."""
        head = text[:REASON_CHARS]
        for pattern in self._reasons:
            if pattern.regex.search(head):
                return self._classification(pattern.category, pattern.severity)
        return self._classification("unknown")

    def priorities(self) -> pa.Table:
        """(category, domain, priority, evidence) for engine-side joins."""
        cats = sorted(self.categories.values(), key=lambda c: c.priority)
        return pa.table(
            {
                "category": [c.name for c in cats],
                "domain": [c.domain for c in cats],
                "priority": pa.array([c.priority for c in cats], pa.int32()),
                "evidence": pa.array([c.evidence for c in cats], pa.bool_()),
            }
        )


def _read_toml(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _merge(base: dict[str, Any], extra: dict[str, Any], name: str) -> None:
    if "version" in extra:
        base.setdefault("versions", {})[name] = extra["version"]
    for section in ("categories", "checks", "xids"):
        base.setdefault(section, {}).update(extra.get(section, {}))
    # user reason patterns go first so that they win over the shipped ones
    base["reasons"] = list(extra.get("reasons", [])) + base.get("reasons", [])


@cache
def _shipped() -> dict[str, Any]:
    doc: dict[str, Any] = {}
    package = resources.files("gpurel.taxonomy") / "data"
    for name in DATA_FILES:
        resource = package / name
        if resource.is_file():
            _merge(doc, _read_toml(resource.read_text("utf-8"), name), name)
    return doc


def load(extra: Path | None = None) -> Taxonomy:
    """The shipped taxonomy, extended or overridden by the user's TOML file ``extra``."""
    doc = {k: (dict(v) if isinstance(v, dict) else list(v)) for k, v in _shipped().items()}
    if extra is not None:
        try:
            text = extra.read_text("utf-8")
        except OSError as exc:
            raise ConfigError(f"{extra}: cannot read taxonomy file: {exc}") from exc
        _merge(doc, _read_toml(text, str(extra)), str(extra))
    return Taxonomy(doc)


@cache
def default() -> Taxonomy:
    """The shipped taxonomy (cached)."""
    return load()
