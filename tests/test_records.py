"""The records declare every field they carry, each with a type and a description, and
``longtracerl schema`` prints the JSON schema generated from them."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from longtracerl.cli import app
from longtracerl.records import ContextDoc, Record, Sample, record_types
from longtracerl.schema import record_schema


def test_every_record_field_is_declared_with_a_description() -> None:
    types = record_types()
    assert {"Document", "Chain", "Question", "Trajectory", "Sample", "ContextDoc", "RewardResult"} <= set(types)
    assert all(issubclass(t, Record) for t in types.values())
    undocumented = [f"{n}.{f}" for n, t in types.items() for f, info in t.model_fields.items()
                    if not (info.description or "").strip()]
    assert undocumented == []
    # the fields the assembler sets are declared (they used to be set through ``type: ignore``)
    assert "details" in Sample.model_fields and "position" in ContextDoc.model_fields


def test_schema_of_one_record_comes_from_the_model() -> None:
    s = record_schema("sample")  # any case
    assert s == Sample.model_json_schema()
    assert "details" in s["properties"] and "docs" in s["required"]
    assert s["$defs"]["ContextDoc"]["properties"]["position"]["description"].startswith("0-based place")


def test_schema_cli() -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["schema", "ContextDoc"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["title"] == "ContextDoc" and set(out["properties"]) == set(ContextDoc.model_fields)
    assert out["properties"]["tier"]["enum"] == ["gold", "tier1", "tier2", "fill"]
    r = runner.invoke(app, ["schema"])
    assert r.exit_code == 0 and set(json.loads(r.output)) == set(record_types())
    r = runner.invoke(app, ["schema", "Nope"])
    assert r.exit_code == 2
    assert "unknown record 'Nope'; known: " in r.output and "Sample" in r.output
