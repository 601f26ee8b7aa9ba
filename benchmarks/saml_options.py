"""What each SAML option costs: sign-in, its start, and the per-request session check.

All in one run, on one database, interleaved round by round (machines here are
noisy: compare the ratios, not the times):

- **ACS**: a full ``POST`` to the ACS (a fresh, really signed response each time)
  with a plain assertion (the baseline), then with the assertion encrypted for the
  SP key (AES-256-CBC and AES-256-GCM, RSA-OAEP).
- **Start**: ``GET`` of the sign-in link (AuthnRequest, its row, the redirect), plain
  and with Signed Requests (the SP key opened and an RSA-SHA256 signature).
- **Session check**: ``GET /me`` in an SSO session that records its NameID (so the
  single-logout check runs, against a table holding 1,000 logouts of other people)
  against the same session without that record (no logout check).
- **Sign-out**: ``POST /logout`` sending a signed LogoutRequest to Okta, against a
  plain local sign-out.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import typing as t
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.scim_lookup import fresh_database
from flask_okta_scim.web.session import SESSION_KEY
from sample_app import create_app
from sample_app.models import db
from sample_app.models import okta
from tests.saml_idp import OKTA_ENTITY_ID
from tests.saml_idp import OKTA_SSO_URL
from tests.saml_idp import TestIdP
from tests.saml_idp import encode

BASE = "https://app.example.test"
SLO = "https://bench.okta.example/app/x/exkTEST/slo/saml"


def median_of(samples: int, run: Callable[[], None]) -> float:
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": fresh_database(args.database),
            "SECRET_KEY": "bench",
            "OKTA_SCIM_BASE_URL": BASE,
            "OKTA_SCIM_SSO_START_LIMIT": "1000000/minute",
            "WTF_CSRF_ENABLED": False,
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
                idp_slo_url=SLO,
            )
            account, _ = directory.ensure_account("ada@bench.example")
            directory.add_member(org, account)
            integration = connection.integration_id
            row = directory.generate_sp_key(connection, okta.sp_key_vault(), common_name="b")
            sp_certificate = row.certificate
            for n in range(1000):
                directory.record_logout(
                    connection, f"p{n}@bench.example", ["s"], keep=_days(30), initiated_by="idp"
                )
    base = f"{BASE}/users/sign-in/sso/okta/{integration}"

    def set_signed(on: bool) -> None:
        with app.app_context(), okta.directory().atomic() as directory:
            c = directory.connection_by_integration_id(integration)
            directory.set_signed_requests(c, on)

    def acs(encryption: dict[str, t.Any] | None) -> float:
        batch = [
            encode(
                idp.for_connection(
                    integration,
                    "ada@bench.example",
                    encrypt_for=sp_certificate if encryption else None,
                    encryption=encryption,
                )
            )
            for _ in range(args.samples)
        ]
        client = app.test_client()
        items = iter(batch)

        def post() -> None:
            r = client.post(f"{base}/acs", data={"SAMLResponse": next(items)})
            assert r.status_code == 302, r.data[:300]

        return median_of(args.samples, post)

    def start(signed: bool) -> float:
        set_signed(signed)
        client = app.test_client()

        def get() -> None:
            r = client.get(base)
            assert r.status_code == 302 and ("Signature=" in r.headers["Location"]) == signed

        return median_of(args.samples, get)

    def signed_in_client(with_name_id: bool) -> t.Any:
        client = app.test_client()
        r = client.post(
            f"{base}/acs",
            data={"SAMLResponse": encode(idp.for_connection(integration, "ada@bench.example"))},
        )
        assert r.status_code == 302
        if not with_name_id:
            with client.session_transaction(BASE + "/") as s:
                s[SESSION_KEY] = {k: v for k, v in s[SESSION_KEY].items() if k != "name_id"}
        return client

    def me(with_name_id: bool) -> float:
        client = signed_in_client(with_name_id)

        def get() -> None:
            assert client.get(f"{BASE}/me").status_code == 200

        return median_of(args.samples, get)

    def sign_out(through_okta: bool) -> float:
        times = []
        for _ in range(max(args.samples // 3, 10)):
            client = signed_in_client(through_okta)
            start_time = time.perf_counter()
            r = client.post(f"{BASE}/logout")
            times.append(time.perf_counter() - start_time)
            assert r.status_code == 302 and r.headers["Location"].startswith(SLO) == through_okta
        return statistics.median(times)

    aes_cbc = {"cipher": "aes256-cbc"}
    aes_gcm = {"cipher": "aes256-gcm"}
    cases: dict[str, Callable[[], float]] = {
        "acs plain": lambda: acs(None),
        "acs encrypted aes256-cbc": lambda: acs(aes_cbc),
        "acs encrypted aes256-gcm": lambda: acs(aes_gcm),
        "start plain": lambda: start(False),
        "start signed": lambda: start(True),
        "session check, no logout record": lambda: me(False),
        "session check, logout check": lambda: me(True),
        "sign-out local": lambda: sign_out(False),
        "sign-out through Okta (signed)": lambda: sign_out(True),
    }
    for run in cases.values():  # warm up
        run()
    found: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, run in cases.items():
            found[name].append(run())
    m = {name: statistics.median(values) for name, values in found.items()}
    for name, value in m.items():
        print(f"{name:38s} {value * 1000:8.3f} ms")
    print()
    plain = m["acs plain"]
    print(f"ratio encrypted (CBC) / plain sign-in: {m['acs encrypted aes256-cbc'] / plain:.2f}")
    print(f"ratio encrypted (GCM) / plain sign-in: {m['acs encrypted aes256-gcm'] / plain:.2f}")
    print(f"ratio signed / plain sign-in start:    {m['start signed'] / m['start plain']:.2f}")
    print(
        "ratio session check with / without the logout check: "
        f"{m['session check, logout check'] / m['session check, no logout record']:.2f}"
    )
    print(
        "ratio sign-out through Okta / local:   "
        f"{m['sign-out through Okta (signed)'] / m['sign-out local']:.2f}"
    )
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _days(n: int) -> t.Any:
    from datetime import timedelta

    return timedelta(days=n)


if __name__ == "__main__":
    main()
