"""Every answer under /scim/v2 is SCIM: unknown paths, methods, sizes, throttling, crashes."""

from __future__ import annotations

import json
import time
import typing as t

import pytest

from flask_okta_scim import signals
from tests.conftest import ScimClient
from tests.conftest import assert_scim_error
from tests.conftest import user_body


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/Nope", 404),
        ("GET", "/", 404),
        ("GET", "/Users/a/b", 404),
        ("POST", "/ServiceProviderConfig", 405),
        ("DELETE", "/Schemas", 405),
        ("PUT", "/Users", 405),
        ("DELETE", "/Groups", 405),
        ("POST", "/Bulk", 501),
        ("GET", "/Me", 501),
        ("GET", "/.search", 405),
        ("PUT", "/Users/.search", 405),
        ("GET", "/Schemas/urn:nope", 404),
        # odd paths are SCIM 404s too, never the host's page or a redirect
        ("PATCH", "/Users/%2F%0A", 404),
        ("GET", "//Users", 404),
        ("DELETE", "/Users//x", 404),
        ("GET", "/Groups/%0A", 404),
        ("GET", "", 404),
    ],
)
def test_errors_are_scim_bodies(scim, method, path, status):
    assert_scim_error(scim.request(method, path), status)


def test_discovery_is_readable_without_a_token(app):
    client = app.test_client()
    config = client.get("/scim/v2/ServiceProviderConfig").get_json(force=True)
    assert config["patch"]["supported"] is True and config["bulk"]["supported"] is False
    assert config["etag"]["supported"] is True and config["filter"]["maxResults"] == 200
    types = client.get("/scim/v2/ResourceTypes").get_json(force=True)
    assert [r["id"] for r in types["Resources"]] == ["User", "Group"]
    user_schema = client.get(
        "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"
    ).get_json(force=True)
    assert user_schema["name"] == "User"


def test_missing_token_is_401_with_www_authenticate(app):
    r = app.test_client().get("/scim/v2/Users")
    assert_scim_error(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_bad_bodies_are_400_and_change_nothing(scim):
    for data in ("not json", "[1, 2]", '"text"', "{"):
        assert_scim_error(scim.request("POST", "/Users", data), 400)
    assert scim.get("/Users").get_json(force=True)["totalResults"] == 0


def test_bad_paging_arguments(scim):
    assert_scim_error(scim.get("/Users?count=abc"), 400)
    page = scim.get("/Users?startIndex=-5&count=-1").get_json(force=True)
    assert page["startIndex"] == 1 and page["itemsPerPage"] == 0


def test_oversized_bodies_are_413(app, scim_org):
    from sample_app import create_app

    small = create_app({**app.config, "OKTA_SCIM_MAX_BODY_BYTES": 2048})
    client = ScimClient(small, scim_org[1])
    body = user_body("big@acme.example", title="x" * 5000)
    assert_scim_error(client.post("/Users", body), 413)
    with small.app_context():
        from sample_app.models import db

        db.engine.dispose()


def test_rate_limit_answers_429_with_an_integer_retry_after(app, scim_org):
    from sample_app import create_app

    limited = create_app({**app.config, "OKTA_SCIM_RATE_LIMIT": "3/minute"})
    client = ScimClient(limited, scim_org[1])
    statuses = [client.get("/Users").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    r = client.get("/Users")
    assert_scim_error(r, 429)
    assert r.headers["Retry-After"].isdigit() and 1 <= int(r.headers["Retry-After"]) <= 60
    # a refused write is in the audit log, so an admin can see the limit getting in the way
    assert_scim_error(client.post("/Users", user_body("late@acme.example")), 429)
    with limited.app_context():
        from sample_app.models import db
        from sample_app.models import okta

        directory = okta.directory()
        failures = [
            r
            for r in directory.audit_log(directory.get_organization("Acme"))
            if r.outcome == "failure"
        ]
        assert [(r.action, r.detail["status"]) for r in failures] == [("scim.post", 429)]
        db.session.remove()
        db.engine.dispose()


def test_every_rate_of_a_list_applies_and_sets_the_retry_after():
    from flask_okta_scim.scim import errors
    from flask_okta_scim.web.scim_guard import RateLimiter

    # the second rate is the one used up: an hour's window, so far more than 60 seconds
    limiter = RateLimiter("100/minute;3/hour", "memory://")
    for _ in range(3):
        limiter.hit("org-1")
    with pytest.raises(errors.TooManyRequests) as raised:
        limiter.hit("org-1")
    assert 60 < int(raised.value.headers["Retry-After"]) <= 3600
    limiter.hit("org-2")  # counted per organization


def test_the_in_process_rate_limit_starts_no_thread_per_request(monkeypatch):
    """limits' memory storage starts a timer thread every few hits; ours sweeps inline."""
    import threading

    from flask_okta_scim.web.rate_storage import ProcessMemoryStorage
    from flask_okta_scim.web.scim_guard import RateLimiter

    limiter = RateLimiter("1000/second", "memory://")
    assert isinstance(limiter.limiter.storage, ProcessMemoryStorage)
    started: list[t.Any] = []
    monkeypatch.setattr(threading.Thread, "start", lambda self: started.append(self))
    for _ in range(300):
        limiter.hit("org-1")
    assert started == []


def test_expired_windows_are_swept_from_the_in_process_storage(monkeypatch):
    from flask_okta_scim.web import rate_storage

    storage = rate_storage.ProcessMemoryStorage("memory://")
    storage.incr("org-1", expiry=1)
    storage.incr("org-2", expiry=60)
    later = time.time() + 2
    monkeypatch.setattr(rate_storage.time, "time", lambda: later)
    monkeypatch.setattr(storage, "_swept", storage._swept - storage.SWEEP_EVERY)
    storage.incr("org-3", expiry=60)
    assert set(storage.expirations) == {"org-2", "org-3"}
    assert storage.get("org-2") == 1


def test_unexpected_exceptions_are_a_generic_scim_500(scim, caplog):
    def crash(sender, **kwargs):
        raise ZeroDivisionError("secret internals")

    signals.user_provisioned.connect(crash)
    try:
        r = scim.post("/Users", user_body("crash@acme.example"))
    finally:
        signals.user_provisioned.disconnect(crash)
    assert_scim_error(r, 500)
    assert "secret internals" not in r.get_data(as_text=True)
    assert "ZeroDivisionError" in caplog.text
    # nothing was kept
    assert scim.get("/Users").get_json(force=True)["totalResults"] == 0


def test_other_paths_keep_the_host_error_pages(client):
    r = client.get("/no-such-page")
    assert r.status_code == 404
    assert r.mimetype == "text/html"


def test_error_body_is_valid_json_with_string_status(scim):
    r = scim.get("/Users/does-not-exist")
    body = json.loads(r.get_data(as_text=True))
    assert body["status"] == "404" and isinstance(body["status"], str)
