"""Big organizations: deep pages, a group of 50,000 and a 1,000-member PATCH, against baselines.

In one organization of ``--people`` people (100,000), with one Okta group of ``--group``
members (50,000) and one of ``--small`` (100), through the Flask test client (as
``scim_lookup.py`` serves requests: no network), in interleaved rounds, each figure the
median of the per-round medians:

1. Paging (Okta's import, Entra's listing): ``GET /Users?startIndex=<k>&count=100`` at the
   middle and at the last page, against the first page (``startIndex=1``). Target: the
   last page at most twice the first. The same for a filtered listing
   (``filter=active eq true``, which every person matches).
2. ``GET /Groups/{id}`` of the big group and of the small one: the time, and the peak of
   Python memory during the request (``tracemalloc``, the body read chunk by chunk and
   dropped, as a WSGI server sends it), per member of the big group. Okta's lookup of a
   group by name (``GET /Groups?filter=displayName eq "..."&excludedAttributes=members``)
   of both groups: the ratio should stay near 1.
3. One PATCH adding ``--patch`` members (1,000) to an empty group, in Okta's body,
   against the floor: a bare Flask + Flask-SQLAlchemy endpoint receiving the same ids
   and inserting as many rows into the same membership table with one executemany
   INSERT through SQLAlchemy Core, then committing. Target: ratio at most 2. Also
   against the rows the PATCH writes, in bare SQL: the group's rows, the team's rows
   (the active members join the team) and the people's new versions (their ``groups``
   changed). Between two timings, the members are removed again (not timed).

PostgreSQL's database is vacuumed and analyzed after populating and between rounds (not
timed), standing in for autovacuum, which the development machines' and CI's servers run
without.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import tracemalloc
import typing as t
import urllib.parse
from collections.abc import Callable
from datetime import datetime
from datetime import timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask
from flask import request
from sqlalchemy import create_engine
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.engine import make_url

from benchmarks.scim_lookup import HEADERS
from benchmarks.scim_lookup import drop_database
from benchmarks.scim_lookup import fresh_database
from benchmarks.scim_lookup import populate
from sample_app import create_app
from sample_app.models import db
from sample_app.models import okta

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

#: The figures :func:`measure` returns (times in milliseconds), and their printed labels.
LABELS = {
    "users_first_ms": "GET /Users, first page",
    "users_middle_ms": "GET /Users, middle page",
    "users_deep_ms": "GET /Users, last page",
    "filtered_first_ms": "GET /Users?filter=active eq true, first page",
    "filtered_deep_ms": "GET /Users?filter=active eq true, last page",
    "group_big_ms": "GET /Groups/{id}, big group",
    "group_small_ms": "GET /Groups/{id}, small group",
    "group_big_peak_kib": "peak Python memory (KiB), big group",
    "group_small_peak_kib": "peak Python memory (KiB), small group",
    "group_big_peak_bytes_per_member": "peak bytes per member, big group",
    "lookup_big_ms": "group lookup by name, big group",
    "lookup_small_ms": "group lookup by name, small group",
    "patch_add_ms": "PATCH adding the members",
    "floor_insert_ms": "bulk insert of as many rows (floor)",
    "floor_writes_ms": "the PATCH's writes in bare SQL",
    "ratio_users_deep_vs_first": "ratio last page / first page (target <= 2)",
    "ratio_users_middle_vs_first": "ratio middle page / first page",
    "ratio_filtered_deep_vs_first": "ratio filtered last / first page",
    "ratio_group_big_vs_small": "ratio GET group big / small (time)",
    "ratio_group_peak_big_vs_small": "ratio GET group big / small (peak memory)",
    "ratio_lookup_big_vs_small": "ratio group lookup big / small (~1)",
    "ratio_patch_vs_floor": "ratio PATCH / bulk insert (target <= 2)",
    "ratio_patch_vs_writes": "ratio PATCH / its writes in bare SQL",
}


def vacuum(url: str) -> None:
    """``VACUUM ANALYZE`` a PostgreSQL database, as autovacuum would; nothing on SQLite."""
    if make_url(url).get_backend_name() != "postgresql":
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def populate_big(app: Flask, people: int, group: int, small: int, patch: int) -> dict[str, t.Any]:
    """The organization: ``people`` people, the first ``group`` of them in one Okta group,
    the first ``small`` in another; an empty group for the PATCH and one for the floor;
    the ids of ``patch`` people in neither."""
    token, _, big_group = populate(app, "big", people, group)
    m = okta.models
    with app.app_context():
        ids = list(
            db.session.execute(
                select(m.identity.id, m.identity.account_id).order_by(
                    m.identity.created_at, m.identity.id
                )
            )
        )
        with okta.directory(actor="bench").atomic() as directory:
            org = directory.get_organization("big")
            made = {}
            for name in ("small group", "patch target", "floor target", "writes target"):
                team = directory.create_team(org, name, managed_by_okta=True)
                made[name] = (directory.group_of(team).id, team.id)
        small_group, small_team = made["small group"]
        db.session.execute(
            insert(m.group_member),
            [{"group_id": small_group, "identity_id": i} for i, _ in ids[:small]],
        )
        db.session.execute(
            insert(m.team_member),
            [{"team_id": small_team, "account_id": a} for _, a in ids[:small]],
        )
        db.session.commit()
    return {
        "token": token,
        "big_group": big_group,
        "small_group": small_group,
        "patch_group": made["patch target"][0],
        "floor_group": made["floor target"][0],
        "writes_group": made["writes target"][0],
        "writes_team": made["writes target"][1],
        "newcomers": [i for i, _ in ids[-patch:]],
    }


def floor_app(url: str) -> Flask:
    """Bare Flask + Flask-SQLAlchemy endpoints, through SQLAlchemy Core, each committing:

    - ``POST /members/<group>``: insert the ids sent as members of a group, with one
      executemany INSERT (the floor of the issue's target);
    - ``POST /writes/<group>/<team>``: the rows our PATCH writes, in the fewest statements:
      the people's accounts read, their group rows and team rows inserted (one
      executemany each), their versions bumped (one UPDATE);
    - ``DELETE`` of either: the rows removed again (not timed).
    """
    app = Flask("floor")
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    db.init_app(app)
    gm = okta.models.group_member.__table__
    tm = okta.models.team_member.__table__
    ident = okta.models.identity.__table__

    def sent() -> list[str]:
        return [member["value"] for member in t.cast(dict[str, t.Any], request.json)["members"]]

    @app.post("/writes/<group_id>/<int:team_id>")
    def writes(group_id: str, team_id: int):  # type: ignore[no-untyped-def]
        ids = sent()
        people = db.session.execute(
            select(ident.c.id, ident.c.account_id).where(ident.c.id.in_(ids))
        ).all()
        db.session.execute(
            insert(gm), [{"group_id": group_id, "identity_id": i} for i, _ in people]
        )
        db.session.execute(insert(tm), [{"team_id": team_id, "account_id": a} for _, a in people])
        db.session.execute(
            update(ident)
            .where(ident.c.id.in_(ids))
            .values(version=ident.c.version + 1, updated_at=datetime.now(timezone.utc))
        )
        db.session.commit()
        return "", 204

    @app.delete("/writes/<group_id>/<int:team_id>")
    def undo(group_id: str, team_id: int):  # type: ignore[no-untyped-def]
        db.session.execute(delete(gm).where(gm.c.group_id == group_id))
        db.session.execute(delete(tm).where(tm.c.team_id == team_id))
        db.session.commit()
        return "", 204

    @app.post("/members/<group_id>")
    def add(group_id: str):  # type: ignore[no-untyped-def]
        ids = sent()
        db.session.execute(insert(gm), [{"group_id": group_id, "identity_id": i} for i in ids])
        db.session.commit()
        return "", 204

    @app.delete("/members/<group_id>")
    def empty(group_id: str):  # type: ignore[no-untyped-def]
        db.session.execute(delete(gm).where(gm.c.group_id == group_id))
        db.session.commit()
        return "", 204

    return app


def traced_peak(fn: Callable[[], None]) -> int:
    """The peak of Python memory allocated while ``fn`` runs, above what was allocated before."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def measure(
    database: str = "postgresql+psycopg://postgres@127.0.0.1:5432",
    *,
    people: int = 100000,
    group: int = 50000,
    small: int = 100,
    patch: int = 1000,
    page: int = 100,
    rounds: int = 5,
    requests: int = 5,
    memory_samples: int = 3,
    verbose: bool = False,
) -> dict[str, float]:
    """Time the pages, group reads and PATCHes in a fresh database on ``database`` (a
    PostgreSQL server URL, or ``sqlite``); returns :data:`LABELS`' figures."""
    assert group + patch <= people and small <= group
    url = fresh_database(database)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "OKTA_SCIM_BASE_URL": "https://app.example.test",
            "OKTA_SCIM_RATE_LIMIT": "1000000/minute",
        }
    )
    with app.app_context():
        db.create_all()
    if verbose:
        print(f"database: {url.split(':')[0]}, people: {people}, group: {group}", flush=True)
    started = time.perf_counter()
    org = populate_big(app, people, group, small, patch)
    vacuum(url)
    if verbose:
        print(f"populated in {time.perf_counter() - started:.1f} s", flush=True)
    headers = {**HEADERS, "Authorization": f"Bearer {org['token']}"}
    scim = app.test_client()
    floor = floor_app(url).test_client()
    members = [{"value": i} for i in org["newcomers"]]

    def get(path: str, **query: t.Any) -> Callable[[], float]:
        target = f"/scim/v2/{path}" + ("?" + urllib.parse.urlencode(query) if query else "")

        def go() -> float:
            start = time.perf_counter()
            r = scim.get(target, headers=headers)
            body = r.get_data()  # all of it: a streamed body is read as it is sent
            elapsed = time.perf_counter() - start
            assert r.status_code == 200, body[:2000]
            return elapsed

        return go

    def patch_members() -> float:
        path = f"/scim/v2/Groups/{org['patch_group']}"
        body = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": members}],
        }
        start = time.perf_counter()
        r = scim.patch(path, headers=headers, json=body)
        elapsed = time.perf_counter() - start
        assert r.status_code == 204, r.data[:2000]
        body["Operations"][0]["op"] = "remove"
        r = scim.patch(path, headers=headers, json=body)
        assert r.status_code == 204, r.data[:2000]
        return elapsed

    def floor_writes() -> float:
        path = f"/writes/{org['writes_group']}/{org['writes_team']}"
        start = time.perf_counter()
        r = floor.post(path, json={"members": members})
        elapsed = time.perf_counter() - start
        assert r.status_code == 204, r.data
        assert floor.delete(path).status_code == 204
        return elapsed

    def floor_insert() -> float:
        path = f"/members/{org['floor_group']}"
        start = time.perf_counter()
        r = floor.post(path, json={"members": members})
        elapsed = time.perf_counter() - start
        assert r.status_code == 204, r.data
        assert floor.delete(path).status_code == 204
        return elapsed

    last = max(1, people - page + 1)
    middle = people // 2 + 1
    cases: dict[str, Callable[[], float]] = {
        "users_first_ms": get("Users", startIndex=1, count=page),
        "users_middle_ms": get("Users", startIndex=middle, count=page),
        "users_deep_ms": get("Users", startIndex=last, count=page),
        "filtered_first_ms": get("Users", filter="active eq true", startIndex=1, count=page),
        "filtered_deep_ms": get("Users", filter="active eq true", startIndex=last, count=page),
        "group_big_ms": get(f"Groups/{org['big_group']}"),
        "group_small_ms": get(f"Groups/{org['small_group']}"),
        "lookup_big_ms": get(
            "Groups", filter='displayName eq "big group"', excludedAttributes="members"
        ),
        "lookup_small_ms": get(
            "Groups", filter='displayName eq "small group"', excludedAttributes="members"
        ),
        "patch_add_ms": patch_members,
        "floor_insert_ms": floor_insert,
        "floor_writes_ms": floor_writes,
    }
    for fn in cases.values():  # warm up
        fn()
    for group_id, size in ((org["big_group"], group), (org["small_group"], small)):
        got = scim.get(f"/scim/v2/Groups/{group_id}", headers=headers).get_json(force=True)
        assert len(got["members"]) == size, (len(got["members"]), size)
    samples: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(rounds):
        for name, fn in random.sample(list(cases.items()), len(cases)):
            samples[name].append(statistics.median(fn() for _ in range(requests)))
        vacuum(url)
    result = {k: statistics.median(v) * 1000 for k, v in samples.items()}

    def read_group(group_id: str) -> Callable[[], None]:
        def go() -> None:
            r = scim.get(f"/scim/v2/Groups/{group_id}", headers=headers, buffered=False)
            assert r.status_code == 200
            size = 0
            for chunk in r.response:  # sent and dropped, as a WSGI server does
                size += len(chunk)
            r.close()
            assert size > 0

        return go

    for key, group_id in (("big", org["big_group"]), ("small", org["small_group"])):
        peaks = [traced_peak(read_group(group_id)) for _ in range(memory_samples)]
        result[f"group_{key}_peak_kib"] = statistics.median(peaks) / 1024
    result["group_big_peak_bytes_per_member"] = result["group_big_peak_kib"] * 1024 / group
    for name, (over, under) in {
        "ratio_users_deep_vs_first": ("users_deep_ms", "users_first_ms"),
        "ratio_users_middle_vs_first": ("users_middle_ms", "users_first_ms"),
        "ratio_filtered_deep_vs_first": ("filtered_deep_ms", "filtered_first_ms"),
        "ratio_group_big_vs_small": ("group_big_ms", "group_small_ms"),
        "ratio_group_peak_big_vs_small": ("group_big_peak_kib", "group_small_peak_kib"),
        "ratio_lookup_big_vs_small": ("lookup_big_ms", "lookup_small_ms"),
        "ratio_patch_vs_floor": ("patch_add_ms", "floor_insert_ms"),
        "ratio_patch_vs_writes": ("patch_add_ms", "floor_writes_ms"),
    }.items():
        result[name] = result[over] / result[under]
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    drop_database(url)
    return {k: result[k] for k in LABELS}


def report(result: dict[str, float]) -> None:
    for key, label in LABELS.items():
        if key.endswith("_ms"):
            print(f"{label:48s} {result[key]:10.2f} ms")
        elif key.startswith("ratio_"):
            print(f"{label + ':':48s} {result[key]:10.2f}")
        else:
            print(f"{label:48s} {result[key]:10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database",
        default="postgresql+psycopg://postgres@127.0.0.1:5432",
        help="a PostgreSQL server URL, or 'sqlite'",
    )
    parser.add_argument("--people", type=int, default=100000)
    parser.add_argument("--group", type=int, default=50000, help="members of the big group")
    parser.add_argument("--small", type=int, default=100, help="members of the small group")
    parser.add_argument("--patch", type=int, default=1000, help="members added in one PATCH")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=5)
    args = parser.parse_args()
    database = args.database
    if database == "postgresql":
        database = "postgresql+psycopg://postgres@127.0.0.1:5432"
    report(
        measure(
            database,
            people=args.people,
            group=args.group,
            small=args.small,
            patch=args.patch,
            rounds=args.rounds,
            requests=args.requests,
            verbose=True,
        )
    )


if __name__ == "__main__":
    main()
