"""The sample app as it is deployed: ``gunicorn -w 4`` on PostgreSQL, driven over real HTTP.

The module-scoped :func:`races` fixture creates a fresh PostgreSQL database, creates the
sample app's tables with ``flask --app sample_app init-db``, sets up an organization with
the ``okta-scim`` commands (``org create``, ``sso connect``, ``scim enable``), serves
the app with gunicorn (4 worker processes, so that concurrent requests run on separate
processes and database connections, as in production) on a free port of 127.0.0.1, and
stops it afterwards. Where PostgreSQL or gunicorn is missing the tests are skipped with
the reason, unless ``OKTA_SCIM_REQUIRE_SERVICES=1``, which makes that a failure.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import re
import sys
import threading
import typing as t
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.engine import make_url

from sample_app import create_app
from sample_app.models import db
from sample_app.models import okta
from tests.conftest import OKTA_HEADERS
from tests.conftest import fresh_postgres_database
from tests.conftest import okta_cli_ok
from tests.conftest import service_missing
from tests.sample_server import SampleServer

#: gunicorn's worker processes, and threads per process (``gthread``: 16 requests at once).
WORKERS = 4
THREADS = 4
#: Seconds one HTTP request may take; the start barrier of a round waits at most this too.
TIMEOUT = 30
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
#: PostgreSQL's server log, if this machine can read it: a failing race quotes what it
#: logged for the race database (``/var/log/postgresql/postgresql-15-main.log`` on Debian).
POSTGRES_LOG = os.environ.get("OKTA_SCIM_TEST_POSTGRES_LOG")


class GunicornServer(SampleServer):
    """The sample app served by ``gunicorn -w 4 'sample_app:create_app()'``."""

    name = "gunicorn"
    ready_line = "Listening at: http://127.0.0.1:{port}"
    port_taken_lines = ("Connection in use",)

    def __init__(self, *args: t.Any, worker_class: str, **kwargs: t.Any) -> None:
        self.worker_class = worker_class
        super().__init__(*args, **kwargs)

    def serve_command(self) -> list[str]:
        threads = ["--threads", str(THREADS)] if self.worker_class == "gthread" else []
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(WORKERS),
            "--worker-class",
            self.worker_class,
            *threads,
            "--bind",
            f"127.0.0.1:{self.port}",
            "--timeout",
            str(TIMEOUT * 2),
            "--graceful-timeout",
            "5",
            "--config",
            str(Path(__file__).with_name("gunicorn_config.py")),
            "sample_app:create_app()",
        ]

    def output_since(self, offset: int) -> str:
        """What the server logged after byte ``offset`` of its log."""
        with open(self.log, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0


@pytest.fixture(scope="module")
def race_database() -> Iterator[str]:
    """A fresh PostgreSQL database of its own, dropped afterwards; its URL.

    Its ``deadlock_timeout`` is 100 ms (PostgreSQL's default is 1 s): deadlocks are the
    same, found sooner, so that the races that cause them take less time.
    """
    with fresh_postgres_database(
        f"flask_okta_scim_races_{os.getpid()}", "deadlock_timeout = '100ms'"
    ) as url:
        yield url


@pytest.fixture(scope="module")
def race_app(race_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The sample app on :func:`race_database`, its tables made by ``flask init-db``."""
    SampleServer(race_database, tmp_path_factory.mktemp("init-db") / "init-db.log").ok("init-db")
    app = create_app({"SQLALCHEMY_DATABASE_URI": race_database, "SECRET_KEY": "races"})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module", params=["sync", "gthread"])
def gunicorn(
    request: pytest.FixtureRequest, race_app: Flask, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GunicornServer]:
    """gunicorn with 4 workers of one class (``sync``, then ``gthread``) on the race database."""
    if importlib.util.find_spec("gunicorn") is None:
        service_missing("gunicorn is not installed (pip install gunicorn)")
    worker_class = t.cast(str, request.param)
    server = GunicornServer(
        race_app.config["SQLALCHEMY_DATABASE_URI"],
        tmp_path_factory.mktemp("races") / f"gunicorn-{worker_class}.log",
        worker_class=worker_class,
        # The rate limit has its own tests; these send hundreds of requests a minute.
        env={
            "FLASK_OKTA_SCIM_RATE_LIMIT": "100000/minute",
            # Races delete by the dozen; the guard has its own tests.
            "FLASK_OKTA_SCIM_GUARD_DEACTIVATIONS": "0",
            "FLASK_OKTA_SCIM_GUARD_DEACTIVATION_PERCENT": "0",
            "FLASK_OKTA_SCIM_GUARD_TEAM_DELETIONS": "0",
        },
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def races(race_app: Flask, gunicorn: GunicornServer) -> RaceClient:
    """A SCIM client of a new organization, set up as an operator does, its token used once.

    ``okta-scim scim enable`` needs a first sign-in through Okta, which no command makes:
    :meth:`mark_connected` records it. The first use of a token writes to its row; using
    it once here keeps that write out of the races.
    """
    org = f"Acme {gunicorn.worker_class}"
    org_id = okta_cli_ok(race_app, "org", "create", org).strip()
    okta_cli_ok(race_app, "sso", "connect", org_id)
    with race_app.app_context(), okta.directory(actor="test").atomic() as directory:
        directory.mark_connected(directory.get_connection(directory.get_organization(org_id)))
    token = okta_cli_ok(race_app, "scim", "enable", org_id).strip()
    client = RaceClient(gunicorn, token, domain=f"{gunicorn.worker_class}.atko.test")
    assert client.send("GET", "/Users?count=1").status == 200
    return client


class Answer(t.NamedTuple):
    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: t.Any

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status} {self.body!r}"

    @property
    def version(self) -> int:
        """The resource version of the ``ETag`` (``W/"7"`` is 7)."""
        return int(self.headers["ETag"].strip('W/"'))


class RaceClient:
    """Okta's headers and the organization's token over HTTP; one connection per request."""

    def __init__(self, server: GunicornServer, token: str, domain: str) -> None:
        self.server = server
        self.token = token
        self.domain = domain

    def email(self, local: str) -> str:
        """An address of this client's own domain: no person is shared with another run."""
        return f"{local}@{self.domain}"

    def send(
        self, method: str, path: str, body: t.Any = None, headers: dict[str, str] | None = None
    ) -> Answer:
        all_headers = {**OKTA_HEADERS, "Authorization": f"Bearer {self.token}", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/scim+json; charset=utf-8"
        request = urllib.request.Request(
            self.server.url("/scim/v2" + path), data=data, method=method, headers=all_headers
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                raw, status, got = response.read(), response.status, response.headers
        except urllib.error.HTTPError as error:
            with error:
                raw, status, got = error.read(), error.code, error.headers
        if got.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        return Answer(method, path, status, dict(got.items()), body)

    def ok(self, method: str, path: str, body: t.Any = None, status: int = 200) -> Answer:
        """A request outside the races, which must answer ``status``."""
        answer = self.send(method, path, body)
        assert answer.status == status, str(answer)
        return answer


def together(n: int, work: Callable[[int], Answer]) -> list[Answer]:
    """Run ``work(0..n-1)`` on ``n`` threads released at once by a barrier; the answers in order."""
    barrier = threading.Barrier(n, timeout=TIMEOUT)

    def run(i: int) -> Answer:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(run, i) for i in range(n)]
        return [f.result(timeout=TIMEOUT * 3) for f in futures]


def is_scim_error(answer: Answer) -> bool:
    """An RFC 7644 §3.12 error body with the SCIM media type and the answer's status."""
    body = answer.body
    return (
        answer.headers.get("Content-Type", "").startswith("application/scim+json")
        and isinstance(body, dict)
        and body.get("schemas") == [ERROR]
        and body.get("status") == str(answer.status)
        and isinstance(body.get("detail"), str)
        and bool(body["detail"])
    )


@dataclass
class Tally:
    """What one race saw over its rounds; a failure message with the server's log."""

    race: str
    server: GunicornServer
    rounds: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: int = 0
    lost_updates: int = 0
    problems: list[str] = field(default_factory=list)
    log_start: int = 0
    postgres_log_start: int = 0

    def __post_init__(self) -> None:
        self.log_start = self.server.log_size()
        self.postgres_log_start = _size(POSTGRES_LOG)

    def count(self, answers: list[Answer]) -> None:
        """Count a round's answers; every 5xx is a problem."""
        self.rounds += 1
        self.statuses.update(a.status for a in answers)
        for answer in answers:
            if answer.status >= 500:
                self.server_errors += 1
                self.problems.append(f"round {self.rounds}: server error: {answer}")

    def expect(self, condition: bool, message: str, *, lost_update: bool = False) -> None:
        """Record ``message`` as a problem of this round unless ``condition``."""
        if not condition:
            self.lost_updates += lost_update
            self.problems.append(f"round {self.rounds}: {message}")

    def summary(self) -> str:
        return (
            f"{self.race} on gunicorn -w {WORKERS} -k {self.server.worker_class}: "
            f"{self.rounds} rounds, statuses {dict(sorted(self.statuses.items()))}, "
            f"5xx {self.server_errors}, lost updates {self.lost_updates}, "
            f"problems {len(self.problems)}"
        )

    def check(self) -> None:
        """Fail with every problem and what the server logged during the race.

        A traceback or a worker timeout in the server's log is a problem too, even when
        every answer was right.
        """
        output = self.server.output_since(self.log_start)
        for sign in ("Traceback", "WORKER TIMEOUT"):
            if sign in output:
                self.problems.append(f"the server logged {output.count(sign)} x {sign!r}")
        SUMMARIES.append(self.summary())
        if not self.problems:
            return
        shown = "\n".join(self.problems[:40])
        more = f"\n... and {len(self.problems) - 40} more" if len(self.problems) > 40 else ""
        log = _diagnostics(output)
        pytest.fail(
            f"{self.summary()}\n{shown}{more}\n--- server log during the race:\n{log}"
            + _postgres_log(self.postgres_log_start, self.server.database_url),
            pytrace=False,
        )


def _diagnostics(log: str, limit: int = 12000) -> str:
    """The tracebacks and database errors of a gunicorn log, the first ``limit`` characters."""
    kept = [
        block
        for block in re.split(r"\n(?=\[)", log)  # each entry starts with "[time]" or "[pid]"
        if any(word in block for word in ("Traceback", "DATABASE ERROR", "ERROR", "CRITICAL"))
    ]
    text = "\n".join(kept) or "(no tracebacks or database errors)"
    return text if len(text) <= limit else text[:limit] + "\n... (cut)"


def _size(path: str | None) -> int:
    return os.path.getsize(path) if path and os.access(path, os.R_OK) else 0


def _postgres_log(offset: int, database_url: str, limit: int = 12000) -> str:
    """The errors PostgreSQL logged for the race database after ``offset`` (a deadlock's
    log entry names both statements), when :data:`POSTGRES_LOG` is readable."""
    if not POSTGRES_LOG or not os.access(POSTGRES_LOG, os.R_OK):
        return ""
    with open(POSTGRES_LOG, "rb") as f:
        f.seek(offset)
        lines = f.read().decode(errors="replace").splitlines()
    name, kept, keep = make_url(database_url).database or "", [], False
    for line in lines:
        if not line.startswith("\t"):  # a continuation line belongs to the entry above
            keep = f"@{name} " in line
        if keep:
            kept.append(line)
    text = "\n".join(kept) or "(nothing)"
    cut = text if len(text) <= limit else text[:limit] + "\n... (cut)"
    return f"\n--- PostgreSQL's log ({POSTGRES_LOG}) for the race database:\n{cut}"


#: One line per race run, printed at the end of the session.
SUMMARIES: list[str] = []


def pytest_terminal_summary(terminalreporter: t.Any) -> None:
    if SUMMARIES:
        terminalreporter.section("SCIM races on gunicorn")
        for line in SUMMARIES:
            terminalreporter.write_line(line)


@pytest.fixture
def tally(request: pytest.FixtureRequest, races: RaceClient) -> Tally:
    return Tally(request.node.originalname, races.server)
