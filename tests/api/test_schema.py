"""The OpenAPI schema: valid, complete for the participants, catalogue, workflow, audit and
regulator endpoints, and true to what the server does. Schemathesis fuzzes every operation
of the whole API (ledger and sign-in included) through the WSGI app, its examples signed in
with a token of each role in turn (the role the operation is for first), and asserts no
5xx and no response that breaks the documented schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.validation import validate_schema
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.config import SchemathesisConfig

from tests.api.conftest import PRODUCTS, RESOURCES, ROLES, planned_codes

WORKFLOWS = ("sharing-requests", "agreements", "grants", "deliveries", "objections", "orders")
MINE = ("/api/v1/participants", "/api/v1/catalog", "/api/v1/audit", "/api/v1/regulator",
        *(f"/api/v1/{name}" for name in WORKFLOWS))


def test_schema_is_valid_openapi(client: Any) -> None:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    paths = [path for path in schema["paths"] if path.startswith(MINE)]
    assert len(paths) >= 70


def test_every_operation_documents_its_errors_and_writes_their_entry(client: Any) -> None:
    schema = json.loads(client.get("/api/schema/?format=json").content)
    components = schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        if not path.startswith(MINE):
            continue
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            codes = set(operation["responses"])
            if "{" in path:
                assert "404" in codes, where
            if method == "post":
                assert {"400", "401", "403"} <= codes or {"401", "403"} <= codes, where
                success = operation["responses"].get("201") or operation["responses"]["200"]
                ref = success["content"]["application/json"]["schema"]["$ref"]
                assert "entry" in components[ref.rsplit("/", 1)[1]]["properties"], where
            else:
                assert operation.get("parameters") is not None or "{" not in path, where


# --- schemathesis --------------------------------------------------------------------------

CONFIG = SchemathesisConfig.from_dict({
    "generation": {"max-examples": 6},
    "phases": {"stateful": {"enabled": False}},
})
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application(),
                                        config=CONFIG).include(path_regex=r"^/api/v1/")

PARTICIPANTS = sorted(planned_codes().values())


def _real_codes(path: str) -> list[str]:
    if path.startswith("/api/v1/participants"):
        return PARTICIPANTS
    if "/products/" in path:
        return PRODUCTS
    return RESOURCES


@schema.hook
def before_generate_path_parameters(context: Any, strategy: Any) -> Any:
    """Half of the cases name objects that exist, so the fuzzing reaches past the 404."""
    operation = context.operation
    if operation is None:
        return strategy
    for name, numbers in (("pk", st.integers(1, 3)), ("seq", st.integers(0, 40)),
                          ("size", st.integers(1, 40))):
        if "{" + name + "}" not in operation.path:
            continue

        def numbered(generated: Any, number: int, name: str = name) -> Any:
            def replace(value: Any) -> Any:
                return {**value, name: number} if isinstance(value, dict) else value

            return generated.map_value(replace) if hasattr(generated, "map_value") else (
                replace(generated))

        return st.one_of(st.builds(numbered, strategy, numbers), strategy)
    if "{code}" not in operation.path:
        return strategy
    def named(generated: Any, code: str, number: int) -> Any:
        def replace(value: Any) -> Any:
            if not isinstance(value, dict):
                return value
            return {**value, "code": code, **({"number": number} if "number" in value else {})}

        if hasattr(generated, "map_value"):
            return generated.map_value(replace)
        return replace(generated)

    real = st.builds(named, strategy, st.sampled_from(_real_codes(operation.path)),
                     st.integers(1, 3))
    return st.one_of(real, strategy)


WORKFLOW_ROLES = {"sharing-requests": "provider", "agreements": "authority",
                  "grants": "provider", "deliveries": "provider", "objections": "merchant",
                  "orders": "merchant", "audit": "auditor", "regulator": "regulator"}


def _role_for(path: str, method: str) -> str:
    """The role an operation is for (its examples start with it)."""
    section = path.split("/")[3]
    if section in ("ledger", "auth"):
        return "auditor"
    if section in WORKFLOW_ROLES:
        if section == "objections" and path.count("/") > 4:
            return "provider"
        if section == "sharing-requests" and path.endswith("/sharing-requests/"):
            return "provider_b"
        return WORKFLOW_ROLES[section]
    if path.startswith("/api/v1/participants"):
        return "authority" if "keys" not in path and "members" not in path else "merchant"
    if "/certificates/" in path:
        return "certifier"
    if "/products/" in path or path.endswith("/products/"):
        return "authority" if path.endswith(("/list/", "/reject/", "/delist/")) else "operator"
    return "provider"


@pytest.fixture
def tokens(api: Any) -> Iterator[dict[str, str]]:
    """The world's tokens, with the database connection kept open across requests: a bare
    WSGI call closes it at the end of each request, which Django's own test client avoids
    the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield api.world.tokens
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


EXAMPLES = 8


@schema.parametrize()
@hypothesis.settings(deadline=None, max_examples=EXAMPLES,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_api_conforms_to_its_schema(case: Any, tokens: dict[str, str]) -> None:
    first = _role_for(case.operation.path, case.method.lower())
    assert first in ROLES
    # Every role in turn (the operation's own first): each example of one operation is signed
    # in as the next role, and the examples of all operations cover every role.
    order = [first, *sorted(role for role in ROLES if role != first)]
    seen = CALLS.setdefault(case.operation.label, [])
    role = order[(len(seen) + len(CALLS)) % len(order)] if seen else first
    seen.append(role)
    case.call_and_validate(headers={"Authorization": f"Token {tokens[role]}"},
                           checks=[not_a_server_error, response_schema_conformance])


CALLS: dict[str, list[str]] = {}
