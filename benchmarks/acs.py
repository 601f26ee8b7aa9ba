"""Sign-in (ACS) cost against its floor: python3-saml plus the one write a sign-in needs.

Floor (served the same way, by a bare Flask app through the test client, on the
same database): ``OneLogin_Saml2_Auth(...).process_response()`` with the same
strict settings, then the write no sign-in can avoid -- the replay-cache row
(the assertion's ID) inserted and committed -- and a redirect. For a first
(just-in-time) sign-in the floor also inserts the new account and its
membership in the same transaction. python3-saml alone is reported too.

Measured: a full ``POST`` to our ACS (settings from the database, InResponseTo
policy, exact addressing, replay cache, account lookup or JIT admission,
audit, commit, session). Each sample uses a fresh, really signed response
(signing happens before timing); each comes from a browser without a session
of the app, the reason people sign in. Targets (SPEC §6): our sign-in <= 1.3x its
floor, for the returning person and the first sign-in.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
import typing as t
from datetime import datetime
from datetime import timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask
from flask import redirect
from flask import request
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from sqlalchemy import Column
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import MetaData
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import create_engine
from sqlalchemy import insert

from benchmarks.scim_lookup import drop_database
from benchmarks.scim_lookup import fresh_database
from flask_okta_scim.saml.service import request_data
from flask_okta_scim.web.sso import urls
from sample_app import create_app
from sample_app.models import db
from sample_app.models import okta
from tests.saml_idp import OKTA_ENTITY_ID
from tests.saml_idp import OKTA_SSO_URL
from tests.saml_idp import TestIdP
from tests.saml_idp import encode

BASE = "https://app.example.test"
DOMAIN = "bench.example"

floor_tables = MetaData()
floor_replay = Table(
    "floor_replay",
    floor_tables,
    Column("id", String(200), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
floor_account = Table(
    "floor_account",
    floor_tables,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
)
floor_member = Table(
    "floor_member",
    floor_tables,
    Column("account_id", ForeignKey("floor_account.id"), primary_key=True),
    Column("organization_id", Integer, primary_key=True),
)


def floor_app(url: str, settings: dict[str, t.Any], acs: str) -> Flask:
    """The floor: python3-saml's validation, the replay row (and for JIT the account), a commit."""
    engine = create_engine(url)
    floor_tables.create_all(engine)
    app = Flask("floor")

    def validated() -> OneLogin_Saml2_Auth:
        auth = OneLogin_Saml2_Auth(
            request_data(acs, post=request.form.to_dict()), old_settings=settings
        )
        auth.process_response()
        assert auth.is_authenticated(), auth.get_last_error_reason()
        return auth

    def remember(connection: t.Any, auth: OneLogin_Saml2_Auth) -> None:
        expires = auth.get_last_assertion_not_on_or_after()
        connection.execute(
            insert(floor_replay).values(
                id=auth.get_last_assertion_id(),
                expires_at=datetime.fromtimestamp(expires or time.time() + 300, timezone.utc),
            )
        )

    @app.post("/acs")
    def returning() -> t.Any:
        auth = validated()
        with engine.begin() as connection:
            remember(connection, auth)
        return redirect("/")

    @app.post("/acs-jit")
    def first() -> t.Any:
        auth = validated()
        with engine.begin() as connection:
            remember(connection, auth)
            account = connection.execute(
                insert(floor_account).values(email=auth.get_nameid()).returning(floor_account.c.id)
            ).scalar_one()
            connection.execute(insert(floor_member).values(account_id=account, organization_id=1))
        return redirect("/")

    app.extensions["floor_engine"] = engine
    return app


def measure(
    database: str = "postgresql+psycopg://postgres@127.0.0.1:5432",
    *,
    samples: int = 150,
    rounds: int = 5,
) -> dict[str, float]:
    """Time python3-saml alone, the floors and our ACS (returning person and JIT) in a fresh
    database on ``database`` (a PostgreSQL server URL, or ``sqlite``): medians in ms, ratios."""
    url = fresh_database(database)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "OKTA_SCIM_BASE_URL": BASE,
        }
    )
    idp = TestIdP()
    with app.app_context():
        db.create_all()
        with okta.directory().atomic() as directory:
            org = directory.create_organization("Bench")
            team = directory.create_team(org, "Everyone")
            directory.add_team_domain(team, DOMAIN)
            connection = directory.connect(org)
            directory.configure_connection(
                connection,
                idp_entity_id=OKTA_ENTITY_ID,
                idp_sso_url=OKTA_SSO_URL,
                certificates=[idp.certificate],
            )
            account, _ = directory.ensure_account(f"ada@{DOMAIN}")
            directory.add_member(org, account)
            integration = connection.integration_id
        from flask_okta_scim.web.sso import _settings_for

        settings = _settings_for(directory.connection_by_integration_id(integration))
        acs = urls(integration).acs
    floor = floor_app(url, settings, acs)
    newcomers = (f"new{i}@{DOMAIN}" for i in itertools.count())
    floor_newcomers = (f"floor{i}@{DOMAIN}" for i in itertools.count())

    def responses(n: int, people: t.Iterator[str] | None = None) -> list[str]:
        return [
            encode(idp.for_connection(integration, next(people) if people else f"ada@{DOMAIN}"))
            for _ in range(n)
        ]

    def python3_saml(batch: list[str]) -> float:
        times = []
        for saml in batch:
            start = time.perf_counter()
            auth = OneLogin_Saml2_Auth(
                request_data(acs, post={"SAMLResponse": saml}), old_settings=settings
            )
            auth.process_response()
            assert auth.is_authenticated(), auth.get_last_error_reason()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    def served(target: Flask, path: str, batch: list[str]) -> float:
        times = []
        for saml in batch:
            client = target.test_client()  # a browser without a session: why it signs in
            start = time.perf_counter()
            r = client.post(path, data={"SAMLResponse": saml})
            times.append(time.perf_counter() - start)
            assert r.status_code == 302, r.data[:300]
        return statistics.median(times)

    def once(medians: dict[str, list[float]], n: int) -> None:
        medians["python3_saml"].append(python3_saml(responses(n)))
        medians["floor"].append(served(floor, "/acs", responses(n)))
        medians["acs"].append(served(app, acs, responses(n)))
        medians["floor_jit"].append(served(floor, "/acs-jit", responses(n, floor_newcomers)))
        medians["acs_jit"].append(served(app, acs, responses(n, newcomers)))

    once({k: [] for k in ("python3_saml", "floor", "acs", "floor_jit", "acs_jit")}, 10)
    medians: dict[str, list[float]] = {
        k: [] for k in ("python3_saml", "floor", "acs", "floor_jit", "acs_jit")
    }
    for _ in range(rounds):
        once(medians, samples)
    m = {k: statistics.median(v) * 1000 for k, v in medians.items()}
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    floor.extensions["floor_engine"].dispose()
    drop_database(url)
    return {
        "python3_saml_ms": m["python3_saml"],
        "floor_ms": m["floor"],
        "acs_ms": m["acs"],
        "floor_jit_ms": m["floor_jit"],
        "acs_jit_ms": m["acs_jit"],
        "ratio_acs_vs_floor": m["acs"] / m["floor"],
        "ratio_acs_jit_vs_floor": m["acs_jit"] / m["floor_jit"],
        "ratio_acs_vs_python3_saml": m["acs"] / m["python3_saml"],
    }


def report(result: dict[str, float]) -> None:
    print(f"python3-saml process_response alone      {result['python3_saml_ms']:8.3f} ms")
    print(f"floor: python3-saml + replay row, served {result['floor_ms']:8.3f} ms")
    print(f"our ACS, returning person                {result['acs_ms']:8.3f} ms")
    print(f"floor, first sign-in (+ account insert)  {result['floor_jit_ms']:8.3f} ms")
    print(f"our ACS, first sign-in (JIT)             {result['acs_jit_ms']:8.3f} ms")
    print(f"ratio ACS / floor (target <= 1.3):       {result['ratio_acs_vs_floor']:.2f}")
    print(f"ratio JIT ACS / JIT floor (<= 1.3):      {result['ratio_acs_jit_vs_floor']:.2f}")
    print(f"ratio ACS / python3-saml alone:          {result['ratio_acs_vs_python3_saml']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--samples", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    report(measure(args.database, samples=args.samples, rounds=args.rounds))


if __name__ == "__main__":
    main()
