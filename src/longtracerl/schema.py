"""``longtracerl schema [RECORD]``: the JSON schema of the records, generated from the pydantic models."""

from __future__ import annotations

import json
from typing import Any

import typer

from longtracerl.records import record_types


def record_schema(name: str | None = None) -> dict[str, Any]:
    """The JSON schema of one record (by class name, any case), or ``{name: schema}`` of all of them."""
    types = record_types()
    if name is None:
        return {n: t.model_json_schema() for n, t in types.items()}
    match = {n.lower(): t for n, t in types.items()}.get(name.lower())
    if match is None:
        raise KeyError(f"unknown record {name!r}; known: {', '.join(types)}")
    return match.model_json_schema()


def register(app: typer.Typer) -> None:
    """Add ``schema`` to ``app``."""

    @app.command("schema")
    def schema(record: str = typer.Argument(None, help="Record name, e.g. Sample (default: every record).")) -> None:
        """Print the JSON schema of a record (or of every record) that the stages read and write."""
        try:
            out = record_schema(record)
        except KeyError as e:
            typer.secho(f"error: {e.args[0]}", fg="red", err=True)
            raise typer.Exit(2) from None
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
