"""Every API route is documented: a summary, and examples for what it takes (request bodies), so
the agency's integrators and staff trainers can work from /docs alone."""

from __future__ import annotations

from typing import Any

from api.app import create_app
from core.db import Database
from core.settings import Settings


def _has_example(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    if "examples" in schema or "example" in schema:
        return True
    props = schema.get("properties", {})
    return any(
        "examples" in p or "example" in p or _has_example(p, components)
        if "$ref" in p
        else ("examples" in p or "example" in p)
        for p in props.values()
    )


def test_every_route_has_a_summary_and_body_examples(settings: Settings, sqlite_db: Database) -> None:
    spec = create_app(settings, db=sqlite_db).openapi()
    components = spec["components"]["schemas"]
    missing: list[str] = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            summary = op.get("summary", "")
            if not any("\u4e00" <= ch <= "\u9fff" for ch in summary):  # FastAPI's default is the English name
                missing.append(f"{where}: no Chinese summary ({summary!r})")
            body = op.get("requestBody", {}).get("content", {})
            for media, content in body.items():
                if media == "application/json" and not _has_example(content["schema"], components):
                    missing.append(f"{where}: body without examples")
    assert not missing, "\n".join(missing)
