"""Scale-out: the sample app under gunicorn with 1, 2 and 4 workers, driven by mixed traffic.

For each worker count, the sample app is served by ``gunicorn --workers N``, every
server on one PostgreSQL database, the SCIM rate limit counted in Redis
(``OKTA_SCIM_RATE_LIMIT_STORAGE=redis://...``), as docs/deployment.rst describes. Each
round, for each worker count: a few new organizations are connected to the simulated
Okta (the suite's IdP key, ``tests/data/idp.key``) with provisioning on, each with a
few people and two pushed groups; then a thread pool in this process sends, over HTTP,
the same fixed number of operations, each thread keeping to people of its own so that
the final state is known:

- Okta's SCIM requests (:mod:`flask_okta_scim.testing.scim_client` shapes):
  ``userName eq`` lookups, assignments (lookup, then ``POST /Users``), profile
  updates (``GET``, then ``PUT /Users/{id}``), group ``PATCH`` requests adding a member
  or removing one (``members[value eq "..."]``);
- IdP-initiated sign-ins: a freshly signed response posted to the ACS (signed
  before the clock starts: on two cores, signing in this process would take CPU
  from the server), then ``GET /me`` with the session it opened.

Every server runs from the start and rounds alternate the order of the worker
counts, so that a machine whose load drifts (it is shared) weighs on each alike.
Reported per worker count: requests per second (the median round), p50 and p95
latency (every request), errors (any status other than the one expected, printed
as it happens, and any traceback or restarted worker in gunicorn's log), CPU used
by the workers, the database, this client and the whole machine, and the scaling
factor (throughput / throughput of the smallest worker count). After each round the
database is checked: no duplicated person, every person created present with the
last profile sent, group and team members as the threads left them. Exits 1 on any
error or failed check; ``--json PATH`` writes the figures, errors and problems.

Workers are ``sync`` by default: one request at a time per process, so that the
worker count is the server's concurrency and the scaling measured is that of
processes (``--worker-class gthread --threads 4`` to compare). The client keeps
``--clients`` requests in flight (8), more than the largest worker count, so that
no worker waits for work. The SCIM rate limit is set far above the load (it is
still counted in Redis on every request); the mass-deprovisioning guard keeps its
defaults (nothing here deactivates anyone).

Run with the project's virtualenv::

    .venv/bin/python benchmarks/scale_out.py            # 3 rounds of 1, 2, 4 workers: < 5 min
    .venv/bin/python benchmarks/scale_out.py --quick --workers 1 2   # one round: < 1 min
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import typing as t
import urllib.parse
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from limits.storage import storage_from_string
from sqlalchemy import create_engine
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.engine import make_url

from flask_okta_scim.testing.idp import SimulatedIdP
from flask_okta_scim.testing.organizations import ReadyOrganization
from flask_okta_scim.testing.organizations import ready_organization
from flask_okta_scim.testing.scim_client import HTTPTransport
from flask_okta_scim.testing.scim_client import Reply
from flask_okta_scim.testing.scim_client import SCIMRequestFailed
from flask_okta_scim.testing.scim_client import SimulatedSCIMClient
from sample_app import create_app
from sample_app.models import db
from sample_app.models import okta
from tests.sample_server import SECRET_KEY
from tests.sample_server import SampleServer

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
SSO_PREFIX = "/users/sign-in/sso/okta"
#: Far above the load, so that no request is refused; still counted in Redis every time.
RATE_LIMIT = "100000/second;1000000/minute"
#: Operations and their weights: Okta looks people up far more than it changes them.
MIX = {"lookup": 30, "assign": 15, "update": 15, "group": 20, "sign-in": 20}
GROUPS = ("Engineering", "Support")
#: People each thread owns from the start, and people per organization who sign in.
OWN_PEOPLE = 3
SIGNERS = 5


# -- what was measured ---------------------------------------------------------------------------


@dataclass
class Recorder:
    """Every request of a phase: its kind, status and seconds; and every error, in words."""

    samples: list[tuple[str, int, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.samples.append((kind, status, seconds))

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)
        print(f"  ERROR {message}", flush=True)


def scim_kind(method: str, path: str) -> str:
    """What a SCIM request is, for the per-kind figures."""
    resource = path.lstrip("/").split("?")[0].split("/")[0]
    if method == "GET" and "?filter=" in path:
        return "SCIM lookup"
    return f"SCIM {method} {resource}" + ("/{id}" if path.count("/") > 1 else "")


class TimedTransport(HTTPTransport):
    """Okta's requests over HTTP (no keep-alive, as the sync workers close each connection),
    each timed and recorded."""

    def __init__(self, scim_base_url: str, recorder: Recorder) -> None:
        super().__init__(scim_base_url)
        self.recorder = recorder

    def __call__(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> Reply:
        start = time.perf_counter()
        reply = super().__call__(method, path, headers, body)
        self.recorder.add(scim_kind(method, path), reply.status, time.perf_counter() - start)
        return reply


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile ``p`` (0-100) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else math.nan


def process_seconds(pids: t.Iterable[int]) -> dict[int, float]:
    """CPU seconds (user and system) each of ``pids`` used so far; Linux only, else empty."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    found = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError, IndexError):
            continue
    return found


def cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) clock ticks of every CPU of the machine so far; ``None`` off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


# -- the server ----------------------------------------------------------------------------------


class Gunicorn(SampleServer):
    """The sample app served by ``gunicorn --workers N 'sample_app:create_app()'``."""

    name = "gunicorn"
    ready_line = "Listening at: http://127.0.0.1:{port}"
    port_taken_lines = ("Connection in use",)

    def __init__(
        self, *args: t.Any, workers: int, worker_class: str, threads: int, **kwargs: t.Any
    ) -> None:
        self.workers = workers
        self.worker_class = worker_class
        self.threads = threads
        super().__init__(*args, **kwargs)

    def serve_command(self) -> list[str]:
        threads = ["--threads", str(self.threads)] if self.worker_class == "gthread" else []
        config = self.log.with_name("gunicorn_config.py")
        # No control socket (gunicorn 25.1+): its default path is one per machine.
        config.write_text("control_socket_disable = True\n")
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(self.workers),
            "--worker-class",
            self.worker_class,
            *threads,
            "--bind",
            f"127.0.0.1:{self.port}",
            "--config",
            str(config),
            "sample_app:create_app()",
        ]

    def start(self) -> None:
        """Serve; return once every worker has booted (the first answering is not enough)."""
        super().start()
        deadline = time.monotonic() + 30
        while self.since_start().count("Booting worker with pid") < self.workers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"not every worker booted:\n{self.logs()}")
            time.sleep(0.1)

    def worker_pids(self) -> list[int]:
        return [
            int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", self.since_start())
        ]

    def since_start(self) -> str:
        with open(self.log, "rb") as f:
            f.seek(self._log_start)
            return f.read().decode(errors="replace")


# -- the organizations ---------------------------------------------------------------------------


@dataclass
class Organization:
    """An organization of a phase, as its threads see it."""

    ready: ReadyOrganization
    domain: str
    #: SCIM ids by email of the people made at set-up, and the groups' ids by name.
    people: dict[str, str]
    signers: list[str]
    groups: dict[str, str]


def populate(app: t.Any, idp: SimulatedIdP, tag: str, count: int, lanes: int) -> list[Organization]:
    """``count`` new organizations connected to ``idp``, with people and two empty groups,
    made through the SCIM API in this process (the set-up is not measured).

    Client thread ``i`` works in organization ``i % count``, with people of its own.
    """
    made = []
    for n in range(count):
        ready = ready_organization(app, f"Scale {tag} org{n}", idp)
        domain = f"{tag}-org{n}.scale.example"
        scim = ready.scim()
        mine = range(n, lanes, count)
        emails = [f"own-{lane}-{k}@{domain}" for lane in mine for k in range(OWN_PEOPLE)]
        signers = [f"signer-{k}@{domain}" for k in range(SIGNERS)]
        people = {email: scim.assign(email)["id"] for email in emails + signers}
        groups = {name: scim.push_group(name)["id"] for name in GROUPS}
        made.append(Organization(ready, domain, people, signers, groups))
    return made


# -- one thread's work ---------------------------------------------------------------------------


class Lane:
    """One client thread: an organization's token, people of its own, a fixed plan.

    Only this thread changes its people and their group memberships, so what the
    database must hold at the end is what this thread last sent.
    """

    def __init__(
        self,
        index: int,
        org: Organization,
        server: Gunicorn,
        recorder: Recorder,
        operations: int,
        seed: int,
    ) -> None:
        self.index = index
        self.org = org
        self.server = server
        self.recorder = recorder
        self.random = random.Random(seed * 1000 + index)
        self.plan = self.random.choices(list(MIX), weights=list(MIX.values()), k=operations)
        self.client = SimulatedSCIMClient(
            TimedTransport(server.url("/scim/v2"), recorder), t.cast(str, org.ready.token)
        )
        self.client.max_retries = 0  # a 429 is an error here, not a reason to wait
        self.own = [e for e in org.people if e.startswith(f"own-{index}-")]
        for email in self.own:
            self.client.user_ids[email] = org.people[email]
        for name, gid in org.groups.items():
            self.client.group_ids[name] = gid
            self.client.group_members[name] = []
        self.display_names: dict[str, str] = {}
        self.created = 0
        self.responses: list[tuple[str, str]] = []

    def sign_responses(self, idp: SimulatedIdP) -> None:
        """Sign, now, one response per sign-in of the plan (each used once)."""
        for _ in range(self.plan.count("sign-in")):
            email = self.random.choice(self.org.signers)
            xml = idp.for_connection(
                self.org.ready.integration_id, email, base_url=self.server.base_url
            )
            self.responses.append((email, base64.b64encode(xml.encode()).decode()))

    def run(self, start: threading.Barrier) -> None:
        start.wait()
        for step, operation in enumerate(self.plan):
            try:
                getattr(self, operation.replace("-", "_"))()
            except SCIMRequestFailed as e:
                self.recorder.error(f"thread {self.index} step {step} {operation}: {e}")
            except Exception as e:  # a refused connection, a timeout: an error all the same
                self.recorder.error(
                    f"thread {self.index} step {step} {operation}: {type(e).__name__}: {e}"
                )

    def lookup(self) -> None:
        email = self.random.choice(list(self.org.people))
        query = urllib.parse.urlencode(
            {"filter": f'userName eq "{email}"', "startIndex": "1", "count": "100"}
        )
        found = self.client.request("GET", f"/Users?{query}").json
        if found.get("totalResults") != 1:
            self.recorder.error(f"thread {self.index}: lookup of {email} found {found!r}")

    def assign(self) -> None:
        email = f"new-{self.index}-{self.created}@{self.org.domain}"
        self.created += 1
        self.client.assign(email)
        self.own.append(email)

    def update(self) -> None:
        email = self.random.choice(self.own)
        name = f"{email.split('@')[0]} v{self.random.randrange(10**6)}"
        self.client.update(email, display_name=name)
        self.display_names[email] = name

    def group(self) -> None:
        name = self.random.choice(GROUPS)
        email = self.random.choice(self.own)
        if self.client.user_ids[email] in self.client.group_members[name]:
            self.client.remove_members(name, [email])
        else:
            self.client.add_members(name, [email])

    def sign_in(self) -> None:
        email, saml_response = self.responses.pop()
        acs = f"{SSO_PREFIX}/{self.org.ready.integration_id}/acs"
        began = time.perf_counter()
        status, headers, body = self.server.request("POST", acs, {"SAMLResponse": saml_response})
        self.recorder.add("sign-in POST acs", status, time.perf_counter() - began)
        if status != 302 or "cookie:session" not in headers:
            self.recorder.error(f"thread {self.index}: ACS answered {status}: {body[:300]!r}")
            return
        began = time.perf_counter()
        status, _, body = self.server.request(
            "GET", "/me", cookies={"session": headers["cookie:session"]}
        )
        self.recorder.add("sign-in GET /me", status, time.perf_counter() - began)
        if status != 200 or json.loads(body).get("email") != email:
            self.recorder.error(f"thread {self.index}: /me answered {status}: {body[:300]!r}")

    def expected_members(self) -> dict[str, set[str]]:
        """This thread's members of each group, by SCIM id."""
        return {name: set(ids) for name, ids in self.client.group_members.items()}


def warm_up(server: Gunicorn, orgs: list[Organization], idp: SimulatedIdP, workers: int) -> None:
    """A few untimed lookups and sign-ins, so that every worker has served both once."""
    recorder = Recorder()
    lane = Lane(-1, orgs[0], server, recorder, 0, 0)
    lane.plan = ["lookup", "sign-in"] * (3 * workers)
    lane.sign_responses(idp)
    lane.run(threading.Barrier(1))
    if recorder.errors:
        raise RuntimeError(f"the warm-up failed: {recorder.errors}\n{server.logs()}")


# -- the checks ------------------------------------------------------------------------------------


def check(app: t.Any, orgs: list[Organization], lanes: list[Lane]) -> list[str]:
    """What the database must hold after the load; each discrepancy, in words."""
    problems: list[str] = []
    m = okta.models
    with app.app_context():
        for org in orgs:
            org_lanes = [lane for lane in lanes if lane.org is org]
            expected = set(org.people) | {e for lane in org_lanes for e in lane.own}
            rows = db.session.execute(
                select(
                    m.identity.id,
                    m.identity.user_name,
                    m.identity.display_name,
                    m.identity.active,
                    m.identity.account_id,
                ).where(m.identity.organization_id == org.ready.id)
            ).all()
            names = [row.user_name for row in rows]
            duplicated = {n for n in names if names.count(n) > 1}
            if duplicated:
                problems.append(f"{org.domain}: duplicated people {sorted(duplicated)}")
            if missing := expected - set(names):
                problems.append(f"{org.domain}: missing people {sorted(missing)}")
            if extra := set(names) - expected:
                problems.append(f"{org.domain}: unexpected people {sorted(extra)}")
            by_name = {row.user_name: row for row in rows}
            for row in rows:
                if not row.active or row.account_id is None:
                    problems.append(
                        f"{row.user_name}: active {row.active}, account {row.account_id}"
                    )
            for lane in org_lanes:
                for email, display in lane.display_names.items():
                    got = by_name[email].display_name if email in by_name else None
                    if got != display:
                        problems.append(f"{email}: display name {got!r}, expected {display!r}")
            accounts = db.session.scalar(
                select(func.count())
                .select_from(m.account)
                .where(m.account.email.like(f"%@{org.domain}"))
            )
            if accounts != len(expected):
                problems.append(f"{org.domain}: {accounts} accounts for {len(expected)} people")
            ids = {row.id: row for row in rows}
            for name, gid in org.groups.items():
                want = set().union(*(lane.expected_members()[name] for lane in org_lanes))
                got_members = set(
                    db.session.scalars(
                        select(m.group_member.identity_id).where(m.group_member.group_id == gid)
                    )
                )
                if got_members != want:
                    problems.append(
                        f"{org.domain} group {name}: members {len(got_members)}, expected "
                        f"{len(want)}; missing {sorted(want - got_members)}, "
                        f"extra {sorted(got_members - want)}"
                    )
                team_id = db.session.scalar(select(m.group.team_id).where(m.group.id == gid))
                team_accounts = set(
                    db.session.scalars(
                        select(m.team_member.account_id).where(m.team_member.team_id == team_id)
                    )
                )
                want_accounts = {ids[i].account_id for i in want if i in ids}
                if team_accounts != want_accounts:
                    problems.append(
                        f"{org.domain} team {name}: {len(team_accounts)} members, expected "
                        f"{len(want_accounts)}"
                    )
        db.session.remove()
    return problems


# -- one phase: a worker count, one round -----------------------------------------------------


@dataclass
class Phase:
    """What one round with one worker count measured."""

    workers: int
    round: int
    samples: list[tuple[str, int, float]]
    errors: list[str]
    problems: list[str]
    seconds: float
    cpu: dict[str, float | None]

    @property
    def throughput(self) -> float:
        return len(self.samples) / self.seconds


def serve(args: argparse.Namespace, database: str, workers: int) -> Gunicorn:
    """The app under gunicorn with ``workers`` workers, its rate limit counted in Redis."""
    return Gunicorn(
        database,
        Path(args.log_dir) / f"gunicorn-{workers}.log",
        workers=workers,
        worker_class=args.worker_class,
        threads=args.threads,
        env={
            "FLASK_OKTA_SCIM_RATE_LIMIT": RATE_LIMIT,
            "FLASK_OKTA_SCIM_RATE_LIMIT_STORAGE": args.redis,
        },
    )


def phase(
    args: argparse.Namespace, app: t.Any, idp: SimulatedIdP, server: Gunicorn, round_: int
) -> Phase:
    """New organizations, responses signed, a warm-up, then the measured load; the checks."""
    orgs = populate(
        app, idp, f"w{server.workers}r{round_}-{os.getpid()}", args.organizations, args.clients
    )
    recorder = Recorder()
    lanes = [
        Lane(i, orgs[i % len(orgs)], server, recorder, args.operations, args.seed + round_)
        for i in range(args.clients)
    ]
    for lane in lanes:
        lane.sign_responses(idp)
    warm_up(server, orgs, idp, server.workers)
    log_start = server.log.stat().st_size
    start = threading.Barrier(len(lanes) + 1)
    busy_before, client_before = cpu_ticks(), os.times()
    server_before = process_seconds(server.worker_pids())
    database_before = process_seconds(backends(app))
    with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
        futures = [pool.submit(lane.run, start) for lane in lanes]
        start.wait()
        began = time.perf_counter()
        for future in futures:
            future.result()
        elapsed = time.perf_counter() - began
    busy_after, client_after = cpu_ticks(), os.times()
    server_cpu = used(server_before, process_seconds(server.worker_pids()))
    database_cpu = used(database_before, process_seconds(backends(app)))
    with open(server.log, "rb") as f:
        f.seek(log_start)
        output = f.read().decode(errors="replace")
    for sign in ("Traceback", "WORKER TIMEOUT", "Booting worker"):
        if sign in output:
            recorder.error(f"the server logged {output.count(sign)} x {sign!r}: {server.log}")
    client_cpu = sum(client_after[:2]) - sum(client_before[:2])
    machine = None
    if busy_before and busy_after and busy_after[1] > busy_before[1]:
        share = (busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1])
        machine = 100 * share * (os.cpu_count() or 1)
    return Phase(
        server.workers,
        round_,
        recorder.samples,
        recorder.errors,
        check(app, orgs, lanes),
        elapsed,
        {
            "server": 100 * server_cpu / elapsed,
            "database": 100 * database_cpu / elapsed,
            "client": 100 * client_cpu / elapsed,
            "machine": machine,
        },
    )


def backends(app: t.Any) -> list[int]:
    """The PostgreSQL server processes serving this run's database (the workers' pools)."""
    with app.app_context():
        pids = db.session.scalars(
            text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).all()
        db.session.remove()
    return list(pids)


def used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two readings (a process new since the first: all of it)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


# -- the figures -----------------------------------------------------------------------------------


def summary(phases: list[Phase], workers: list[int]) -> list[dict[str, t.Any]]:
    """Per worker count: the median round's throughput, latency over every request of every
    round, every error and failed check."""
    rows: list[dict[str, t.Any]] = []
    for w in workers:
        mine = [p for p in phases if p.workers == w]
        latencies = [s for p in mine for _, _, s in p.samples]
        kinds: dict[str, list[float]] = defaultdict(list)
        for p in mine:
            for kind, _, seconds in p.samples:
                kinds[kind].append(seconds)

        def median_cpu(name: str, mine: list[Phase] = mine) -> float | None:
            values = [p.cpu[name] for p in mine if p.cpu[name] is not None]
            return statistics.median(t.cast(list[float], values)) if values else None

        rows.append(
            {
                "workers": w,
                "rounds": len(mine),
                "requests": len(latencies),
                "seconds": sum(p.seconds for p in mine),
                "throughput": statistics.median(p.throughput for p in mine),
                "throughput_rounds": [round(p.throughput, 1) for p in mine],
                "p50_ms": percentile(latencies, 50) * 1000,
                "p95_ms": percentile(latencies, 95) * 1000,
                "errors": [e for p in mine for e in p.errors],
                "problems": [e for p in mine for e in p.problems],
                "cpu_percent": {name: median_cpu(name) for name in mine[0].cpu},
                "kinds": {
                    kind: {
                        "requests": len(values),
                        "p50_ms": percentile(values, 50) * 1000,
                        "p95_ms": percentile(values, 95) * 1000,
                    }
                    for kind, values in sorted(kinds.items())
                },
            }
        )
    base = rows[0]["throughput"]
    for row in rows:
        row["scaling"] = row["throughput"] / base
    return rows


def report(rows: list[dict[str, t.Any]]) -> None:
    def cpu(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}%"

    print()
    print(
        "| workers | requests | requests/s | p50 ms | p95 ms | errors "
        f"| scaling (/ {rows[0]['workers']} w) | CPU: server | database | client | machine |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        c = r["cpu_percent"]
        print(
            f"| {r['workers']} | {r['requests']} | {r['throughput']:.1f} "
            f"| {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {len(r['errors'])} "
            f"| {r['scaling']:.2f} | {cpu(c['server'])} | {cpu(c['database'])} "
            f"| {cpu(c['client'])} | {cpu(c['machine'])} |"
        )
    print(
        "requests/s: median of the rounds; latency: every request of every round; CPU: "
        "median of the rounds, percent of one core (the machine's includes other programs)."
    )
    print()
    for r in rows:
        kinds = ", ".join(
            f"{kind} {k['p50_ms']:.0f}/{k['p95_ms']:.0f}" for kind, k in r["kinds"].items()
        )
        print(f"{r['workers']} worker(s), rounds {r['throughput_rounds']} requests/s")
        print(f"  p50/p95 ms by kind: {kinds}")
        print(
            "  database checks: "
            + ("passed" if not r["problems"] else f"{len(r['problems'])} FAILED")
        )
        for problem in r["problems"]:
            print(f"  CHECK FAILED {problem}")


# -- the run -------------------------------------------------------------------------------------


def fresh_database(server: str, name: str) -> str:
    url = make_url(server)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(server: str, name: str) -> None:
    admin = create_engine(make_url(server).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def dispose(app: t.Any) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database",
        default=os.environ.get(
            "OKTA_SCIM_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
        ),
        help="PostgreSQL server URL; a database of this run's own is made there, then dropped",
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="rate-limit storage")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default="sync")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--organizations", type=int, default=3)
    parser.add_argument("--operations", type=int, help="operations per client thread and round")
    parser.add_argument("--rounds", type=int, help="rounds over the worker counts")
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the figures, errors and problems here")
    args = parser.parse_args(argv)
    args.operations = args.operations or (25 if args.quick else 100)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.workers = sorted(set(args.workers))

    if not storage_from_string(args.redis).check():
        print(f"Redis does not answer at {args.redis}", file=sys.stderr)
        return 2
    name = f"flask_okta_scim_scale_{os.getpid()}"
    database = fresh_database(args.database, name)
    phases: list[Phase] = []
    with tempfile.TemporaryDirectory(prefix="okta-scim-scale-") as tmp, ExitStack() as stack:
        args.log_dir = tmp
        stack.callback(drop_database, args.database, name)
        # Migrations run once, before any worker starts (docs/deployment.rst).
        SampleServer(database, Path(tmp) / "init-db.log").ok("init-db")
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": database,
                "SECRET_KEY": SECRET_KEY,
                "OKTA_SCIM_BASE_URL": "http://127.0.0.1",
                "OKTA_SCIM_RATE_LIMIT": RATE_LIMIT,
            }
        )
        stack.callback(dispose, app)
        idp = SimulatedIdP((DATA / "idp.key").read_text(), (DATA / "idp.crt").read_text())
        print(
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; gunicorn -k "
            f"{args.worker_class} with {args.workers} workers, {args.rounds} round(s); "
            f"{args.clients} client threads x {args.operations} operations; mix {MIX}",
            flush=True,
        )
        # Every server runs from the start (an idle one costs no CPU), so that rounds
        # interleave the worker counts: a machine whose load drifts hurts each alike.
        servers = {w: serve(args, database, w) for w in args.workers}
        for server in servers.values():
            stack.enter_context(server)
        for round_ in range(args.rounds):
            order = args.workers if round_ % 2 == 0 else args.workers[::-1]
            for w in order:
                measured = phase(args, app, idp, servers[w], round_)
                phases.append(measured)
                print(
                    f"round {round_ + 1}, {w} worker(s): {len(measured.samples)} requests in "
                    f"{measured.seconds:.1f} s, {measured.throughput:.1f}/s, "
                    f"{len(measured.errors)} errors, {len(measured.problems)} failed checks",
                    flush=True,
                )
    rows = summary(phases, args.workers)
    report(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 1 if any(r["errors"] or r["problems"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
