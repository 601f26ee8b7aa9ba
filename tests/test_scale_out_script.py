"""``benchmarks/scale_out.py --quick --workers 1 2``: gunicorn on PostgreSQL, the rate limit in
Redis, mixed SCIM and sign-in traffic; no request may fail and the database must hold what the
script sent (no duplicated person, every person created present, group members as left).

Nothing here asserts a time: the machine is shared. PostgreSQL is reached at
``OKTA_SCIM_TEST_POSTGRES``, Redis at ``OKTA_SCIM_TEST_REDIS`` (default
``redis://127.0.0.1:6379/0``); where either (or gunicorn, or the Redis client library) is
missing the test is skipped, unless ``OKTA_SCIM_REQUIRE_SERVICES=1``, which makes that a
failure.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_SERVER
from tests.conftest import service_missing

ROOT = Path(__file__).resolve().parent.parent
REDIS = os.environ.get("OKTA_SCIM_TEST_REDIS", "redis://127.0.0.1:6379/0")
#: Seconds the quick run may take at most (it takes about 20 on two shared cores).
TIMEOUT = 300


def require_services() -> None:
    """Skip (or, with OKTA_SCIM_REQUIRE_SERVICES=1, fail) unless everything the script needs is
    here."""
    if importlib.util.find_spec("gunicorn") is None:
        service_missing("gunicorn is not installed (pip install gunicorn)")
    if importlib.util.find_spec("redis") is None:
        service_missing("the Redis client library is not installed (pip install 'limits[redis]')")
    engine = create_engine(make_url(POSTGRES_SERVER).set(database="postgres"))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as e:  # any driver or connection error means: no server
        service_missing(f"PostgreSQL is not reachable at {POSTGRES_SERVER}: {e}")
    finally:
        engine.dispose()
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_timeout=5).ping()
    except Exception as e:  # any client error means: no server
        service_missing(f"Redis is not reachable at {REDIS}: {e}")


def test_quick_run_has_no_errors_and_leaves_the_database_as_sent(tmp_path: Path) -> None:
    require_services()
    figures = tmp_path / "scale_out.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "scale_out.py"),
            "--quick",
            "--workers",
            "1",
            "2",
            "--database",
            POSTGRES_SERVER,
            "--redis",
            REDIS,
            "--json",
            str(figures),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    output = f"--- stdout\n{done.stdout[-8000:]}\n--- stderr\n{done.stderr[-8000:]}"
    assert done.returncode == 0, output
    rows = json.loads(figures.read_text())
    assert [row["workers"] for row in rows] == [1, 2], output
    for row in rows:
        assert row["errors"] == [], output
        assert row["problems"] == [], output
        assert row["requests"] > 0
        kinds = set(row["kinds"])
        assert {"SCIM lookup", "SCIM POST Users", "SCIM PUT Users/{id}"} <= kinds
        assert {"SCIM PATCH Groups/{id}", "sign-in POST acs", "sign-in GET /me"} <= kinds
