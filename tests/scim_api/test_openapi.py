"""Schemathesis against Okta's own OpenAPI description of a SCIM 2.0 server.

``tests/data/okta-scim-openapi.yaml`` is Okta's "SCIM 2.0 API" description (the
operations Okta's provisioning client calls), copied unchanged. Its server is a
placeholder (``https://your-server/``) with paths at the root: here it is mapped
onto the sample app's ``/scim/v2`` prefix, and the app is called in-process as
a WSGI app, with the organization's bearer token.

For each operation, schemathesis generates requests that follow the description
(positive) and requests that break it (negative); ``{id}`` is either generated
or the id of a real user or group. Every answer must pass:

* ``not_a_server_error``: no 5xx;
* ``status_code_conformance``: a status the description declares;
* ``content_type_conformance``: the declared media type (``application/scim+json``);
* ``response_schema_conformance``: the body matches the declared schema.
"""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

import pytest
import schemathesis
import yaml
from flask import Flask
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from limits import parse as parse_rate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance

from sample_app.models import okta
from tests.conftest import ScimClient
from tests.conftest import user_body

SPEC = Path(__file__).parent.parent / "data" / "okta-scim-openapi.yaml"
OPERATIONS = [
    (method.upper(), path)
    for path, item in yaml.safe_load(SPEC.read_text(encoding="utf-8"))["paths"].items()
    for method in item
    if method in ("get", "post", "put", "patch", "delete")
]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def okta_openapi(app: Flask) -> t.Any:
    """Okta's description, served by the sample app under ``/scim/v2``."""
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    spec["servers"] = [{"url": "http://localhost/scim/v2"}]
    with app.app_context():  # schemathesis sends many requests: lift the rate limit
        okta.scim_rate_limiter.item = parse_rate("1000000/minute")
    schema = schemathesis.openapi.from_dict(spec)
    schema.app = app
    return schema


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_okta_openapi(
    okta_openapi: t.Any, scim: ScimClient, scim_org: tuple[t.Any, str], method: str, path: str
) -> None:
    operation = okta_openapi[path][method]
    real_ids: list[dict[str, str]] = []
    if "{id}" in path:
        if path.startswith("/Users"):
            created = scim.post("/Users", user_body("openapi@example.com"))
        else:
            created = scim.post("/Groups", {"displayName": "OpenAPI"})
        assert created.status_code == 201, created.get_data(as_text=True)
        real_ids.append({"id": created.get_json(force=True)["id"]})

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategy = st.one_of(
            operation.as_strategy(mode),
            *(operation.as_strategy(mode, path_parameters=ids) for ids in real_ids),
        )

        @settings(
            max_examples=20,
            deadline=None,
            database=None,
            derandomize=os.environ.get("CI", "").lower() == "true",  # as in the fuzz tests
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: t.Any) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {scim_org[1]}"}, checks=CHECKS
            )

        try:
            run()
        except Unsatisfiable:
            # GET and DELETE /{id}: any string is a valid id, so nothing can be negated.
            assert mode == GenerationMode.NEGATIVE and method in ("GET", "DELETE"), path
