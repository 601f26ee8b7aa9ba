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

from benchmarks.scim_lookup import drop_database
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


#: The times :func:`measure` returns (milliseconds), and their printed labels.
LABELS = {
    "acs_plain_ms": "acs plain",
    "acs_aes256_cbc_ms": "acs encrypted aes256-cbc",
    "acs_aes256_gcm_ms": "acs encrypted aes256-gcm",
    "start_plain_ms": "start plain",
    "start_signed_ms": "start signed",
    "session_check_ms": "session check, no logout record",
    "session_check_logout_ms": "session check, logout check",
    "sign_out_local_ms": "sign-out local",
    "sign_out_okta_ms": "sign-out through Okta (signed)",
}


def measure(
    database: str = "postgresql+psycopg://postgres@127.0.0.1:5432",
    *,
    samples: int = 60,
    rounds: int = 5,
) -> dict[str, float]:
    """Time each option against its plain form in a fresh database on ``database`` (a
    PostgreSQL server URL, or ``sqlite``); :data:`LABELS`' times and the ratios."""
    url = fresh_database(database)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
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
            for _ in range(samples)
        ]
        client = app.test_client()
        items = iter(batch)

        def post() -> None:
            r = client.post(f"{base}/acs", data={"SAMLResponse": next(items)})
            assert r.status_code == 302, r.data[:300]

        return median_of(samples, post)

    def start(signed: bool) -> float:
        set_signed(signed)
        client = app.test_client()

        def get() -> None:
            r = client.get(base)
            assert r.status_code == 302 and ("Signature=" in r.headers["Location"]) == signed

        return median_of(samples, get)

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

        return median_of(samples, get)

    def sign_out(through_okta: bool) -> float:
        times = []
        for _ in range(max(samples // 3, 10)):
            client = signed_in_client(through_okta)
            start_time = time.perf_counter()
            r = client.post(f"{BASE}/logout")
            times.append(time.perf_counter() - start_time)
            assert r.status_code == 302 and r.headers["Location"].startswith(SLO) == through_okta
        return statistics.median(times)

    aes_cbc = {"cipher": "aes256-cbc"}
    aes_gcm = {"cipher": "aes256-gcm"}
    cases: dict[str, Callable[[], float]] = {
        "acs_plain_ms": lambda: acs(None),
        "acs_aes256_cbc_ms": lambda: acs(aes_cbc),
        "acs_aes256_gcm_ms": lambda: acs(aes_gcm),
        "start_plain_ms": lambda: start(False),
        "start_signed_ms": lambda: start(True),
        "session_check_ms": lambda: me(False),
        "session_check_logout_ms": lambda: me(True),
        "sign_out_local_ms": lambda: sign_out(False),
        "sign_out_okta_ms": lambda: sign_out(True),
    }
    for run in cases.values():  # warm up
        run()
    found: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, run in cases.items():
            found[name].append(run())
    m = {name: statistics.median(values) * 1000 for name, values in found.items()}
    m["ratio_encrypted_cbc_vs_plain"] = m["acs_aes256_cbc_ms"] / m["acs_plain_ms"]
    m["ratio_encrypted_gcm_vs_plain"] = m["acs_aes256_gcm_ms"] / m["acs_plain_ms"]
    m["ratio_signed_start_vs_plain"] = m["start_signed_ms"] / m["start_plain_ms"]
    m["ratio_logout_check_vs_none"] = m["session_check_logout_ms"] / m["session_check_ms"]
    m["ratio_sign_out_okta_vs_local"] = m["sign_out_okta_ms"] / m["sign_out_local_ms"]
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    drop_database(url)
    return m


def report(m: dict[str, float]) -> None:
    for key, label in LABELS.items():
        print(f"{label:38s} {m[key]:8.3f} ms")
    print()
    print(f"ratio encrypted (CBC) / plain sign-in: {m['ratio_encrypted_cbc_vs_plain']:.2f}")
    print(f"ratio encrypted (GCM) / plain sign-in: {m['ratio_encrypted_gcm_vs_plain']:.2f}")
    print(f"ratio signed / plain sign-in start:    {m['ratio_signed_start_vs_plain']:.2f}")
    print(
        "ratio session check with / without the logout check: "
        f"{m['ratio_logout_check_vs_none']:.2f}"
    )
    print(f"ratio sign-out through Okta / local:   {m['ratio_sign_out_okta_vs_local']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    report(measure(args.database, samples=args.samples, rounds=args.rounds))


def _days(n: int) -> t.Any:
    from datetime import timedelta

    return timedelta(days=n)


if __name__ == "__main__":
    main()
