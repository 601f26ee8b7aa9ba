"""Fixtures of the fuzz tests: the organization under fuzz (``world``), and the SCIM
blueprint's log kept quiet for every fuzz test (autouse).
"""

from __future__ import annotations

import logging
import typing as t

import pytest
from flask import Flask
from limits import parse as parse_rate

from flask_okta_scim.scim.constants import ENTERPRISE_USER
from flask_okta_scim.scim.constants import GROUP
from sample_app.models import okta
from tests.conftest import ScimClient
from tests.conftest import provisioning_org
from tests.conftest import user_body
from tests.scim_api.fuzz.harness import World
from tests.scim_api.fuzz.harness import _created
from tests.scim_api.fuzz.harness import _fast_hash
from tests.scim_api.fuzz.harness import _server_errors
from tests.scim_api.fuzz.harness import _snapshot


@pytest.fixture(autouse=True)
def _quiet_server_log() -> t.Iterator[None]:
    logger = logging.getLogger("flask_okta_scim.scim")
    logger.addFilter(_server_errors)
    try:
        yield
    finally:
        logger.removeFilter(_server_errors)


@pytest.fixture
def world(app: Flask, scim: ScimClient, monkeypatch: pytest.MonkeyPatch) -> World:
    """Acme with four users (one inactive, one with odd attribute types) and two groups;
    Other with two users and a group. The rate limit is lifted, as fuzzing sends many
    requests, and passwords get a cheap hash (the extension's ``hash_password`` hook).
    """
    monkeypatch.setattr(okta, "hash_password", _fast_hash)
    with app.app_context():
        okta.scim_rate_limiter.item = parse_rate("1000000/minute")
    _, other_token = provisioning_org(app, "Other")
    w = World(app=app, scim=scim, other=ScimClient(app, other_token))

    bodies = [
        user_body("ada@example.com"),
        user_body(
            "grace@example.com",
            title={"not": "a string"},
            nickName=5,
            locale=["en", "fr"],
            emails=[
                {"value": "grace@example.com", "type": "work", "primary": True},
                {"value": "grace.home@example.com", "type": "home"},
            ],
            **{
                ENTERPRISE_USER: {
                    "employeeNumber": "701984",
                    "department": "Tour Operations",
                    "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"},
                }
            },
        ),
        user_body("linus@example.com", active=False),
        user_body("not-an-email", emails=[{"value": "margaret@example.com", "primary": True}]),
    ]
    for body in bodies:
        created = _created(scim.post("/Users", body))
        w.user_ids.append(created["id"])
        w.user_names.append(created["userName"])
    active = [w.user_ids[0], w.user_ids[1], w.user_ids[3]]
    for name, members in (("Engineering", active[:2]), ("Empty", [])):
        body = {
            "schemas": [GROUP],
            "displayName": name,
            "members": [{"value": i} for i in members],
        }
        w.group_ids.append(_created(scim.post("/Groups", body))["id"])

    for name in ("ada@example.com", "bob@other.example.com"):
        w.other_user_ids.append(_created(w.other.post("/Users", user_body(name)))["id"])
    body = {
        "schemas": [GROUP],
        "displayName": "Engineering",
        "members": [{"value": i} for i in w.other_user_ids],
    }
    w.other_group_ids.append(_created(w.other.post("/Groups", body))["id"])
    w.other_snapshot = _snapshot(w.other)
    return w
