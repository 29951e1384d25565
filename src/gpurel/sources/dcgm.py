"""NVIDIA DCGM diagnostic results, ``dcgmi diag -r N -j`` (FORMAT ``dcgm``).

Layout (github.com/NVIDIA/DCGM; DCGM publishes no stable schema, so both shapes are read):

- DCGM 4.x: ``{"DCGM Diagnostic": {"test_categories": [{"category", "tests": [{"name",
  "results": [{"entity_group": "GPU", "entity_group_id", "entity_id", "status": "Pass" | "Fail"
  | "Warn" | "Skip", "warnings": [{"warning", "error_id", "error_category", "error_severity"}],
  "info": [...]}], "test_summary": {"status"}}]}], "runtime_error"}, "entity_groups": [...],
  "metadata": {"version", "Driver Version Detected"}}``: testing/python3/dcgm_diag_schema.json,
  nvvs/include/NvvsJsonStrings.h and dcgmi/tests/DiagTests.cpp (statuses "Pass", "Fail").
- DCGM 1.7-3.x: ``{"DCGM GPU Diagnostic": {"test_categories": [{"category", "tests": [{"name",
  "results": [{"gpu_ids": "0,1,2" | 0, "status": "PASS" | "FAIL" | "WARN" | "SKIP",
  "warnings": ["text" | {"warning", "error_id", ...}], "info": [...]}]}]}], "version"}}``:
  the NVVS JsonOutput.cpp comment and the "Deserialize real output" case of DCGM's JsonResult
  tests (a DCGM 3.1.0 run, with ``null`` entries between tests, which are skipped here).

Test names are DCGM's: canonical ones in 4.x (``memory``, ``pcie``, ``targeted_stress``...),
display names in 3.x (``GPU Memory``, ``PCIe``, ``Targeted Stress``...); checks.toml maps both.

Input: one document (pretty-printed as dcgmi prints it, or on one line), several documents one
after another, or JSON lines of documents (one per node run). Text before the first ``{`` is
skipped, as DCGM's own parser does (dcgmi may print a warning first). A document that is not
valid JSON is an InputError naming its line and column; in JSON lines, a bad line is rejected.

Node: DCGM's JSON does not name the host. A document may carry it in a top-level ``node``
(or ``host``, ``hostname``) beside ``"DCGM Diagnostic"``; otherwise, for a file holding a single
document, the file name up to its first dot (``gpu001.dcgm.json`` -> ``gpu001``) unless that is
a generic word (dcgm, diag, output, results...). Any other document without a node is
rejected. Time: a top-level ``time`` (or ``timestamp``, ``start_time``: ISO-8601, naive =
``options.tz``, or epoch seconds); otherwise the file's modification time (dcgmi writes its
JSON when the run ends). Cluster: a top-level ``cluster``, else ``options.cluster``.

Rows (source ``dcgm``, check = the DCGM test name, classified by name then by message): every
result with status fail or warn is one row, message = ``<entity>: <warnings joined by '; '>``
(entity ``GPU 3``, or ``GPU 0,1,2,3`` for 3.x deployment tests). A test none of whose results
failed or warned but one passed is one ``ok`` row (like GCM's ok records). Skipped results
say nothing about the node and give no row. A test without results takes its
``test_summary`` status. ``runtime_error`` (the diagnostic could not run) is a ``warn`` row,
check ``dcgmi diag runtime_error``. Rejects: an unknown status, a test without a name, a
document without ``"DCGM Diagnostic"``, without a node, or without any test result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from gpurel.errors import InputError
from gpurel.sources.base import ReadOptions, ReadResult, RejectSink, read_text
from gpurel.sources.event_rows import (
    BadValue,
    Event,
    LineCount,
    TextLines,
    classify,
    first_line,
    from_epoch,
    json_lines,
    parse_time,
    read_result,
    scalar_text,
    zone,
)

FORMAT = "dcgm"
SOURCE = "dcgm"
ROOTS = ("DCGM Diagnostic", "DCGM GPU Diagnostic")  # DCGM 4.x, DCGM <= 3.x
RUNTIME_ERROR_CHECK = "dcgmi diag runtime_error"
NODE_KEYS = ("node", "host", "hostname")
TIME_KEYS = ("time", "timestamp", "start_time")
GENERIC_STEMS = frozenset(
    {"", "dcgm", "dcgmi", "diag", "diagnostic", "dcgm_diag", "dcgm-diag", "dcgmi_diag",
     "dcgmi-diag", "output", "out", "result", "results", "report", "stdout", "json"}
)  # fmt: skip

_ROOT_KEY = re.compile(r'"DCGM (?:GPU )?Diagnostic"\s*:')
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_STATUS: dict[str, str | None] = {
    "pass": "ok",
    "fail": "fail",
    "warn": "warn",
    "warning": "warn",
    "skip": None,
    "skipped": None,
    "not run": None,
    "not_run": None,
}
_WORST = {"fail": 0, "warn": 1, "ok": 2}

# (line, raw text, decoded value)
Document = tuple[int, str | None, Any]


def sniff(head: str) -> bool:
    """JSON whose first text has the ``"DCGM Diagnostic"`` (or ``"DCGM GPU Diagnostic"``) key."""
    found = _ROOT_KEY.search(head)
    return found is not None and "{" in head[: found.start()]


def read(path: Path, options: ReadOptions) -> ReadResult:
    """node_events for every failing, warning or passing DCGM test of every document."""
    sink = RejectSink(str(path))
    documents = list(_documents(path, read_text(path), sink))
    context = _Context(path, options, len(documents) == 1)
    events: list[Event] = []
    for number, raw, value in documents:
        for item in value if isinstance(value, list) else [value]:
            try:
                found = _document(item, context, number, sink)
            except BadValue as exc:
                sink.add(number, exc.field, exc.reason, raw)
                continue
            events.extend(found)
    # nested documents: the records counted are the tests read, rejected or without a result
    context.count.total = len(events) + len(sink) + context.count.skipped
    return read_result(FORMAT, events, sink, context.count)


class _Context:
    """What the documents of one file share: its name, its mtime, the options."""

    def __init__(self, path: Path, options: ReadOptions, single: bool) -> None:
        self.options = options
        self.count = LineCount()  # tests without a result (all skipped) are skipped records
        self.tz: tzinfo | None = zone(options.tz)
        self.node = _node_of_file(path) if single else None
        self.path = path
        self._mtime: datetime | None = None

    def mtime(self) -> datetime:
        if self._mtime is None:
            try:
                self._mtime = from_epoch(self.path.stat().st_mtime)
            except OSError as exc:
                raise InputError(str(self.path), f"cannot stat: {exc.strerror or exc}") from exc
        return self._mtime


def _node_of_file(path: Path) -> str | None:
    stem = path.name.split(".", 1)[0]
    if stem.lower() in GENERIC_STEMS or not _HOST.fullmatch(stem):
        return None
    return stem


# --- documents -------------------------------------------------------------------------------


def _documents(path: Path, text: str, sink: RejectSink) -> Iterator[Document]:
    text = text.lstrip("\ufeff")
    if _is_json_lines(text):
        yield from json_lines(TextLines(text), sink)
        return
    start = text.find("{")
    if start < 0:
        raise InputError(str(path), "no JSON object: not dcgmi diag -j output")
    decoder = json.JSONDecoder()
    position = start
    while position < len(text):
        line = text.count("\n", 0, position) + 1
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno} column {exc.colno}"
            raise InputError(str(path), f"invalid JSON at {where}: {exc.msg}") from exc
        except RecursionError as exc:
            raise InputError(str(path), f"JSON nested too deeply (line {line})") from exc
        yield line, text[position:end], value
        position = _skip_space(text, end)


def _is_json_lines(text: str) -> bool:
    line = first_line(text)
    if not line.startswith(("{", "[")):
        return False
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


# --- one document ----------------------------------------------------------------------------


def _document(item: Any, context: _Context, number: int, sink: RejectSink) -> list[Event]:
    if not isinstance(item, dict):
        raise BadValue(None, f"expected a JSON object, got {type(item).__name__}")
    root = next((item[key] for key in ROOTS if key in item), None)
    if not isinstance(root, dict):
        raise BadValue(None, 'no "DCGM Diagnostic" object: not dcgmi diag -j output')
    node = _text(item, NODE_KEYS) or context.node
    if node is None:
        raise BadValue(
            "node",
            'DCGM JSON does not name its host: add a top-level "node" field, '
            "or keep one run per file named <node>.json",
        )
    time = _time(item, context)
    cluster = _text(item, ("cluster",)) or context.options.cluster
    run = _Run(context, cluster, node, time, len(sink))
    events = run.runtime_error(root)
    categories = root.get("test_categories")
    if categories is not None and not isinstance(categories, list):
        raise BadValue("test_categories", "expected a list of test categories")
    for c, category in enumerate(categories or []):
        if category is None:
            continue
        where = f"test_categories[{c}]"
        try:
            events.extend(run.category(category, where, sink, number))
        except BadValue as exc:
            sink.add(number, exc.field, exc.reason, _raw(category))
    if not events and len(sink) == run.rejects_before:
        raise BadValue("test_categories", "no test results in the document")
    return events


def _text(item: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = (scalar_text(item, key) or "").strip()
        if value:
            return value
    return None


def _time(item: dict[str, Any], context: _Context) -> datetime:
    for key in TIME_KEYS:
        value = (scalar_text(item, key) or "").strip()
        if value:
            return parse_time(value, context.tz, key)
    return context.mtime()


def _raw(value: Any) -> str | None:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return None


class _Run:
    """One dcgmi diag run on one node: turns its tests into events."""

    def __init__(
        self, context: _Context, cluster: str, node: str, time: datetime, rejects: int
    ) -> None:
        self.context, self.cluster, self.node, self.time = context, cluster, node, time
        self.rejects_before = rejects  # rejects of earlier documents

    def event(self, check: str, result: str, message: str | None) -> Event:
        taxonomy = self.context.options.taxonomy
        return Event(
            cluster=self.cluster,
            node=self.node,
            time=self.time,
            source=SOURCE,
            check=check,
            classification=classify(taxonomy, check, message),
            result=result,
            message=message,
        )

    def runtime_error(self, root: dict[str, Any]) -> list[Event]:
        message = (scalar_text(root, "runtime_error") or "").strip()
        return [self.event(RUNTIME_ERROR_CHECK, "warn", message)] if message else []

    def category(self, category: Any, where: str, sink: RejectSink, number: int) -> list[Event]:
        if not isinstance(category, dict):
            raise BadValue(where, "expected a test category object")
        tests = category.get("tests")
        if not isinstance(tests, list):
            raise BadValue(f"{where}.tests", "expected a list of tests")
        events: list[Event] = []
        for t, test in enumerate(tests):
            if test is None:
                continue  # DCGM 3.x prints null between tests
            try:
                events.extend(self.test(test, f"{where}.tests[{t}]", sink, number))
            except BadValue as exc:
                sink.add(number, exc.field, exc.reason, _raw(test))
        return events

    def test(self, test: Any, where: str, sink: RejectSink, number: int) -> list[Event]:
        if not isinstance(test, dict):
            raise BadValue(where, "expected a test object")
        name = (scalar_text(test, "name") or "").strip()
        if not name:
            raise BadValue(f"{where}.name", "missing test name")
        results = test.get("results")
        if results is None or results == []:
            return self._summary(test, name, where)
        if not isinstance(results, list):
            raise BadValue(f"{where}.results", "expected a list of results")
        bad: list[Event] = []
        passed = False
        for r, entry in enumerate(results):
            if entry is None:
                continue
            try:
                result, message = _result(entry, f"{where}.results[{r}]")
            except BadValue as exc:
                sink.add(number, exc.field, exc.reason, _raw(entry))
                continue
            if result == "ok":
                passed = True
            elif result is not None:
                bad.append(self.event(name, result, message))
        if bad:
            return sorted(bad, key=lambda e: _WORST[e.result])
        if passed:
            return [self.event(name, "ok", None)]
        self.context.count.skip()
        return []

    def _summary(self, test: dict[str, Any], name: str, where: str) -> list[Event]:
        summary = test.get("test_summary")
        result = None
        if isinstance(summary, dict):
            result = _status(summary, f"{where}.test_summary.status")
        if result is None:
            self.context.count.skip()
            return []
        return [self.event(name, result, None)]


def _result(entry: Any, where: str) -> tuple[str | None, str]:
    if not isinstance(entry, dict):
        raise BadValue(where, "expected a result object")
    result = _status(entry, f"{where}.status")
    entity = _entity(entry, where)
    detail = "; ".join(_warnings(entry, where)) or (scalar_text(entry, "status") or "").strip()
    return result, f"{entity}: {detail}" if entity else detail


def _status(record: dict[str, Any], field: str) -> str | None:
    text = (scalar_text(record, "status") or "").strip()
    if text.lower() not in _STATUS:
        raise BadValue(field, f"not a DCGM status: {text!r} (Pass, Fail, Warn or Skip)")
    return _STATUS[text.lower()]


def _entity(entry: dict[str, Any], where: str) -> str | None:
    try:
        if "entity_id" in entry:
            group = (scalar_text(entry, "entity_group") or "GPU").strip()
            return f"{group} {scalar_text(entry, 'entity_id')}"
        for key in ("gpu_ids", "gpu_id"):
            ids = (scalar_text(entry, key) or "").strip()
            if ids:
                return f"GPU {ids}"
    except BadValue as exc:
        raise BadValue(f"{where}.{exc.field}", exc.reason) from exc
    return None


def _warnings(entry: dict[str, Any], where: str) -> list[str]:
    warnings = entry.get("warnings")
    if warnings is None:
        return []
    if not isinstance(warnings, list):
        raise BadValue(f"{where}.warnings", "expected a list of warnings")
    texts = []
    for warning in warnings:
        text = warning.get("warning") if isinstance(warning, dict) else warning
        if isinstance(text, str) and text.strip():
            texts.append(" ".join(text.split()))
    return texts
