"""Okta's bulk assignment over HTTP: ours, persisting, against scim2-server's in-memory store.

When an administrator assigns N people to the app at once, Okta's provisioning engine
sends, for each person, ``GET /Users?filter=userName eq "..."`` (answered with an empty
list: the person is new) then ``POST /Users`` with Okta's whole body. It sends several
people's requests at once: we assume ``--concurrency`` of them (default 4). Okta does not
publish its provisioning parallelism; 4 is our assumption, not a measured figure.

Client: the testing kit's ``SimulatedSCIMClient`` (Okta's headers, filter and body,
``flask_okta_scim/testing/scim_client.py``) over its ``HTTPTransport`` (one connection
per request), one client per thread of a pool of ``--concurrency`` threads, in this
process. Every server gets the same people, the same client and the same concurrency.

Servers, each a gunicorn with the ``gthread`` worker class and ``--concurrency`` threads
per worker, on 127.0.0.1:

- **scim2-server** (the baseline): its ``InMemoryStorage`` behind its bearer-token WSGI
  application, built as its ``scim2-server`` command builds it
  (``benchmarks/scim2_server_app.py``), in one worker process: its store is that
  process's memory.
- **ours on PostgreSQL**: the sample app (``sample_app:create_app()``), ``--workers``
  processes (default 2, one per core of the development machines), every create
  committed.
- **ours on SQLite**: the sample app in one worker process (SQLite takes one writer at
  a time), every create committed to a file.

People are sent in ``--rounds`` rounds; in each round every server onboards its share,
the servers in a random order, so that a change of the machine's load hits them alike.
A server's figure is all its people over all its time. Before the rounds, each server
onboards a few other people (warm-up, not counted); afterwards, each is asked how many
users it holds. After the warm-up and each round, our PostgreSQL database is analyzed
(not timed), standing in for autovacuum, which the development machines' and CI's
PostgreSQL runs without (see ``Target.between_rounds``). Printed: people per second for
each server, the median time of each request kind, and ours / scim2-server (target,
SPEC §6: >= 1).
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

from benchmarks.scim_lookup import drop_database
from benchmarks.scim_lookup import fresh_database
from benchmarks.scim_lookup import populate
from flask_okta_scim.testing.scim_client import HTTPTransport
from flask_okta_scim.testing.scim_client import Reply
from flask_okta_scim.testing.scim_client import SimulatedSCIMClient
from sample_app import create_app
from sample_app.models import db
from tests.sample_server import free_port
from tests.sample_server import stop_process_group

ROOT = Path(__file__).resolve().parent.parent
POSTGRESQL = "postgresql+psycopg://postgres@127.0.0.1:5432"
#: Seconds a server may take to answer once started.
START_TIMEOUT = 60
SCIM2_SERVER_TOKEN = "scim2-server bench token"


class TimedTransport(HTTPTransport):
    """:class:`HTTPTransport` that records how long each request took, by method."""

    def __init__(self, scim_base_url: str, times: dict[str, list[float]]) -> None:
        super().__init__(scim_base_url)
        self.times = times

    def __call__(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> Reply:
        start = time.perf_counter()
        reply = super().__call__(method, path, headers, body)
        self.times.setdefault(method, []).append(time.perf_counter() - start)
        return reply


class Target:
    """One server under test: its SCIM base URL, its token, and what it was timed at.

    ``database`` is our server's database URL (``None`` for scim2-server): on PostgreSQL
    it is analyzed after each round (:meth:`between_rounds`).
    """

    def __init__(
        self,
        name: str,
        scim_base_url: str,
        token: str,
        database: str | None = None,
        *,
        password: bool = False,
    ) -> None:
        self.name = name
        #: Whether each create carries a password, as Okta's always does (``--password``).
        self.password = password
        self.scim_base_url = scim_base_url
        self.token = token
        self.database = database
        self.elapsed = 0.0
        self.people = 0
        self.times: dict[str, list[float]] = {}
        self.rates: list[float] = []

    def onboard(self, emails: list[str], concurrency: int, *, counted: bool = True) -> None:
        """Assign ``emails`` as Okta does, ``concurrency`` at a time, one client per thread."""
        local = threading.local()
        transports: list[TimedTransport] = []
        lock = threading.Lock()

        def assign(email: str) -> None:
            client = getattr(local, "client", None)
            if client is None:
                transport = TimedTransport(self.scim_base_url, {})
                client = local.client = SimulatedSCIMClient(transport, self.token)
                with lock:
                    transports.append(transport)
            client.assign(email, password=secrets.token_urlsafe(12) if self.password else None)
            assert [s.method for s in client.log[-2:]] == ["GET", "POST"], client.log[-2:]

        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(assign, emails))
        elapsed = time.perf_counter() - start
        if counted:
            self.elapsed += elapsed
            self.people += len(emails)
            self.rates.append(len(emails) / elapsed)
            for transport in transports:
                for method, samples in transport.times.items():
                    self.times.setdefault(method, []).extend(samples)

    def between_rounds(self) -> None:
        """``ANALYZE`` our PostgreSQL database, as autovacuum does while tables grow.

        The servers of the development machines and CI run with autovacuum off. Without
        fresh statistics, the plans PostgreSQL caches for the prepared statements of each
        connection keep the sequential scans chosen while the tables were small, and each
        create costs more as the organization grows: not what a deployment (autovacuum
        on, PostgreSQL's default) sees. Not timed.
        """
        if self.database is None or make_url(self.database).get_backend_name() != "postgresql":
            return
        engine = create_engine(self.database, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
        engine.dispose()

    def user_count(self) -> int:
        """How many users the server holds (``GET /Users?count=1``)."""
        client = SimulatedSCIMClient(HTTPTransport(self.scim_base_url), self.token)
        return int(client.request("GET", "/Users?count=1").json["totalResults"])

    def figures(self) -> dict[str, float]:
        return {
            "people_per_s": self.people / self.elapsed,
            "people_per_s_by_round": self.rates,
            "lookup_ms": statistics.median(self.times["GET"]) * 1000,
            "create_ms": statistics.median(self.times["POST"]) * 1000,
        }


@contextmanager
def gunicorn(
    app: str,
    *,
    workers: int,
    threads: int,
    env: dict[str, str],
    ready_path: str,
    log: Path,
) -> Iterator[str]:
    """Serve the WSGI ``app`` (gunicorn's ``module:callable()``) on a free port of 127.0.0.1;
    yield its base URL (``{port}`` in ``env``'s values is replaced by the port)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    full_env.update({k: v.format(port=port) for k, v in env.items()})
    full_env["PYTHONPATH"] = str(ROOT)
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--config",
        str(Path(__file__).with_name("gunicorn_config.py")),
        app,
    ]
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {log.read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(base + ready_path, timeout=5):
                    break
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not answer: {log}") from None
                time.sleep(0.2)
        yield base
    finally:
        stop_process_group(process)


def our_database(database: str) -> tuple[str, str]:
    """A fresh database with the sample app's tables and one organization whose SCIM
    provisioning is on; returns (URL, token)."""
    url = fresh_database(database)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        db.create_all()
    token, _, _ = populate(app, "Onboarding", 0, 0)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return url, token


def measure(
    databases: t.Sequence[str] = ("sqlite", POSTGRESQL),
    *,
    people: int = 10000,
    concurrency: int = 4,
    workers: int = 2,
    rounds: int = 8,
    warmup: int = 40,
    password: bool = False,
) -> dict[str, t.Any]:
    """Onboard ``people`` on scim2-server and on ours on each of ``databases``; returns
    people per second and median request times for each, and the ratios.

    The servers' logs are kept (and named on stderr) only when something fails."""
    logs = Path(tempfile.mkdtemp(prefix="okta-scim-bench-onboarding-"))
    emails = [f"person{i}.onboarding@bench.example" for i in range(people)]
    warm = [f"warmup{i}.onboarding@bench.example" for i in range(warmup)]
    urls: list[str] = []
    try:
        targets = _onboard(
            databases, urls, logs, emails, warm, concurrency, workers, rounds, password
        )
    except BaseException:
        print(f"onboarding failed; the servers' logs are in {logs}", file=sys.stderr)
        raise
    for url in urls:
        drop_database(url)
    shutil.rmtree(logs)
    result: dict[str, t.Any] = {target.name: target.figures() for target in targets}
    baseline = result["scim2_server"]["people_per_s"]
    for target in targets[1:]:
        result[f"ratio_{target.name}_vs_scim2_server"] = (
            result[target.name]["people_per_s"] / baseline
        )
    return result


def _onboard(
    databases: t.Sequence[str],
    urls: list[str],
    logs: Path,
    emails: list[str],
    warm: list[str],
    concurrency: int,
    workers: int,
    rounds: int,
    password: bool = False,
) -> list[Target]:
    """Serve scim2-server and ours (adding our databases to ``urls``), onboard, check."""
    targets: list[Target] = []
    with ExitStack() as stack:
        base = stack.enter_context(
            gunicorn(
                "benchmarks.scim2_server_app:create_app()",
                workers=1,
                threads=concurrency,
                env={"SCIM2_SERVER_BEARER_TOKEN": SCIM2_SERVER_TOKEN},
                ready_path="/v2/ServiceProviderConfig",
                log=logs / "scim2-server.log",
            )
        )
        targets.append(Target("scim2_server", base + "/v2", SCIM2_SERVER_TOKEN, password=password))
        for database in databases:
            kind = "sqlite" if database.startswith("sqlite") else "postgresql"
            url, token = our_database(database)
            urls.append(url)
            base = stack.enter_context(
                gunicorn(
                    "sample_app:create_app()",
                    workers=1 if kind == "sqlite" else workers,
                    threads=concurrency,
                    env={
                        "FLASK_SQLALCHEMY_DATABASE_URI": url,
                        "FLASK_SECRET_KEY": "bench",
                        "FLASK_OKTA_SCIM_BASE_URL": "http://127.0.0.1:{port}",
                        "FLASK_OKTA_SCIM_RATE_LIMIT": "100000000/minute",
                    },
                    ready_path="/scim/v2/ServiceProviderConfig",
                    log=logs / f"ours-{kind}.log",
                )
            )
            targets.append(Target(kind, base + "/scim/v2", token, url, password=password))
        for target in targets:
            target.onboard(warm, concurrency, counted=False)
            target.between_rounds()
        shares = [emails[i::rounds] for i in range(rounds)]
        for share in shares:
            for target in random.sample(targets, len(targets)):
                target.onboard(share, concurrency)
                target.between_rounds()
        for target in targets:
            held = target.user_count()
            assert held == len(emails) + len(warm), (target.name, held)
    return targets


def report(result: dict[str, t.Any], people: int, concurrency: int) -> None:
    print(f"{people} people, {concurrency} at a time")
    print(f"{'server':14s} {'people/s':>9s} {'lookup ms':>10s} {'create ms':>10s}")
    for name, figures in result.items():
        if isinstance(figures, dict):
            print(
                f"{name:14s} {figures['people_per_s']:9.1f} {figures['lookup_ms']:10.2f} "
                f"{figures['create_ms']:10.2f}"
            )
    for name, value in result.items():
        if name.startswith("ratio_"):
            print(f"{name} (target >= 1): {value:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database",
        action="append",
        help="a PostgreSQL server URL, or 'sqlite'; repeat for both (default: both)",
    )
    parser.add_argument("--people", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=4, help="Okta's parallel requests")
    parser.add_argument("--workers", type=int, default=2, help="our gunicorn workers (PostgreSQL)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument(
        "--password",
        action="store_true",
        help="send a password with each create, as Okta does (hashed with scrypt by ours)",
    )
    args = parser.parse_args()
    result = measure(
        args.database or ["sqlite", POSTGRESQL],
        people=args.people,
        concurrency=args.concurrency,
        workers=args.workers,
        rounds=args.rounds,
        password=args.password,
    )
    report(result, args.people, args.concurrency)


if __name__ == "__main__":
    main()
