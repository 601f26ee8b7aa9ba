"""Refreshing a connection from Okta's metadata link (issue 15): a rotated certificate picked up,
the old one trusted for the overlap and then dropped; suspicious or broken metadata refused,
changing nothing and reported; ``flask okta-scim sso refresh-metadata`` on demand and from cron
(the schedule, ``--force``, exit status); two hosts refreshing at once.

The metadata is served on loopback (tests/metadata_server.py); sign-ins are really signed by the
suite's two IdP keys: ``OLD`` (Okta's certificate before the rotation) and ``NEW`` (after).
"""

from __future__ import annotations

import logging
import subprocess
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from blinker import NamedSignal
from flask import Flask

from flask_okta_scim import signals
from flask_okta_scim.config import ConfigError
from flask_okta_scim.config import load_settings
from flask_okta_scim.saml.certificates import fingerprint
from flask_okta_scim.saml.metadata import MAX_METADATA_BYTES
from flask_okta_scim.saml.metadata import IdpMetadata
from flask_okta_scim.saml.metadata import parse_metadata
from flask_okta_scim.saml.settings import certificate_body
from flask_okta_scim.sqla.directory.connections import _aware
from flask_okta_scim.sqla.directory.metadata_refresh import RefreshOutcome
from flask_okta_scim.sqla.mixins import utcnow
from sample_app.models import okta
from tests.cert_factory import DAY
from tests.cert_factory import make_certificate
from tests.cert_factory import private_key
from tests.conftest import BASE_URL
from tests.conftest import okta_cli as run
from tests.conftest import okta_cli_ok as ok
from tests.metadata_server import MetadataServer
from tests.metadata_server import idp_metadata
from tests.saml_idp import OKTA_SSO_URL
from tests.saml_idp import OTHER_IDP_CERT
from tests.saml_idp import OTHER_IDP_KEY
from tests.saml_idp import TestIdP
from tests.saml_idp import post_acs
from tests.sample_server import COMMAND_TIMEOUT
from tests.sample_server import ROOT
from tests.sample_server import SampleServer

pytestmark = pytest.mark.app_config(OKTA_SCIM_METADATA_ALLOW_PRIVATE=True)

OLD = TestIdP()
NEW = TestIdP(OTHER_IDP_KEY, OTHER_IDP_CERT)
OLD_FP, NEW_FP = fingerprint(OLD.certificate), fingerprint(NEW.certificate)


@pytest.fixture
def served() -> Iterator[MetadataServer]:
    """Okta's metadata link, listing the OLD certificate until a test rotates it."""
    with MetadataServer() as server:
        server.documents["/metadata"] = idp_metadata(OLD.certificate)
        yield server


def set_up(app: Flask, served: MetadataServer, name: str = "Acme", path: str = "/metadata") -> str:
    """An organization configured from the metadata link, as an operator does; its id."""
    with app.app_context(), okta.directory().atomic() as directory:
        org = directory.create_organization(name)
        directory.add_team_domain(directory.create_team(org, "Everyone"), "acme.example")
        org_id = str(org.id)
    ok(app, "sso", "connect", org_id)
    ok(app, "sso", "configure", org_id, "--metadata-url", served.url(path))
    return org_id


def state(app: Flask, org_id: str) -> dict[str, t.Any]:
    """The connection's IdP settings, certificates by fingerprint."""
    with app.app_context():
        directory = okta.directory()
        c = directory.get_connection(directory.get_organization(org_id))
        return {
            "certificates": [fingerprint(text) for text in c.idp_certificates],
            "retiring": {fingerprint(k): v for k, v in (c.retiring_certificates or {}).items()},
            "entity_id": c.idp_entity_id,
            "sso_url": c.idp_sso_url,
            "slo_url": c.idp_slo_url,
            "metadata_url": c.metadata_url,
            "checked_at": _aware(c.metadata_checked_at),
            "error": c.metadata_error,
        }


def refreshes(app: Flask, org_id: str) -> list[t.Any]:
    """The organization's ``sso.metadata_refresh`` audit entries, oldest first."""
    with app.app_context():
        directory = okta.directory()
        rows = directory.audit_log(directory.get_organization(org_id), kind="sso.metadata_refresh")
        return [(row.outcome, row.actor, dict(row.detail)) for row in reversed(rows)]


def signs_in(app: Flask, org_id: str, idp: TestIdP) -> bool:
    """Whether a fresh response signed by ``idp`` signs a person in through the connection."""
    with app.app_context():
        directory = okta.directory()
        integration_id = directory.get_connection(directory.get_organization(org_id)).integration_id
    xml = idp.for_connection(integration_id, "ann@acme.example")
    answer = post_acs(app.test_client(), integration_id, xml)
    assert answer.status_code in (302, 403), answer.get_data(as_text=True)
    return t.cast(bool, answer.status_code == 302)


@contextmanager
def heard(signal: NamedSignal) -> Iterator[list[dict[str, t.Any]]]:
    """Each send of ``signal``: its keywords, rows named by organization name and Integration ID."""
    calls: list[dict[str, t.Any]] = []

    def receiver(sender: t.Any, **kw: t.Any) -> None:
        kw["organization"] = kw["organization"].name
        kw["connection"] = kw["connection"].integration_id
        calls.append(kw)

    signal.connect(receiver, weak=False)
    try:
        yield calls
    finally:
        signal.disconnect(receiver)


def events(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "okta_scim_event", None) == event]


def until(value: str) -> datetime:
    return datetime.fromisoformat(value)


def parsed(*certificates: str) -> IdpMetadata:
    """Metadata listing ``certificates``, as a fetch returns it."""
    return parse_metadata(idp_metadata(*certificates))


def pass_overlap(app: Flask, org_id: str) -> None:
    """Time passes: the retiring certificates' overlap ended a minute ago."""
    with app.app_context(), okta.directory().atomic() as directory:
        connection = directory.get_connection(directory.get_organization(org_id))
        ended = (utcnow() - timedelta(minutes=1)).isoformat()
        retiring = connection.retiring_certificates or {}
        connection.retiring_certificates = dict.fromkeys(retiring, ended)


# -- a rotated certificate -------------------------------------------------------------------


def test_a_rotated_certificate_is_picked_up_and_the_old_one_kept_then_dropped(app, served):
    org_id = set_up(app, served)
    assert signs_in(app, org_id, OLD) and not signs_in(app, org_id, NEW)

    served.documents["/metadata"] = idp_metadata(NEW.certificate)  # Okta activated NEW
    started = utcnow()
    with heard(signals.idp_metadata_refreshed) as sent:
        result = run(app, "sso", "refresh-metadata", org_id)
    assert result.exit_code == 0, result.stderr
    [line] = result.stdout.splitlines()
    assert line.startswith(f"{org_id} 'Acme' ") and ": refreshed: " in line
    assert f"new certificate {NEW_FP}" in line and f"retiring {OLD_FP} until " in line

    now = state(app, org_id)
    assert now["certificates"] == [NEW_FP, OLD_FP] and list(now["retiring"]) == [OLD_FP]
    kept_until = until(now["retiring"][OLD_FP])
    assert started + 7 * DAY - timedelta(minutes=1) <= kept_until <= utcnow() + 7 * DAY
    assert now["error"] is None and now["checked_at"] >= started - timedelta(seconds=1)
    [(outcome, actor, detail)] = refreshes(app, org_id)
    assert (outcome, actor) == ("success", "cli")
    assert detail["added"] == [NEW_FP] and detail["retiring"] == {OLD_FP: now["retiring"][OLD_FP]}
    assert detail["dropped"] == [] and detail["changed"] == {}
    assert [(s["organization"], s["added"], s["retiring"], s["dropped"]) for s in sent] == [
        ("Acme", [NEW_FP], [OLD_FP], [])
    ]
    # The overlap: Okta's old and new keys both sign people in.
    assert signs_in(app, org_id, NEW) and signs_in(app, org_id, OLD)

    pass_overlap(app, org_id)
    # Past the overlap the old key is refused at once, before any refresh runs again.
    assert signs_in(app, org_id, NEW) and not signs_in(app, org_id, OLD)
    with heard(signals.idp_metadata_refreshed) as sent:
        result = run(app, "sso", "refresh-metadata", org_id)
    assert result.exit_code == 0 and f"refreshed: dropped {OLD_FP}" in result.stdout
    now = state(app, org_id)
    assert now["certificates"] == [NEW_FP] and now["retiring"] == {}
    assert refreshes(app, org_id)[-1][2]["dropped"] == [OLD_FP]
    assert [(s["added"], s["retiring"], s["dropped"]) for s in sent] == [([], [], [OLD_FP])]
    assert signs_in(app, org_id, NEW) and not signs_in(app, org_id, OLD)


@pytest.mark.app_config(OKTA_SCIM_CERTIFICATE_OVERLAP_DAYS=0)
def test_without_an_overlap_the_old_certificate_goes_at_once(app, served):
    org_id = set_up(app, served)
    served.documents["/metadata"] = idp_metadata(NEW.certificate)
    result = ok(app, "sso", "refresh-metadata", org_id)
    assert f"new certificate {NEW_FP}; dropped {OLD_FP}" in result
    assert state(app, org_id)["certificates"] == [NEW_FP]
    assert not signs_in(app, org_id, OLD) and signs_in(app, org_id, NEW)


@pytest.mark.app_config(OKTA_SCIM_CERTIFICATE_OVERLAP_DAYS=2)
def test_the_overlap_is_the_configured_number_of_days(app, served):
    org_id = set_up(app, served)
    served.documents["/metadata"] = idp_metadata(NEW.certificate)
    ok(app, "sso", "refresh-metadata", org_id)
    kept_until = until(state(app, org_id)["retiring"][OLD_FP])
    assert utcnow() + DAY < kept_until <= utcnow() + 2 * DAY


def test_a_second_refresh_of_the_same_metadata_changes_only_the_check_time(app, served):
    org_id = set_up(app, served)
    served.documents["/metadata"] = idp_metadata(NEW.certificate)
    ok(app, "sso", "refresh-metadata", org_id)
    before = state(app, org_id)
    with heard(signals.idp_metadata_refreshed) as sent:
        again = ok(app, "sso", "refresh-metadata", org_id)
    after = state(app, org_id)
    assert again.endswith(": unchanged\n") and sent == []
    assert after["checked_at"] > before["checked_at"]
    assert {**after, "checked_at": None} == {**before, "checked_at": None}
    assert len(refreshes(app, org_id)) == 1  # the change, audited once


def test_a_retiring_certificate_the_metadata_lists_again_is_trusted_for_good(app, served):
    org_id = set_up(app, served)
    served.documents["/metadata"] = idp_metadata(NEW.certificate)
    ok(app, "sso", "refresh-metadata", org_id)
    served.documents["/metadata"] = idp_metadata(NEW.certificate, OLD.certificate)
    assert "refreshed: certificates kept" in ok(app, "sso", "refresh-metadata", org_id)
    assert state(app, org_id)["retiring"] == {}
    assert refreshes(app, org_id)[-1][2]["restored"] == [OLD_FP]
    pass_overlap(app, org_id)  # nothing is retiring any more: nothing to drop
    ok(app, "sso", "refresh-metadata", org_id)
    assert sorted(state(app, org_id)["certificates"]) == sorted([NEW_FP, OLD_FP])


def test_a_new_sign_on_path_and_logout_url_on_okta_are_applied_and_audited(app, served):
    org_id = set_up(app, served)
    moved = OKTA_SSO_URL.replace("/app/x/", "/app/renamed/")
    logout = "https://acme.okta.example/app/renamed/exkTEST/slo/saml"
    served.documents["/metadata"] = idp_metadata(OLD.certificate, sso_url=moved, slo_url=logout)
    line = ok(app, "sso", "refresh-metadata", org_id)
    assert "refreshed: new SSO URL; new SLO URL" in line
    now = state(app, org_id)
    assert (now["sso_url"], now["slo_url"], now["certificates"]) == (moved, logout, [OLD_FP])
    changed = refreshes(app, org_id)[-1][2]["changed"]
    assert changed == {
        "slo_url": {"before": None, "after": logout},
        "sso_url": {"before": OKTA_SSO_URL, "after": moved},
    }


def test_the_metadata_url_changes_only_through_configure(app, served):
    org_id = set_up(app, served)
    served.documents["/other"] = idp_metadata(NEW.certificate)
    served.documents["/metadata"] = idp_metadata(NEW.certificate)
    ok(app, "sso", "refresh-metadata", org_id)
    assert state(app, org_id)["metadata_url"] == served.url("/metadata")
    ok(app, "sso", "configure", org_id, "--metadata-url", served.url("/other"))
    now = state(app, org_id)
    # Configuring again trusts exactly what it was given: no certificate is retiring.
    assert now["metadata_url"] == served.url("/other")
    assert now["certificates"] == [NEW_FP] and now["retiring"] == {}


# -- refused: nothing changes, and it is reported --------------------------------------------

WEAK = make_certificate(private_key("rsa", 1024))
EXPIRED = make_certificate(private_key("rsa", 2048, 7), not_before=-400 * DAY, not_after=-DAY)
REFUSED: dict[str, tuple[t.Callable[[], bytes | int], str, int]] = {
    "another entity ID": (
        lambda: idp_metadata(NEW.certificate, entity_id="http://www.okta.com/exkOTHER"),
        "names another identity provider: entity ID 'http://www.okta.com/exkOTHER'",
        logging.ERROR,
    ),
    "a sign-on URL on another host": (
        lambda: idp_metadata(
            NEW.certificate, sso_url="https://evil.example/app/x/exkTEST/sso/saml"
        ),
        "sign-on URL is on another host ('evil.example', not 'acme.okta.example')",
        logging.ERROR,
    ),
    "a logout URL on another host": (
        lambda: idp_metadata(NEW.certificate, slo_url="https://evil.example/slo"),
        "single logout URL is on another host",
        logging.ERROR,
    ),
    "a weak certificate": (
        lambda: idp_metadata(OLD.certificate, WEAK),
        "certificate in the metadata is refused: The certificate O=Okta,CN=Test Okta IdP (SHA-256",
        logging.ERROR,
    ),
    "an expired certificate": (lambda: idp_metadata(EXPIRED), "expired on", logging.ERROR),
    "a web page": (
        lambda: b"<html><body>Sign in</body></html>",
        "The IdP metadata needs an entityID",
        logging.WARNING,
    ),
    "garbage": (lambda: b"\x00 not XML <", "The IdP metadata cannot be read", logging.WARNING),
    "an oversized document": (
        lambda: b"<x>" + b" " * MAX_METADATA_BYTES + b"</x>",
        "larger than 1 MiB",
        logging.WARNING,
    ),
    "an HTTP error": (lambda: 500, "HTTP 500", logging.WARNING),
}


@pytest.mark.parametrize("case", [*REFUSED, "an unreachable server"])
def test_a_refused_or_failed_refresh_changes_nothing_and_is_reported(app, served, caplog, case):
    org_id = set_up(app, served)
    before = state(app, org_id)
    if case == "an unreachable server":
        served.close()
        expected, level = "could not be fetched", logging.WARNING
    else:
        document, expected, level = REFUSED[case]
        served.documents["/metadata"] = document()
    with (
        heard(signals.idp_metadata_refresh_failed) as failed,
        heard(signals.idp_metadata_refreshed) as refreshed,
        caplog.at_level(logging.INFO, logger="flask_okta_scim.metadata"),
    ):
        result = run(app, "sso", "refresh-metadata", org_id)
    assert result.exit_code == 1
    [line] = result.stdout.splitlines()
    assert ": failed: " in line and expected in line

    after = state(app, org_id)
    assert {**after, "checked_at": None, "error": None} == {**before, "checked_at": None}
    assert after["checked_at"] is not None and expected in after["error"]
    assert refreshed == [] and len(failed) == 1
    assert failed[0]["organization"] == "Acme" and expected in failed[0]["reason"]
    [(outcome, actor, detail)] = refreshes(app, org_id)
    assert (outcome, actor) == ("failure", "cli") and expected in detail["reason"]
    assert detail["metadata_url"] == served.url("/metadata")
    [record] = events(caplog, "metadata.refresh_failed")
    assert record.levelno == level and expected in record.okta_scim_reason
    assert record.okta_scim_organization == org_id
    assert events(caplog, "metadata.refreshed") == []
    assert signs_in(app, org_id, OLD) and not signs_in(app, org_id, NEW)


def test_the_next_good_refresh_clears_the_error(app, served):
    org_id = set_up(app, served)
    served.documents["/metadata"] = 503
    assert run(app, "sso", "refresh-metadata", org_id).exit_code == 1
    assert "HTTP 503" in state(app, org_id)["error"]
    served.documents["/metadata"] = idp_metadata(OLD.certificate)
    assert ok(app, "sso", "refresh-metadata", org_id).endswith(": unchanged\n")
    assert state(app, org_id)["error"] is None


# -- the command: on demand, and from cron ---------------------------------------------------


def checked(app: Flask, org_id: str, ago: timedelta | None) -> None:
    with app.app_context(), okta.directory().atomic() as directory:
        connection = directory.get_connection(directory.get_organization(org_id))
        connection.metadata_checked_at = None if ago is None else utcnow() - ago


def test_all_refreshes_the_connections_due_and_force_every_one_with_a_metadata_url(app, served):
    never, recent, yesterday = (set_up(app, served, name) for name in ("A", "B", "C"))
    checked(app, never, None)
    checked(app, recent, timedelta(hours=1))
    checked(app, yesterday, timedelta(hours=25))
    with app.app_context(), okta.directory().atomic() as directory:  # configured by hand
        by_hand = directory.connect(directory.create_organization("D"))
        directory.configure_connection(
            by_hand,
            idp_entity_id="http://www.okta.com/exkTEST",
            idp_sso_url=OKTA_SSO_URL,
            certificates=[OLD.certificate],
        )
    fetched = served.requests

    result = run(app, "sso", "refresh-metadata", "--all")
    assert result.exit_code == 0, result.stderr
    assert [line.split(" ")[1] for line in result.stdout.splitlines()] == ["'A'", "'C'"]
    assert all(line.endswith(": unchanged") for line in result.stdout.splitlines())
    assert served.requests == fetched + 2

    again = run(app, "sso", "refresh-metadata", "--all")
    assert again.exit_code == 0 and again.stdout == ""
    assert "No connection is due" in again.stderr

    forced = run(app, "sso", "refresh-metadata", "--all", "--force")
    assert [line.split(" ")[1] for line in forced.stdout.splitlines()] == ["'A'", "'B'", "'C'"]
    with app.app_context():
        directory = okta.directory()
        due_in_half_an_hour = directory.metadata_sources(
            every=timedelta(minutes=30), now=utcnow() + timedelta(minutes=31)
        )
        assert [s.organization_name for s in due_in_half_an_hour] == ["A", "B", "C"]
        assert directory.metadata_sources(every=timedelta(hours=24)) == []


def test_one_failure_makes_the_exit_status_1_and_the_others_still_refresh(app, served):
    served.documents["/bad"] = served.documents["/metadata"]
    good, bad = set_up(app, served, "Good"), set_up(app, served, "Bad", "/bad")
    served.documents["/metadata"] = idp_metadata(NEW.certificate)
    served.documents["/bad"] = b"not metadata"
    result = run(app, "sso", "refresh-metadata", "--all")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "'Good'" in lines[0] and ": refreshed: " in lines[0]
    assert "'Bad'" in lines[1] and ": failed: " in lines[1]
    assert state(app, good)["certificates"] == [NEW_FP, OLD_FP]
    assert state(app, bad)["certificates"] == [OLD_FP]


def test_a_receiver_that_raises_undoes_that_refresh_only(app, served, caplog):
    first, second = set_up(app, served, "First"), set_up(app, served, "Second")
    served.documents["/metadata"] = idp_metadata(NEW.certificate)

    def refuse_first(sender: t.Any, organization: t.Any, **kw: t.Any) -> None:
        if organization.name == "First":
            raise RuntimeError("the host's receiver failed")

    signals.idp_metadata_refreshed.connect(refuse_first)
    try:
        with caplog.at_level(logging.ERROR, logger="flask_okta_scim.metadata"):
            result = run(app, "sso", "refresh-metadata", "--all")
    finally:
        signals.idp_metadata_refreshed.disconnect(refuse_first)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "'First'" in lines[0] and lines[0].endswith(
        ": failed: RuntimeError (nothing was applied; see the log)"
    )
    assert "'Second'" in lines[1] and ": refreshed: " in lines[1]
    assert state(app, first)["certificates"] == [OLD_FP] and refreshes(app, first) == []
    assert state(app, first)["checked_at"] is None  # the whole unit of work was undone
    assert state(app, second)["certificates"] == [NEW_FP, OLD_FP]
    [record] = events(caplog, "metadata.refresh_failed")
    assert record.exc_info is not None and record.okta_scim_reason == "RuntimeError"


def test_the_command_needs_org_or_all_and_a_metadata_url(app, served):
    org_id = set_up(app, served)
    for args in ((), (org_id, "--all"), (org_id, "--force")):
        result = run(app, "sso", "refresh-metadata", *args)
        assert result.exit_code == 2, args
    with app.app_context(), okta.directory().atomic() as directory:
        plain = str(directory.create_organization("Plain").id)
    result = run(app, "sso", "refresh-metadata", plain)
    assert result.exit_code == 1 and "no connection configured from a metadata URL" in result.stderr
    assert run(app, "sso", "refresh-metadata", "nobody").exit_code == 1
    assert "--force" in ok(app, "sso", "refresh-metadata", "--help")


def test_a_refresh_of_a_connection_configured_again_meanwhile_is_skipped(app, served):
    """The document came from the URL the connection had before ``sso configure`` changed it."""
    org_id = set_up(app, served)
    with app.app_context(), okta.directory().atomic() as directory:
        connection = directory.get_connection(directory.get_organization(org_id))
        outcome = directory.refresh_metadata(
            connection,
            parsed(NEW.certificate),
            overlap=timedelta(days=7),
            url="https://old.example/metadata",
        )
    assert outcome == RefreshOutcome("skipped", "the metadata URL was changed meanwhile")
    assert state(app, org_id)["certificates"] == [OLD_FP] and refreshes(app, org_id) == []


def test_the_overlap_starts_at_the_refresh_that_finds_the_certificate_gone(app, served):
    """Direct use of the directory, with a clock: kept until ``now`` + overlap, dropped after."""
    org_id = set_up(app, served)
    now = datetime(2031, 5, 1, 12, 0, tzinfo=timezone.utc)
    with app.app_context(), okta.directory().atomic() as directory:
        connection = directory.get_connection(directory.get_organization(org_id))
        outcome = directory.refresh_metadata(
            connection, parsed(NEW.certificate), overlap=timedelta(days=3), now=now
        )
    assert outcome.retiring == (OLD_FP,) and outcome.until == now + timedelta(days=3)
    assert state(app, org_id)["retiring"] == {OLD_FP: "2031-05-04T12:00:00+00:00"}
    for later, kept in ((now + timedelta(days=3, seconds=-1), True), (now + 3 * DAY, False)):
        with app.app_context(), okta.directory().atomic() as directory:
            connection = directory.get_connection(directory.get_organization(org_id))
            directory.refresh_metadata(
                connection, parsed(NEW.certificate), overlap=3 * DAY, now=later
            )
        assert (OLD_FP in state(app, org_id)["certificates"]) is kept
    stored = state(app, org_id)
    assert stored["certificates"] == [NEW_FP] and stored["retiring"] == {}
    body = certificate_body(NEW.certificate)
    with app.app_context():
        directory = okta.directory()
        assert directory.get_connection(directory.get_organization(org_id)).idp_certificates == [
            body
        ]


# -- several hosts at once -------------------------------------------------------------------


@pytest.mark.postgresql_only
def test_two_hosts_refreshing_at_once_agree_and_audit_the_change_once(
    app, served, database_url, tmp_path
):
    org_id = set_up(app, served)
    served.documents["/metadata"] = idp_metadata(NEW.certificate)
    served.hold_until(2)  # both fetch, then both apply at the same moment
    host = SampleServer(
        database_url,
        tmp_path / "cron.log",
        base_url=BASE_URL,
        env={"FLASK_OKTA_SCIM_METADATA_ALLOW_PRIVATE": "true"},
    )
    command = host.command("okta-scim", "sso", "refresh-metadata", "--all", "--force")
    processes = [
        subprocess.Popen(
            command, cwd=ROOT, env=host.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    answers = [p.communicate(timeout=COMMAND_TIMEOUT) for p in processes]
    for process, (out, err) in zip(processes, answers, strict=True):
        assert process.returncode == 0, (out, err)
    results = sorted(out.decode().split(": ")[1].strip() for out, _ in answers)
    assert results == ["refreshed", "unchanged"], answers
    now = state(app, org_id)
    assert now["certificates"] == [NEW_FP, OLD_FP] and list(now["retiring"]) == [OLD_FP]
    assert [(outcome, detail["added"]) for outcome, _, detail in refreshes(app, org_id)] == [
        ("success", [NEW_FP])
    ]
    assert signs_in(app, org_id, OLD) and signs_in(app, org_id, NEW)


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("OKTA_SCIM_CERTIFICATE_OVERLAP_DAYS", -1),
        ("OKTA_SCIM_CERTIFICATE_OVERLAP_DAYS", 366),
        ("OKTA_SCIM_METADATA_REFRESH_HOURS", 0),
        ("OKTA_SCIM_METADATA_REFRESH_HOURS", "daily"),
    ],
)
def test_the_refresh_settings_are_bounded(app, key, value):
    with pytest.raises(ConfigError, match=key):
        load_settings({**app.config, key: value})
    settings = load_settings({**app.config, key: "12"})
    assert 12 in (settings.certificate_overlap_days, settings.metadata_refresh_hours)
    with app.app_context():
        defaults = okta.settings
    assert (defaults.certificate_overlap_days, defaults.metadata_refresh_hours) == (7, 24)
