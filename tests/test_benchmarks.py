"""``make bench``'s driver (benchmarks/run_all.py) in ``--quick`` mode, on SQLite.

It runs every benchmark at tiny sizes, in a subprocess as ``make bench`` does, and the
JSON it writes must hold every figure, each a positive number. Times are never
asserted: these sizes measure nothing.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

LOOKUP = {
    "bare_lookup_ms",
    "scim_lookup_big_ms",
    "scim_lookup_small_ms",
    "patch_big_group_ms",
    "patch_small_group_ms",
    "ratio_lookup_vs_bare",
    "ratio_lookup_big_vs_small",
    "ratio_patch_big_vs_small",
}
ACS = {
    "python3_saml_ms",
    "floor_ms",
    "acs_ms",
    "floor_jit_ms",
    "acs_jit_ms",
    "ratio_acs_vs_floor",
    "ratio_acs_jit_vs_floor",
    "ratio_acs_vs_python3_saml",
}
SAML_OPTIONS = {
    "acs_plain_ms",
    "acs_aes256_cbc_ms",
    "acs_aes256_gcm_ms",
    "start_plain_ms",
    "start_signed_ms",
    "session_check_ms",
    "session_check_logout_ms",
    "sign_out_local_ms",
    "sign_out_okta_ms",
    "ratio_encrypted_cbc_vs_plain",
    "ratio_encrypted_gcm_vs_plain",
    "ratio_signed_start_vs_plain",
    "ratio_logout_check_vs_none",
    "ratio_sign_out_okta_vs_local",
}
SERVER = {"people_per_s", "people_per_s_by_round", "lookup_ms", "create_ms"}
BIG_ORGS = {
    "users_first_ms",
    "users_middle_ms",
    "users_deep_ms",
    "filtered_first_ms",
    "filtered_deep_ms",
    "group_big_ms",
    "group_small_ms",
    "group_big_peak_kib",
    "group_small_peak_kib",
    "group_big_peak_bytes_per_member",
    "lookup_big_ms",
    "lookup_small_ms",
    "patch_add_ms",
    "floor_insert_ms",
    "floor_writes_ms",
    "ratio_users_deep_vs_first",
    "ratio_users_middle_vs_first",
    "ratio_filtered_deep_vs_first",
    "ratio_group_big_vs_small",
    "ratio_group_peak_big_vs_small",
    "ratio_lookup_big_vs_small",
    "ratio_patch_vs_floor",
    "ratio_patch_vs_writes",
}
TABLE = {
    "SCIM lookup / bare endpoint",
    "lookup, large / small organization",
    "one-member PATCH, large / small group",
    "sign-in (ACS), returning person / floor",
    "first sign-in (JIT) / its floor",
    "sign-in / python3-saml alone",
    "encrypted sign-in (CBC) / plain",
    "encrypted sign-in (GCM) / plain",
    "signed sign-in start / plain",
    "session check with logout check / without",
    "sign-out through Okta / local",
    "onboarding, ours / scim2-server (people/s)",
    "GET /Users, last page / first page",
    "GET big group / small, peak memory",
    "member PATCH / bulk insert of its rows",
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, t.Any], str]:
    """The JSON and the output of ``run_all.py --quick --database sqlite``."""
    output = tmp_path_factory.mktemp("bench") / "quick.json"
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/run_all.py",
            "--quick",
            "--database",
            "sqlite",
            "--output",
            str(output),
            "--no-plot",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(output.read_text()), done.stdout


def numbers(tree: t.Any, where: str = "") -> t.Iterator[tuple[str, t.Any]]:
    """Every leaf of a JSON tree, with its path."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from numbers(value, f"{where}/{key}")
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from numbers(value, f"{where}/{i}")
    else:
        yield where, tree


def test_quick_run_writes_every_figure(quick_run: tuple[dict[str, t.Any], str]) -> None:
    document, _ = quick_run
    results = document["results"]
    assert document["quick"] is True
    assert set(results) == {
        "scim_lookup",
        "acs",
        "saml_options",
        "scim_patch",
        "onboarding",
        "big_orgs",
    }
    assert set(results["scim_lookup"]) == {"sqlite"}
    sizes = results["scim_lookup"]["sqlite"]
    assert len(sizes) >= 2
    for figures in sizes.values():
        assert set(figures) == LOOKUP
    assert set(results["acs"]["sqlite"]) == ACS
    assert set(results["saml_options"]["sqlite"]) == SAML_OPTIONS
    assert set(results["big_orgs"]) == {"sqlite"}
    assert set(results["big_orgs"]["sqlite"]) == BIG_ORGS
    patch = results["scim_patch"]
    assert set(patch) == {"forms", "max_last_ratio"}
    assert len(patch["forms"]) >= 18
    for form in patch["forms"].values():
        assert set(form) == {"n", "ms", "ratios"}
        assert len(form["ms"]) == len(form["ratios"]) + 1
    onboarding = results["onboarding"]
    assert set(onboarding) == {"scim2_server", "sqlite", "ratio_sqlite_vs_scim2_server"}
    assert set(onboarding["scim2_server"]) == set(onboarding["sqlite"]) == SERVER
    assert set(document["ratios"]) == {"sqlite"}
    assert set(document["ratios"]["sqlite"]) == TABLE
    for where, value in [*numbers(results), *numbers(document["ratios"])]:
        assert isinstance(value, int | float) and not isinstance(value, bool), where
        assert math.isfinite(value) and value > 0, (where, value)
    assert document["machine"]["cpus"] > 0
    assert document["duration_s"] > 0


def test_quick_run_prints_the_table(quick_run: tuple[dict[str, t.Any], str]) -> None:
    _, output = quick_run
    for label in TABLE:
        assert label in output
    assert "scim2-server, memory" in output and "ours, SQLite" in output


def test_plot_of_the_lookup_scaling(
    quick_run: tuple[dict[str, t.Any], str], tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    from benchmarks.run_all import plot

    path = tmp_path / "scaling.png"
    plot(quick_run[0]["results"], path)
    assert path.read_bytes().startswith(b"\x89PNG")
