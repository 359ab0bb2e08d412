"""Every API route is documented: a summary, and examples for what it takes (request bodies), so
the agency's integrators and staff trainers can work from /docs alone."""

from __future__ import annotations

from typing import Any

from api.app import create_app
from core.db import Database
from core.settings import Settings

# One per router in api/app.py ROUTER_MODULES that serves JSON routes.
EXPECTED_PREFIXES = (
    "/api/v1/auth/",
    "/api/v1/claims",
    "/api/v1/cases",
    "/api/v1/disputes/",
    "/api/v1/policy/",
    "/api/v1/documents",
    "/api/v1/callbacks/",
    "/api/v1/audit/",
    "/codec/",
    "/healthz",
)


def _has_example(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> bool:
    """True when the schema, or a field of it (following refs and optional unions), has examples."""
    if depth > 4:
        return False
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    if "examples" in schema or "example" in schema:
        return True
    for key in ("anyOf", "oneOf", "allOf"):
        if any(_has_example(s, components, depth + 1) for s in schema.get(key, [])):
            return True
    return any(_has_example(p, components, depth + 1) for p in schema.get("properties", {}).values())


def test_every_route_has_a_summary_and_body_examples(settings: Settings, sqlite_db: Database) -> None:
    spec = create_app(settings, db=sqlite_db).openapi()
    components = spec["components"]["schemas"]
    # Not vacuous: a spec with no routes (or a router that failed to mount) must fail here.
    paths = set(spec["paths"])
    for prefix in EXPECTED_PREFIXES:
        assert any(p.startswith(prefix) for p in paths), f"no route under {prefix}: {sorted(paths)}"
    bodies = 0
    missing: list[str] = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            summary = op.get("summary", "")
            if not any("\u4e00" <= ch <= "\u9fff" for ch in summary):  # FastAPI's default is the English name
                missing.append(f"{where}: no Chinese summary ({summary!r})")
            body = op.get("requestBody", {}).get("content", {})
            for media, content in body.items():
                if media != "application/json":
                    continue
                bodies += 1
                if not _has_example(content["schema"], components):
                    missing.append(f"{where}: body without examples")
    assert bodies >= 10, f"only {bodies} JSON request bodies checked"
    assert not missing, "\n".join(missing)
