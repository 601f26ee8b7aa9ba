"""SQLite's one writer: a request that waited past the driver's timeout is run again.

SQLite takes one write transaction at a time; another connection that wants to
write waits (the driver's ``timeout``) and then gets "database is locked". A
SCIM write that meets it is run again, as a PostgreSQL deadlock is; if the lock
outlasts every run, the answer is a 409 (send it again), never a 500. Okta's
creates carry a password, hashed (about a tenth of a second) before the
transaction's first write, so that the lock is not held through the hash.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import typing as t
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from sample_app.models import okta
from tests.conftest import OKTA_HEADERS
from tests.conftest import ScimClient
from tests.conftest import assert_scim_error
from tests.conftest import provisioning_org
from tests.conftest import sample_app_on
from tests.conftest import user_body


@pytest.fixture
def sqlite_file(tmp_path: t.Any) -> str:
    return str(tmp_path / "busy.sqlite")


def app_with_timeout(path: str, seconds: float) -> t.Any:
    return sample_app_on(
        f"sqlite:///{path}",
        "sqlite",
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"timeout": seconds}},
    )


def hold_write_lock(path: str, seconds: float) -> threading.Thread:
    """Another connection takes SQLite's write lock for ``seconds``; returns once it holds it."""
    taken = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        taken.set()
        time.sleep(seconds)
        other.execute("COMMIT")
        other.close()

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait(5)
    return thread


def users(app: t.Any) -> list[str]:
    with app.app_context():
        directory = okta.directory()
        ident = directory.models.identity
        return sorted(directory.session.scalars(select(ident.user_name)))


def test_a_create_that_waited_past_the_timeout_is_run_again(sqlite_file):
    with app_with_timeout(sqlite_file, 0.05) as app:
        _, token = provisioning_org(app, "Acme")
        scim = ScimClient(app, token)
        holder = hold_write_lock(sqlite_file, 0.12)
        r = scim.post("/Users", user_body("ann@acme.example"))
        holder.join()
        assert r.status_code == 201, r.get_data(as_text=True)
        assert users(app) == ["ann@acme.example"]


def test_a_lock_that_outlasts_every_run_is_a_409_and_changes_nothing(sqlite_file):
    with app_with_timeout(sqlite_file, 0.02) as app:
        _, token = provisioning_org(app, "Acme")
        scim = ScimClient(app, token)
        holder = hold_write_lock(sqlite_file, 1.5)
        r = scim.post("/Users", user_body("ann@acme.example"))
        holder.join()
        assert_scim_error(r, 409)
        assert users(app) == []
        # Sent again, it is made.
        assert scim.post("/Users", user_body("ann@acme.example")).status_code == 201


def test_parallel_creates_with_passwords_all_succeed_on_sqlite(sqlite_file):
    """Okta's bulk assignment, 4 at a time, each create with a password (scrypt)."""
    with app_with_timeout(sqlite_file, 5.0) as app:
        _, token = provisioning_org(app, "Acme")
        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        base = f"http://127.0.0.1:{server.server_port}/scim/v2"
        try:

            def create(n: int) -> int:
                body = user_body(f"p{n}@acme.example", password=f"Okta-random-{n}!")
                request = urllib.request.Request(
                    base + "/Users",
                    data=json.dumps(body).encode(),
                    method="POST",
                    headers={
                        **OKTA_HEADERS,
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/scim+json",
                    },
                )
                try:
                    with urllib.request.urlopen(request, timeout=60) as reply:
                        return int(reply.status)
                except urllib.error.HTTPError as e:
                    return int(e.code)

            with ThreadPoolExecutor(4) as pool:
                statuses = list(pool.map(create, range(16)))
        finally:
            server.shutdown()
            thread.join()
        assert statuses == [201] * 16
        assert len(users(app)) == 16
