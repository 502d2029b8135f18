"""The JSON Schema of `netspec check --json` (netspec/schema/check.schema.json), for every
test that reads the JSON: `assert_valid(report)` fails with the first violation."""

from __future__ import annotations

import functools

import pytest


@functools.lru_cache(maxsize=1)
def validator():
    jsonschema = pytest.importorskip("jsonschema")
    from netspec.report import json_schema

    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def assert_valid(report: dict) -> dict:
    """``report`` (a parsed `check --json` output) against the schema; returns it."""
    errors = sorted(validator().iter_errors(report), key=lambda e: list(e.absolute_path))
    assert not errors, "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:3])
    return report
