"""The hot paths send the statements they need and no more (SPEC §6).

Counted with a ``before_cursor_execute`` listener on the application's engine,
on SQLite and PostgreSQL: a returning person's sign-in, a first (JIT) sign-in,
Okta's lookup and its create of a new person. A change that adds a round trip
to one of them fails here first; the benchmarks (``make bench``) say what it
costs. These are counts, never times.
"""

from __future__ import annotations

import re
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from flask_okta_scim.saml.service import SamlIdentity
from sample_app.models import okta
from tests.conftest import statements
from tests.conftest import user_body
from tests.saml.test_sso import IDP
from tests.saml.test_sso import connect
from tests.saml_idp import me
from tests.saml_idp import post_acs
from tests.saml_idp import start_login


def kinds(sent: list[str]) -> list[str]:
    """``"SELECT okta_scim_connection"``, ``"INSERT okta_scim_audit"``... for each statement.

    Leaves out the purge of expired replay-cache rows that one sign-in in 32 runs.
    """
    out = []
    for statement in sent:
        verb = statement.split()[0]
        words = statement.split()
        if verb == "WITH":  # INSERT ... of a data-modifying CTE, then the statement's own
            verb, table = "INSERT", "+".join(re.findall(r"INSERT INTO (\w+)", statement))
        elif verb == "SELECT":
            table = words[words.index("FROM") + 1] if "FROM" in words else "?"
        elif verb == "INSERT":
            table = words[2]
        elif verb in ("UPDATE", "DELETE"):
            table = words[1] if verb == "UPDATE" else words[2]
        else:
            table = ""
        out.append(f"{verb} {table}".strip())
    return [kind for kind in out if kind != "DELETE okta_scim_assertion_seen"]


def test_a_returning_person_signs_in_with_two_statements(app, backend):
    _org_id, integration = connect(app, "Acme", domain="acme.example")
    post_acs(app.test_client(), integration, IDP.for_connection(integration, "ada@acme.example"))
    with statements(app) as sent:
        r = post_acs(
            app.test_client(), integration, IDP.for_connection(integration, "ada@acme.example")
        )
    assert r.status_code == 302
    # The connection with its organization and the member the assertion names; the
    # replay cache and the audit entry (one statement on PostgreSQL); nothing read
    # again after the commit.
    assert kinds(sent) == [
        "SELECT okta_scim_connection",
        *(
            ["INSERT okta_scim_assertion_seen+okta_scim_audit"]
            if backend == "postgresql"
            else ["INSERT okta_scim_assertion_seen", "INSERT okta_scim_audit"]
        ),
    ], sent


def test_an_sp_initiated_sign_in_takes_its_request_in_one_statement(app, backend):
    _org_id, integration = connect(app, "Acme", domain="acme.example")
    post_acs(app.test_client(), integration, IDP.for_connection(integration, "ada@acme.example"))
    client = app.test_client()
    request_id = start_login(client, integration, next="/me")
    with statements(app) as sent:
        r = post_acs(
            client,
            integration,
            IDP.for_connection(integration, "ada@acme.example", in_response_to=request_id),
        )
    assert r.status_code == 302 and r.headers["Location"] == "/me"
    assert kinds(sent)[:2] == ["SELECT okta_scim_connection", "DELETE okta_scim_authn_request"]
    assert len(kinds(sent)) == (3 if backend == "postgresql" else 4), sent


def test_a_sign_in_whose_nameid_is_not_the_email_reads_the_member_itself(app):
    _org_id, integration = connect(app, "Acme", domain="acme.example")
    xml = IDP.for_connection(integration, "00u1abcd", attributes={"email": ["ada@acme.example"]})
    with statements(app) as sent:
        r = post_acs(app.test_client(), integration, xml)
    assert r.status_code == 302
    assert kinds(sent)[0] == "SELECT okta_scim_connection"
    assert "SELECT account" in kinds(sent)


def test_a_replayed_assertion_stops_at_the_replay_cache(app):
    org_id, integration = connect(app, "Acme", domain="acme.example")
    xml = IDP.for_connection(integration, "ada@acme.example")
    assert post_acs(app.test_client(), integration, xml).status_code == 302
    with statements(app) as sent:
        r = post_acs(app.test_client(), integration, xml)
    assert r.status_code == 403
    assert kinds(sent)[0] == "SELECT okta_scim_connection"
    assert kinds(sent)[1].startswith("INSERT okta_scim_assertion_seen")
    assert "SELECT account" not in kinds(sent)
    with app.app_context():
        log = okta.directory().audit_log(okta.directory().get_organization(org_id))
    assert [(e.action, e.outcome) for e in log][:2] == [
        ("sso.login", "failure"),
        ("sso.login", "success"),
    ]


def test_a_first_sign_in_neither_locks_nor_rereads_the_account_it_creates(app, backend):
    org_id, integration = connect(app, "Acme", domain="acme.example")
    post_acs(app.test_client(), integration, IDP.for_connection(integration, "ada@acme.example"))
    with statements(app) as sent:
        r = post_acs(
            app.test_client(), integration, IDP.for_connection(integration, "bob@acme.example")
        )
    assert r.status_code == 302
    found = kinds(sent)
    assert found.count("INSERT account") == 1
    assert not [s for s in sent if "FOR UPDATE" in s], sent
    assert "UPDATE okta_scim_account_control" not in found
    assert len(found) == (11 if backend == "postgresql" else 13), found
    with app.app_context():
        account = okta.directory().find_account("bob@acme.example")
        assert okta.directory().member_role(okta.directory().get_organization(org_id), account)


def test_okta_creates_a_new_person_in_eleven_statements(app, scim, backend):
    scim.post("/Users", user_body("warm@acme.example"))
    with statements(app) as sent:
        r = scim.post("/Users", user_body("ann@acme.example"))
    assert r.status_code == 201
    found = kinds(sent)
    # The token; the userName check; the identity and its emails; the account looked
    # up; the domain's verifier (Okta sends a password: does this organization manage
    # the new account?); the account created with it; its control row inserted with
    # its creator and who set the password (on SQLite looked up first: without the
    # foreign key's cascade a host may have left one); the membership; both audit
    # entries (one statement on PostgreSQL); the identity marked active.
    assert found[0] == "SELECT okta_scim_token"
    assert not [s for s in sent if "FOR UPDATE" in s], sent
    # (SQLite's driver gets no batched insert with RETURNING: one statement per entry.)
    assert found.count("INSERT okta_scim_audit") == (1 if backend == "postgresql" else 2)
    assert "UPDATE okta_scim_account_control" not in found
    assert len(found) == (11 if backend == "postgresql" else 13), found


def test_okta_lookup_is_two_statements(app, scim):
    scim.post("/Users", user_body("ann@acme.example"))
    scim.get('/Users?filter=userName eq "ann@acme.example"')
    with statements(app) as sent:
        r = scim.get('/Users?filter=userName eq "ann@acme.example"')
    assert r.status_code == 200 and r.json["totalResults"] == 1
    assert kinds(sent) == ["SELECT okta_scim_token", "SELECT okta_scim_identity"], sent


# -- the member read with the connection is only a hint ------------------------------------


def test_the_member_read_early_is_used_only_for_exactly_that_email(app):
    _org_id, integration = connect(app, "Acme", domain="acme.example")
    for email in ("ada@acme.example", "bob@acme.example"):
        post_acs(app.test_client(), integration, IDP.for_connection(integration, email))
    with app.app_context():
        directory = okta.directory(actor="sso")
        connection, organization = directory.connection_for_sign_in(integration, "ada@acme.example")
        identity = SamlIdentity(
            name_id="bob@acme.example",
            email="bob@acme.example",
            display_name=None,
            attributes={},
            assertion_id="id-hint-test",
            in_response_to=frozenset(),
            remember_until=datetime.now(timezone.utc) + timedelta(minutes=10),
        )
        with directory.atomic():
            signed_in = directory.complete_sign_in(
                connection, organization, identity, browser_key=None, relay_state=None
            )
        assert signed_in.account.email == "bob@acme.example"


def test_a_comment_in_the_nameid_makes_no_hint(app):
    """Signatures ignore comments; python3-saml drops them; the early read must not
    look up the text before the comment."""
    _org_id, integration = connect(app, "Acme", domain="acme.example")
    post_acs(app.test_client(), integration, IDP.for_connection(integration, "ada@acme.example"))
    xml = IDP.for_connection(integration, "ada@acme.example")
    tampered = xml.replace(">ada@acme.example<", ">ada@acme<!---->.example<")
    assert tampered != xml
    client = app.test_client()
    with statements(app) as sent:
        r = post_acs(client, integration, tampered)
    assert r.status_code == 302
    assert "SELECT account" in kinds(sent)  # read for the validated email, not hinted
    assert me(client).json["email"] == "ada@acme.example"
