"""The sacct readers on fuzzed text: only gpurel's own errors, and every line accounted for."""

from __future__ import annotations

from hypothesis import given
from reader_fuzz import read_quietly, texts_of

from gpurel.sources import sacct_json, sacct_text
from gpurel.sources.base import ReadOptions

UTC_OPTIONS = ReadOptions(cluster="c", tz="UTC")
TEXT = texts_of(
    ["JobID|State|Submit|Start|End|Elapsed|NodeList|AllocTRES\n", "1|", "1.batch|", "COMPLETED|",
     "FAILED|", "2024-05-01T10:00:00|", "2100-01-01T00:00:00|", "Unknown|", "01:00:00|",
     "gpu[001-002]|", "gres/gpu=8", "\n", "\r\n", "|", "\ufeff", " ", "☃"]
)  # fmt: skip
JSON = texts_of(
    ['{"jobs": [', "{", "}", "]}", '"job_id": 1', '"state": {"current": ["FAILED"]}', ",",
     '"time": {"start": 1714557600, "end": 1714561200, "elapsed": 3600}', '"steps": []',
     '"nodes": "gpu001"', "null", "[", "]"]
)  # fmt: skip


@given(TEXT)
def test_sacct_text_fuzz(text: str) -> None:
    sacct_text.sniff(text)
    read_quietly(sacct_text.read, text, UTC_OPTIONS, "sacct.txt")


@given(JSON)
def test_sacct_json_fuzz(text: str) -> None:
    sacct_json.sniff(text)
    read_quietly(sacct_json.read, text, UTC_OPTIONS, "sacct.json")
