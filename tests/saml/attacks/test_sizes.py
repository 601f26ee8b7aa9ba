"""Sizes before parsing: a body over ``OKTA_SCIM_SSO_MAX_BODY_BYTES``, or a form of too many
fields, gets a 413 page before anything parses it, whatever the host's ``MAX_CONTENT_LENGTH``
and whatever the host's own before-request hooks read.
"""

from __future__ import annotations

import io
import typing as t

import pytest
from flask import Flask
from flask import request

from tests.saml.attacks.support import Tenant
from tests.saml.attacks.support import audit_footprint
from tests.saml.attacks.support import authn_requests
from tests.saml.attacks.support import good_sign_in_seconds
from tests.saml.attacks.support import timed
from tests.saml_idp import acs_url
from tests.saml_idp import me
from tests.saml_idp import sign_in_url

LIMIT = 1024 * 1024  # the default OKTA_SCIM_SSO_MAX_BODY_BYTES
HUGE = 150 * 1024 * 1024


class Body(io.RawIOBase):
    """A lazily generated ``a=AAAA…`` body of ``size`` bytes that counts what was read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: t.Any) -> int:
        n = min(len(buffer), self.size - self.read_bytes)
        if n <= 0:
            return 0
        chunk = (b"a=" if self.read_bytes == 0 else b"") + b"A" * n
        buffer[:n] = chunk[:n]
        self.read_bytes += n
        return n


def _environ(body: Body, length: int | None) -> dict[str, t.Any]:
    """A form body straight on ``wsgi.input``: declared ``length``, or none (chunked)."""
    environ: dict[str, t.Any] = {
        "wsgi.input": body,
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
    }
    if length is None:  # a server that de-chunks and terminates the stream says so
        environ.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True})
    else:
        environ["CONTENT_LENGTH"] = str(length)
    return environ


def _host_allows_anything(app: Flask) -> None:
    """A host that set no limits at all, and reads the form in a hook of its own."""
    app.config["MAX_CONTENT_LENGTH"] = None
    app.config["MAX_FORM_MEMORY_SIZE"] = None
    app.config["MAX_FORM_PARTS"] = None

    @app.before_request
    def host_reads_the_form() -> None:
        if request.method == "POST":
            request.form.get("anything")


def _assert_413(app: Flask, browser: t.Any, response: t.Any, rows_before: tuple[int, int]) -> None:
    assert response.status_code == 413, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/html"
    assert "too large" in response.get_data(as_text=True)
    assert me(browser).status_code == 401
    assert audit_footprint(app) == rows_before, "a 413 wrote to the audit log"


@pytest.mark.parametrize("target", ["acs", "sign-in"])
@pytest.mark.parametrize("host_limits", [True, False], ids=["host-default", "host-unbounded"])
def test_declared_length_over_the_limit_is_refused_unread(
    app: Flask, acme: Tenant, target: str, host_limits: bool
) -> None:
    if not host_limits:
        _host_allows_anything(app)
    yardstick = good_sign_in_seconds(app, acme)
    before = audit_footprint(app)
    browser = app.test_client()
    body = Body(HUGE)
    url = acs_url(acme.integration_id) if target == "acs" else sign_in_url(acme.integration_id)
    method = browser.post if target == "acs" else browser.get
    response, seconds = timed(lambda: method(url, environ_overrides=_environ(body, HUGE)))
    _assert_413(app, browser, response, before)
    assert body.read_bytes == 0, "the body was read"
    assert seconds < yardstick * 3


@pytest.mark.parametrize("host_limits", [True, False], ids=["host-default", "host-unbounded"])
def test_chunked_body_growing_past_the_limit_stops_there(
    app: Flask, acme: Tenant, host_limits: bool
) -> None:
    """No ``Content-Length`` (chunked; the server says the stream ends): read up to the limit."""
    if not host_limits:
        _host_allows_anything(app)
    yardstick = good_sign_in_seconds(app, acme)
    before = audit_footprint(app)
    browser = app.test_client()
    body = Body(HUGE)
    response, seconds = timed(
        lambda: browser.post(acs_url(acme.integration_id), environ_overrides=_environ(body, None))
    )
    _assert_413(app, browser, response, before)
    assert body.read_bytes <= LIMIT + 64 * 1024, body.read_bytes
    assert seconds < yardstick * 5


@pytest.mark.parametrize(
    "form",
    [
        "&".join(f"f{i}=x" for i in range(5000)),
        "SAMLResponse=x" + "&" * 100,
        "&".join(["RelayState=/"] * 17),
    ],
    ids=["5000-fields", "empty-fields", "repeated-field"],
)
def test_too_many_urlencoded_fields_are_refused_unparsed(
    app: Flask, acme: Tenant, form: str
) -> None:
    _host_allows_anything(app)
    before = audit_footprint(app)
    browser = app.test_client()
    response = browser.post(
        acs_url(acme.integration_id),
        data=form,
        content_type="application/x-www-form-urlencoded",
    )
    _assert_413(app, browser, response, before)


def test_too_many_multipart_parts_are_refused(app: Flask, acme: Tenant) -> None:
    _host_allows_anything(app)
    before = audit_footprint(app)
    browser = app.test_client()
    response = browser.post(
        acs_url(acme.integration_id),
        data={f"f{i}": "x" for i in range(200)},
        content_type="multipart/form-data",
    )
    _assert_413(app, browser, response, before)


def test_a_multipart_field_over_the_limit_is_refused(app: Flask, acme: Tenant) -> None:
    _host_allows_anything(app)
    before = audit_footprint(app)
    browser = app.test_client()
    from werkzeug.test import encode_multipart

    boundary, body = encode_multipart({"SAMLResponse": "A" * (LIMIT + 10)})
    response = browser.post(
        acs_url(acme.integration_id),
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    _assert_413(app, browser, response, before)


def test_the_limit_is_configurable_and_a_good_sign_in_fits(app: Flask, acme: Tenant) -> None:
    """Positive control: an Okta-sized response passes the default limit."""
    assert app.config["OKTA_SCIM_SSO_MAX_BODY_BYTES"] == LIMIT
    good_sign_in_seconds(app, acme)
    assert authn_requests(app) == 0
