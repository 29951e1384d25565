"""``gpurel config``: the effective settings and where each came from."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from gpurel.cli.common import JsonOption, console, print_json
from gpurel.cli.settings import BY_KEY, SETTINGS, Values, shown, uses


@uses(*BY_KEY)
def config(as_json: JsonOption = False, *, settings: Values) -> None:
    """Print every analysis setting, its value and where it came from.

    Where: its flag, its GPUREL_* variable, gpurel.toml or its default; with its flag and the
    source of its default (the paper, or an assumption)."""
    rows = [
        {
            "key": s.key,
            "value": shown(s.key, settings[s.key]),
            "origin": settings.origins[s.key],
            "flag": s.flag,
            "env": s.env,
            "source": s.source,
            "help": s.help,
        }
        for s in SETTINGS
    ]
    if as_json:
        print_json({"settings": rows})
        return
    table = Table("setting", "value", "from", "flag", "source", title="Effective settings")
    for row in rows:
        cells = (row["key"], row["value"], row["origin"], row["flag"], row["source"])
        table.add_row(*(escape(cell) for cell in cells))
    console.print(table)
