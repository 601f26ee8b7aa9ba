"""SCIM lookup and one-member PATCH: ratios against a baseline measured in the same run.

1. Okta's user lookup (``GET /scim/v2/Users?filter=userName eq "..."``, with token
   authentication, rate limiting, rendering) against a bare Flask + Flask-SQLAlchemy
   endpoint that runs the same indexed query on the same table and returns the row
   as JSON. Target (SPEC §6): ratio <= 1.5.
2. The same lookup in an organization of ``--users`` people against one of 100.
3. A one-member group PATCH (add, then remove) in a group of ``--users // 2``
   members against a group of 100. Target: both ratios close to 1.

Requests go through the Flask test client (no network), interleaved in rounds;
each figure is the median of the per-round medians.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import typing as t
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask
from flask import jsonify
from sqlalchemy import create_engine
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sample_app import create_app
from sample_app.models import db
from sample_app.models import okta

HEADERS = {"Accept": "application/scim+json", "User-Agent": "Okta SCIM Client 1.0.0"}


def fresh_database(server: str) -> str:
    """A new, empty database on ``server`` (a PostgreSQL server URL, or ``sqlite``), named
    for this process so that runs side by side do not collide; its URL."""
    tag = f"{os.getpid()}_{uuid.uuid4().hex[:8]}"
    if server.startswith("sqlite"):
        return f"sqlite:///{Path('/tmp') / f'okta-scim-bench-{tag}.sqlite'}"
    url = make_url(server)
    name = f"flask_okta_scim_bench_{tag}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Remove a database :func:`fresh_database` made."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(t.cast(str, parsed.database)).unlink(missing_ok=True)
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def populate(app: Flask, name: str, users: int, group_size: int) -> tuple[str, list[str], str]:
    """An organization with ``users`` provisioned people and one Okta group; returns
    (token, user names, group id)."""
    m = okta.models
    with app.app_context():
        with okta.directory(actor="bench").atomic() as directory:
            org = directory.create_organization(name)
            directory.mark_connected(directory.connect(org))
            token = directory.enable_provisioning(org)
            team = directory.create_team(org, f"{name} group", managed_by_okta=True)
            group_id = directory.group_of(team).id
            org_id, team_id = org.id, team.id
        names = [f"user{i}.{name}@bench.example".lower() for i in range(users)]
        batch = 5000
        for start in range(0, users, batch):
            chunk = names[start : start + batch]
            ids = (
                db.session.execute(
                    insert(m.account).returning(m.account.id),
                    [{"email": n, "display_name": n} for n in chunk],
                )
                .scalars()
                .all()
            )
            db.session.execute(
                insert(m.membership),
                [
                    {
                        "organization_id": org_id,
                        "account_id": a,
                        "role": "member",
                        "joined_via": "scim",
                    }
                    for a in ids
                ],
            )
            idents = [str(uuid.uuid4()) for _ in chunk]
            db.session.execute(
                insert(m.identity),
                [
                    {
                        "id": i,
                        "organization_id": org_id,
                        "user_name": n,
                        "user_name_key": n,
                        "email": n,
                        "email_key": n,
                        "display_name": n,
                        "active": True,
                        "account_id": a,
                        "attributes": {"emails": [{"value": n, "primary": True}]},
                        "version": 1,
                    }
                    for i, n, a in zip(idents, chunk, ids, strict=True)
                ],
            )
            members = [
                (i, a)
                for i, a, k in zip(idents, ids, range(start, start + len(chunk)), strict=True)
                if k < group_size
            ]
            if members:
                db.session.execute(
                    insert(m.group_member),
                    [{"group_id": group_id, "identity_id": i} for i, _ in members],
                )
                db.session.execute(
                    insert(m.team_member),
                    [{"team_id": team_id, "account_id": a} for _, a in members],
                )
            db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()
    return token, names, group_id


def baseline_app(url: str) -> Flask:
    """A bare Flask + Flask-SQLAlchemy endpoint doing the same indexed lookup."""
    app = Flask("baseline")
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    db.init_app(app)
    identity = okta.models.identity

    @app.get("/lookup/<int:org_id>")
    def lookup(org_id: int):  # type: ignore[no-untyped-def]
        from flask import request

        key = request.args["userName"].lower()
        row = db.session.scalars(
            select(identity).where(
                identity.organization_id == org_id, identity.user_name_key == key
            )
        ).first()
        return jsonify(
            [
                {
                    "id": row.id,
                    "userName": row.user_name,
                    "active": row.active,
                    "attributes": row.attributes,
                }
            ]
            if row
            else []
        )

    return app


def timed(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


#: The figures :func:`measure` returns (times in milliseconds), and their printed labels.
LABELS = {
    "bare_lookup_ms": "bare lookup",
    "scim_lookup_big_ms": "scim lookup (big org)",
    "scim_lookup_small_ms": "scim lookup (small org)",
    "patch_big_group_ms": "patch one member (big group)",
    "patch_small_group_ms": "patch one member (small group)",
    "ratio_lookup_vs_bare": "ratio scim lookup / bare lookup (target <= 1.5)",
    "ratio_lookup_big_vs_small": "ratio lookup big / small org (target ~1)",
    "ratio_patch_big_vs_small": "ratio one-member patch big / small group (~1)",
}


def measure(
    database: str = "postgresql+psycopg://postgres@127.0.0.1:5432",
    *,
    users: int = 20000,
    rounds: int = 7,
    requests: int = 200,
    verbose: bool = False,
) -> dict[str, float]:
    """Time the lookups and PATCHes in a fresh database on ``database`` (a PostgreSQL
    server URL, or ``sqlite``); returns :data:`LABELS`' figures."""
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
        print(f"database: {url.split(':')[0]}, users: {users} and 100", flush=True)
    t0 = time.perf_counter()
    big_token, big_names, big_group = populate(app, "big", users, users // 2)
    small_token, small_names, small_group = populate(app, "small", 100, 100)
    if verbose:
        print(f"populated in {time.perf_counter() - t0:.1f} s", flush=True)
    with app.app_context():
        big_org = okta.directory().get_organization("big").id

    scim = app.test_client()
    base = baseline_app(url).test_client()
    # a member to add and remove, not in either group
    extra = {}
    for token, label in ((big_token, "big"), (small_token, "small")):
        r = scim.post(
            "/scim/v2/Users",
            headers={**HEADERS, "Authorization": f"Bearer {token}"},
            json={"userName": f"extra.{label}@bench.example", "active": True},
        )
        extra[label] = r.get_json(force=True)["id"]

    def scim_lookup(token: str, names: list[str]):  # type: ignore[no-untyped-def]
        def go() -> None:
            name = random.choice(names)
            r = scim.get(
                "/scim/v2/Users?filter=userName%20eq%20%22" + name + "%22",
                headers={**HEADERS, "Authorization": f"Bearer {token}"},
            )
            assert r.status_code == 200 and r.get_json(force=True)["totalResults"] == 1

        return go

    def bare_lookup() -> None:
        name = random.choice(big_names)
        r = base.get(f"/lookup/{big_org}?userName={name}")
        assert r.status_code == 200 and len(json.loads(r.data)) == 1

    def one_member_patch(token: str, group: str, member: str):  # type: ignore[no-untyped-def]
        state = {"in": False}

        def go() -> None:
            op = (
                {"op": "remove", "path": f'members[value eq "{member}"]'}
                if state["in"]
                else {"op": "add", "path": "members", "value": [{"value": member}]}
            )
            r = scim.patch(
                f"/scim/v2/Groups/{group}",
                headers={**HEADERS, "Authorization": f"Bearer {token}"},
                json={
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [op],
                },
            )
            assert r.status_code == 204, r.data
            state["in"] = not state["in"]

        return go

    cases = {
        "bare_lookup_ms": bare_lookup,
        "scim_lookup_big_ms": scim_lookup(big_token, big_names),
        "scim_lookup_small_ms": scim_lookup(small_token, small_names),
        "patch_big_group_ms": one_member_patch(big_token, big_group, extra["big"]),
        "patch_small_group_ms": one_member_patch(small_token, small_group, extra["small"]),
    }
    for fn in cases.values():  # warm up
        timed(fn, 20)
    medians: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(rounds):
        for name, fn in random.sample(list(cases.items()), len(cases)):
            medians[name].append(timed(fn, requests))
    result = {k: statistics.median(v) * 1000 for k, v in medians.items()}
    result["ratio_lookup_vs_bare"] = result["scim_lookup_big_ms"] / result["bare_lookup_ms"]
    result["ratio_lookup_big_vs_small"] = (
        result["scim_lookup_big_ms"] / result["scim_lookup_small_ms"]
    )
    result["ratio_patch_big_vs_small"] = (
        result["patch_big_group_ms"] / result["patch_small_group_ms"]
    )
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    drop_database(url)
    return result


def report(result: dict[str, float]) -> None:
    for key, label in LABELS.items():
        if key.endswith("_ms"):
            print(f"{label:32s} {result[key]:8.3f} ms")
        else:
            print(f"{label + ':':48s} {result[key]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database",
        default="postgresql+psycopg://postgres@127.0.0.1:5432",
        help="a PostgreSQL server URL, or 'sqlite'",
    )
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    report(
        measure(
            args.database,
            users=args.users,
            rounds=args.rounds,
            requests=args.requests,
            verbose=True,
        )
    )


if __name__ == "__main__":
    main()
