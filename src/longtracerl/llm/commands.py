"""CLI commands of the `llm` stage, registered on the top-level app by ``longtracerl.cli``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to ``app``."""
