"""Two organizations provisioned through SCIM, each with its own client, and what each
can read: the shared helpers of the isolation tests.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from dataclasses import field
from urllib.parse import quote

from flask import Flask

from sample_app.models import okta
from tests.conftest import ScimClient
from tests.conftest import provisioning_org
from tests.conftest import user_body

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


# -- set-up -------------------------------------------------------------------------------------


@dataclass
class Tenant:
    """One organization as its SCIM client sees it."""

    app: Flask
    name: str
    org_id: t.Any
    token: str
    client: ScimClient
    users: dict[str, dict[str, t.Any]] = field(default_factory=dict)  # local part -> resource
    groups: dict[str, dict[str, t.Any]] = field(default_factory=dict)  # displayName -> resource

    def user_id(self, local: str) -> str:
        return t.cast(str, self.users[local]["id"])

    def group_id(self, name: str) -> str:
        return t.cast(str, self.groups[name]["id"])

    @property
    def user_ids(self) -> list[str]:
        return [u["id"] for u in self.users.values()]

    @property
    def group_ids(self) -> list[str]:
        return [g["id"] for g in self.groups.values()]

    def create_user(self, user_name: str, **extra: t.Any) -> dict[str, t.Any]:
        extra.setdefault("externalId", f"ext-{user_name}")
        resp = self.client.post("/Users", user_body(user_name, **extra))
        assert resp.status_code == 201, resp.get_data(as_text=True)
        return t.cast(dict[str, t.Any], resp.get_json())

    def create_group(self, name: str, member_ids: list[str]) -> dict[str, t.Any]:
        resp = self.client.post("/Groups", group_body(name, member_ids, externalId=f"gext-{name}"))
        assert resp.status_code == 201, resp.get_data(as_text=True)
        return t.cast(dict[str, t.Any], resp.get_json())


def group_body(name: str, member_ids: list[str], **extra: t.Any) -> dict[str, t.Any]:
    body: dict[str, t.Any] = {
        "schemas": [GROUP_SCHEMA],
        "displayName": name,
        "members": [{"value": i} for i in member_ids],
    }
    body.update(extra)
    return body


def make_tenant(
    app: Flask,
    name: str,
    domain: str,
    people: tuple[str, ...],
    groups: dict[str, tuple[str, ...]],
    inactive: tuple[str, ...] = (),
) -> Tenant:
    org_id, token = provisioning_org(app, name)
    tenant = Tenant(app, name, org_id, token, ScimClient(app, token))
    for local in people:
        tenant.users[local] = tenant.create_user(f"{local}@{domain}")
    for local in inactive:
        tenant.users[local] = tenant.create_user(f"{local}@{domain}", active=False)
    for group, members in groups.items():
        tenant.groups[group] = tenant.create_group(group, [tenant.user_id(m) for m in members])
    return tenant


def snapshot(tenant: Tenant) -> dict[str, t.Any]:
    """Everything ``tenant`` can read about its own resources, with the ETags."""
    out: dict[str, t.Any] = {}
    for scim_id in tenant.user_ids:
        resp = tenant.client.get(f"/Users/{scim_id}")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        out[f"Users/{scim_id}"] = (resp.get_json(), resp.headers.get("ETag"))
        out[f"Users/{scim_id}/groups"] = user_group_ids(tenant.client, scim_id)
    for scim_id in tenant.group_ids:
        resp = tenant.client.get(f"/Groups/{scim_id}")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        out[f"Groups/{scim_id}"] = (resp.get_json(), resp.headers.get("ETag"))
    for listing in ("/Users", "/Groups"):
        resp = tenant.client.get(listing)
        assert resp.status_code == 200
        out[listing] = resp.get_json()
    return out


def get_json(client: ScimClient, path: str) -> dict[str, t.Any]:
    resp = client.get(path)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return t.cast(dict[str, t.Any], resp.get_json())


def user_group_ids(client: ScimClient, scim_id: str) -> list[str]:
    """The ids in the user's read-only ``groups`` attribute (returned only when asked for)."""
    resource = get_json(client, f"/Users/{scim_id}?attributes=groups")
    assert resource["id"] == scim_id
    return [g["value"] for g in resource.get("groups", [])]


def filtered(client: ScimClient, kind: str, expression: str) -> dict[str, t.Any]:
    return get_json(client, f"/{kind}?filter={quote(expression)}")


def member_ids(group: dict[str, t.Any]) -> list[str]:
    return [m["value"] for m in group.get("members", [])]


def audit_trail(app: Flask, org_id: t.Any) -> list[tuple[t.Any, ...]]:
    """The organization's audit rows (id, action, target, outcome)."""
    with app.app_context():
        directory = okta.directory(actor="test")
        organization = directory.get_organization(org_id)
        return [
            (row.id, row.action, row.target_id, row.outcome)
            for row in directory.audit_log(organization, limit=100_000)
        ]
