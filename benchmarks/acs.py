"""Sign-in (ACS) cost against python3-saml's own validation of the same responses.

Baseline: ``OneLogin_Saml2_Auth(...).process_response()`` with the same strict
settings, called directly. Measured: a full ``POST`` to our ACS through the
Flask test client (settings from the database, InResponseTo policy, exact
addressing, replay cache, account lookup, audit, commit, session). Each sample
uses a fresh, really signed response (signing happens before timing). Target
(SPEC §6): ratio <= 1.3.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from onelogin.saml2.auth import OneLogin_Saml2_Auth

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


def measure(
    database: str = "postgresql+psycopg://postgres@127.0.0.1:5432",
    *,
    samples: int = 150,
    rounds: int = 5,
) -> dict[str, float]:
    """Time python3-saml's validation and our ACS in a fresh database on ``database`` (a
    PostgreSQL server URL, or ``sqlite``); medians in milliseconds, and their ratio."""
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
            connection = directory.connect(org)
            directory.configure_connection(
                connection,
                idp_entity_id=OKTA_ENTITY_ID,
                idp_sso_url=OKTA_SSO_URL,
                certificates=[idp.certificate],
            )
            account, _ = directory.ensure_account("ada@bench.example")
            directory.add_member(org, account)
            integration = connection.integration_id
        from flask_okta_scim.web.sso import _settings_for

        settings = _settings_for(directory.connection_by_integration_id(integration))
        acs = urls(integration).acs

    def responses(n: int) -> list[str]:
        return [encode(idp.for_connection(integration, "ada@bench.example")) for _ in range(n)]

    def baseline(batch: list[str]) -> float:
        samples = []
        for saml in batch:
            start = time.perf_counter()
            auth = OneLogin_Saml2_Auth(
                request_data(acs, post={"SAMLResponse": saml}), old_settings=settings
            )
            auth.process_response()
            assert auth.is_authenticated(), auth.get_last_error_reason()
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    def ours(batch: list[str]) -> float:
        client = app.test_client()
        samples = []
        for saml in batch:
            start = time.perf_counter()
            r = client.post(acs, data={"SAMLResponse": saml})
            samples.append(time.perf_counter() - start)
            assert r.status_code == 302, r.data[:300]
        return statistics.median(samples)

    baseline(responses(10))
    ours(responses(10))
    base_medians, our_medians = [], []
    for _ in range(rounds):
        batch = responses(samples)
        base_medians.append(baseline(batch))
        our_medians.append(ours(responses(samples)))
    b, o = statistics.median(base_medians), statistics.median(our_medians)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    drop_database(url)
    return {"python3_saml_ms": b * 1000, "acs_ms": o * 1000, "ratio_acs_vs_python3_saml": o / b}


def report(result: dict[str, float]) -> None:
    print(f"python3-saml process_response  {result['python3_saml_ms']:8.3f} ms")
    print(f"our ACS (full request)         {result['acs_ms']:8.3f} ms")
    print(f"ratio ACS / python3-saml (target <= 1.3): {result['ratio_acs_vs_python3_saml']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--samples", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    report(measure(args.database, samples=args.samples, rounds=args.rounds))


if __name__ == "__main__":
    main()
