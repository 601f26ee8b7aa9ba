"""``flask okta-scim scim ...``: provisioning on and off, and its bearer tokens, via Click's runner.

Conventions (SPEC §3): a command that makes a token prints only the token on stdout,
on one line; explanations and errors go to stderr; errors exit non-zero. Tokens are
checked against the SCIM API itself with the Okta-speaking test client.
"""

from __future__ import annotations

import json
import typing as t

import pytest
from flask import Flask

from flask_okta_scim.sqla.directory.connections import hash_token
from sample_app.models import okta
from tests.conftest import ScimClient
from tests.conftest import assert_scim_error
from tests.conftest import okta_cli
from tests.conftest import okta_cli_ok


def run(app: Flask, *args: str) -> t.Any:
    return okta_cli(app, "scim", *args)


def ok(app: Flask, *args: str) -> str:
    return okta_cli_ok(app, "scim", *args)


def refused(app: Flask, *args: str) -> str:
    """Run a command that must fail cleanly; return its stderr."""
    result = run(app, *args)
    assert result.exit_code != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    return t.cast(str, result.stderr)


def token_line(stdout: str) -> str:
    assert stdout.endswith("\n") and stdout.count("\n") == 1, repr(stdout)
    token = stdout.strip()
    assert token and " " not in token
    return token


def works(app: Flask, token: str) -> bool:
    """Whether the SCIM API accepts ``token`` (a 401 means no)."""
    response = ScimClient(app, token).get("/Users?count=1")
    if response.status_code == 401:
        assert_scim_error(response, 401)
        return False
    assert response.status_code == 200, response.get_data(as_text=True)
    return True


def new_org(app: Flask, name: str = "Acme", *, connect: bool = True, connected: bool = True) -> str:
    """An organization, optionally with its Okta connection started and marked connected.

    ``mark_connected`` is what the first successful SSO sign-in calls.
    """
    with app.app_context(), okta.directory(actor="test").atomic() as directory:
        org = directory.create_organization(name)
        if connect:
            connection = directory.connect(org)
            if connected:
                directory.mark_connected(connection)
        return str(org.id)


def status(app: Flask, org: str) -> dict[str, t.Any]:
    return t.cast(dict[str, t.Any], json.loads(ok(app, "status", org)))


# -- enable -------------------------------------------------------------------------------------


def test_enable_refuses_an_organization_without_sso(app):
    org = new_org(app, connect=False)
    message = refused(app, "enable", org)
    # The message names the fix: connect single sign-on and sign in once.
    assert "single sign-on" in message
    assert "connect the organization" in message and "sign-in through Okta" in message
    assert status(app, org)["enabled"] is False
    assert status(app, org)["tokens"] == []


def test_enable_refuses_while_sso_is_only_pending(app):
    org = new_org(app, connected=False)
    assert status(app, org)["sso_status"] == "pending"
    message = refused(app, "enable", "Acme")
    assert "sign-in through Okta" in message
    assert status(app, org) == {"enabled": False, "sso_status": "pending", "tokens": []}


def test_enable_prints_only_the_token_and_the_token_works(app):
    org = new_org(app)
    result = run(app, "enable", org)
    assert result.exit_code == 0, result.stderr
    token = token_line(result.stdout)
    assert len(token) >= 40
    # The explanation, with the SCIM base URL Okta needs, goes to stderr, without the token.
    assert "https://app.example.test/scim/v2" in result.stderr
    assert token not in result.stderr
    assert works(app, token)
    assert status(app, org)["enabled"] is True


def test_enable_accepts_the_organization_name(app):
    new_org(app, "Globex")
    assert works(app, token_line(ok(app, "enable", "Globex")))


def test_enable_refuses_when_provisioning_is_already_on(app):
    org = new_org(app)
    token = token_line(ok(app, "enable", org))
    message = refused(app, "enable", org)
    assert "already on" in message and "rotate-token" in message
    # The first token is untouched, and no second one was issued.
    assert works(app, token)
    assert len(status(app, org)["tokens"]) == 1


def test_enable_of_an_unknown_organization(app):
    assert "No organization" in refused(app, "enable", "4242")


# -- rotate-token ------------------------------------------------------------------------------


def test_rotate_token_with_no_grace_retires_the_old_token_at_once(app):
    org = new_org(app)
    old = token_line(ok(app, "enable", org))
    assert works(app, old)
    result = run(app, "rotate-token", org, "--grace", "0")
    assert result.exit_code == 0, result.stderr
    new = token_line(result.stdout)
    assert new != old and new not in result.stderr
    # The old token fails before the new one has ever been used.
    assert not works(app, old)
    assert works(app, new)
    assert not works(app, old)


def test_rotate_token_keeps_the_old_token_until_the_new_one_is_used(app):
    org = new_org(app)
    old = token_line(ok(app, "enable", org))
    result = run(app, "rotate-token", org)
    new = token_line(result.stdout)
    assert "paste it into Okta" in result.stderr
    assert works(app, old) and works(app, old)
    assert works(app, new)
    assert not works(app, old)
    assert works(app, new)


def test_rotate_token_refuses_while_provisioning_is_off(app):
    org = new_org(app)
    assert "enable it first" in refused(app, "rotate-token", org)


def test_rotate_token_refuses_a_negative_grace(app):
    org = new_org(app)
    token = token_line(ok(app, "enable", org))
    result = run(app, "rotate-token", org, "--grace", "-5")
    assert result.exit_code == 2 and result.stdout == ""
    assert "--grace" in result.stderr
    assert works(app, token) and len(status(app, org)["tokens"]) == 1


def test_rotate_token_refuses_an_absurd_grace_cleanly(app):
    """A grace past the year 9999 is an operator's typo: a clean refusal, not a traceback."""
    org = new_org(app)
    token = token_line(ok(app, "enable", org))
    result = app.test_cli_runner().invoke(
        args=["okta-scim", "scim", "rotate-token", org, "--grace", str(10**12)]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code != 0 and result.stdout == ""
    assert "grace" in result.stderr.lower()
    assert works(app, token) and len(status(app, org)["tokens"]) == 1


# -- disable -----------------------------------------------------------------------------------


def test_disable_stops_every_token_at_once(app):
    org = new_org(app)
    old = token_line(ok(app, "enable", org))
    new = token_line(ok(app, "rotate-token", org))
    result = run(app, "disable", org)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "off" in result.stderr
    assert not works(app, old) and not works(app, new)
    state = status(app, org)
    assert state["enabled"] is False and state["sso_status"] == "connected"
    assert [row["revoked"] for row in state["tokens"]] == [True, True]


def test_disable_refuses_when_already_off(app):
    org = new_org(app)
    assert "already off" in refused(app, "disable", org)
    token_line(ok(app, "enable", org))
    ok(app, "disable", org)
    assert "already off" in refused(app, "disable", org)


def test_enable_after_disable_issues_a_fresh_token_and_the_old_stays_dead(app):
    org = new_org(app)
    first = token_line(ok(app, "enable", org))
    ok(app, "disable", org)
    second = token_line(ok(app, "enable", org))
    assert second != first
    assert works(app, second) and not works(app, first)


# -- status ------------------------------------------------------------------------------------


def test_status_never_shows_a_token_or_its_hash(app):
    org = new_org(app)
    tokens = [token_line(ok(app, "enable", org))]
    tokens.append(token_line(ok(app, "rotate-token", org, "--grace", "3600")))
    assert works(app, tokens[1])
    out = ok(app, "status", org)
    for token in tokens:
        assert token not in out
        assert hash_token(token) not in out
        assert hash_token(token)[:16] not in out
    state = json.loads(out)
    assert set(state) == {"enabled", "sso_status", "tokens"}
    assert state["enabled"] is True and state["sso_status"] == "connected"
    first, second = state["tokens"]
    for row in (first, second):
        assert set(row) == {
            "id",
            "created_at",
            "first_used_at",
            "last_used_at",
            "expires_at",
            "revoked",
        }
    # The new token has been used, which retired the old one.
    assert second["first_used_at"] and second["revoked"] is False
    assert first["revoked"] is True and first["expires_at"] is not None
    assert second["expires_at"] is None


def test_status_of_an_organization_without_connection(app):
    org = new_org(app, connect=False)
    assert status(app, org) == {"enabled": False, "sso_status": None, "tokens": []}


def test_status_of_an_unknown_organization(app):
    assert "No organization" in refused(app, "status", "nope")


# -- help --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ((), ["enable", "rotate-token", "disable", "status"]),
        (("enable",), ["ORG", "token", "single sign-on"]),
        (("rotate-token",), ["ORG", "--grace"]),
        (("disable",), ["ORG"]),
        (("status",), ["ORG", "JSON"]),
    ],
)
def test_help(app, command, words):
    result = run(app, *command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.stdout
    for word in words:
        assert word in result.stdout


# -- reindex ------------------------------------------------------------------------------------


def test_reindex_rebuilds_what_filters_compare_after_an_upgrade(app):
    """A database written before folded keys, email rows and team groups existed."""
    from sqlalchemy import delete
    from sqlalchemy import insert
    from sqlalchemy import update

    from tests.conftest import provisioning_org
    from tests.conftest import user_body

    org_id, token = provisioning_org(app, "Acme")
    scim = ScimClient(app, token)
    body = user_body(
        "zoë@acme.example",
        displayName="Zoë Émile",
        emails=[{"value": "zoe@work.example", "type": "work"}],
    )
    zoe = scim.post("/Users", body).get_json(force=True)["id"]
    models = okta.models
    with app.app_context():
        session = okta.directory().session
        # what an earlier version left behind: no email rows, no folded keys, lower()
        # instead of casefold, and a team inserted with plain SQL (no group row)
        session.execute(delete(models.identity_email))
        session.execute(
            update(models.identity).values(folded={}, user_name_key="zoë@acme.example".lower())
        )
        session.execute(insert(models.team.__table__).values(name="Équipe", organization_id=org_id))
        session.commit()
    lookups = [
        'emails[type eq "work"].value eq "zoe@work.example"',
        'displayName eq "ZOË ÉMILE"',
    ]
    for text in lookups:
        assert scim.get(f"/Users?filter={text}").get_json(force=True)["totalResults"] == 0
    assert scim.get("/Groups").get_json(force=True)["totalResults"] == 0

    counts = json.loads(ok(app, "reindex"))
    assert counts == {"identities": 1, "groups": 0, "teams_linked_to_groups": 1}
    for text in lookups:
        found = scim.get(f"/Users?filter={text}").get_json(force=True)["Resources"]
        assert [u["id"] for u in found] == [zoe], text
    groups = scim.get('/Groups?filter=displayName eq "ÉQUIPE"').get_json(force=True)
    assert [g["displayName"] for g in groups["Resources"]] == ["Équipe"]
    assert json.loads(ok(app, "reindex", "Acme"))["teams_linked_to_groups"] == 0


def test_reindex_of_an_unknown_organization_fails_cleanly(app):
    assert "Acme" in refused(app, "reindex", "Acme")
