"""The ``gpurel`` command line."""

from __future__ import annotations

from gpurel.cli.app import app


def main() -> None:
    """Entry point of the ``gpurel`` script."""
    app()
