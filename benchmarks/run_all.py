"""Every benchmark, on SQLite and PostgreSQL, in one run: a table of ratios, JSON and a plot.

``make bench`` runs this with the project's virtualenv. Each benchmark module's
``measure`` function is called with the sizes of the run (:data:`FULL`, or :data:`QUICK`
with ``--quick``), once per database (``scim_patch`` needs none; ``onboarding`` runs
its baseline once and ours on each database, interleaved). Then:

- the table of ratios (ours / baseline, with the targets of SPEC §6) is printed;
- every figure is written as JSON (``--output``; by default
  ``benchmarks/results/latest.json``, or ``latest-quick.json`` with ``--quick``);
- the SCIM lookup's latency against the organization's size, ours and the bare
  endpoint's, on each database, is drawn with matplotlib (``--plot``; by default
  ``docs/_static/bench-lookup-scaling.png``, the picture in the docs, or
  ``benchmarks/results/lookup-scaling-quick.png`` with ``--quick``).

A full run takes 8-12 minutes on a 2-core machine, plus about 2 for ``big_orgs``;
``--quick`` (tiny sizes, for a smoke test: the figures mean nothing) well under two.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sqlite3
import sys
import time
import typing as t
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

from benchmarks import acs
from benchmarks import big_orgs
from benchmarks import onboarding
from benchmarks import saml_options
from benchmarks import scim_lookup
from benchmarks import scim_patch

ROOT = Path(__file__).resolve().parent.parent
POSTGRESQL = os.environ.get(
    "OKTA_SCIM_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
RESULTS = ROOT / "benchmarks" / "results"
PLOT = ROOT / "docs" / "_static" / "bench-lookup-scaling.png"
BENCHMARKS = ("scim_lookup", "acs", "saml_options", "scim_patch", "onboarding", "big_orgs")

#: The sizes of a full run: 8-12 minutes on 2 cores.
FULL: dict[str, t.Any] = {
    "scim_lookup": {"sizes": [1000, 10000, 100000], "rounds": 5, "requests": 100},
    "acs": {"samples": 80, "rounds": 5},
    "saml_options": {"samples": 30, "rounds": 5},
    "scim_patch": {"items": 2000, "ops": 125, "keys": 2000, "doublings": 3, "rounds": 3},
    "onboarding": {"people": 10000, "concurrency": 4, "workers": 2, "rounds": 8, "warmup": 40},
    "big_orgs": {"people": 100000, "group": 50000, "small": 100, "patch": 1000, "rounds": 5},
}
#: The sizes of ``--quick``: a smoke test of every code path.
QUICK: dict[str, t.Any] = {
    "scim_lookup": {"sizes": [100, 1000], "rounds": 2, "requests": 10},
    "acs": {"samples": 5, "rounds": 2},
    "saml_options": {"samples": 3, "rounds": 1},
    "scim_patch": {"items": 50, "ops": 5, "keys": 50, "doublings": 1, "rounds": 1, "repeat": 1},
    "onboarding": {"people": 24, "concurrency": 4, "workers": 2, "rounds": 2, "warmup": 4},
    "big_orgs": {
        "people": 300,
        "group": 150,
        "small": 10,
        "patch": 50,
        "page": 20,
        "rounds": 1,
        "requests": 1,
        "memory_samples": 1,
    },
}

#: The table's rows: label, benchmark, figure (in the largest organization for
#: ``scim_lookup``), target.
ROWS: list[tuple[str, str, str, str]] = [
    ("SCIM lookup / bare endpoint", "scim_lookup", "ratio_lookup_vs_bare", "<= 1.5"),
    ("lookup, large / small organization", "scim_lookup", "ratio_lookup_big_vs_small", "~ 1"),
    ("one-member PATCH, large / small group", "scim_lookup", "ratio_patch_big_vs_small", "~ 1"),
    ("sign-in (ACS), returning person / floor", "acs", "ratio_acs_vs_floor", "<= 1.3"),
    ("first sign-in (JIT) / its floor", "acs", "ratio_acs_jit_vs_floor", "<= 1.3"),
    ("sign-in / python3-saml alone", "acs", "ratio_acs_vs_python3_saml", ""),
    ("encrypted sign-in (CBC) / plain", "saml_options", "ratio_encrypted_cbc_vs_plain", ""),
    ("encrypted sign-in (GCM) / plain", "saml_options", "ratio_encrypted_gcm_vs_plain", ""),
    ("signed sign-in start / plain", "saml_options", "ratio_signed_start_vs_plain", ""),
    ("session check with logout check / without", "saml_options", "ratio_logout_check_vs_none", ""),
    ("sign-out through Okta / local", "saml_options", "ratio_sign_out_okta_vs_local", ""),
    (
        "onboarding, ours / scim2-server (people/s)",
        "onboarding",
        "ratio_{db}_vs_scim2_server",
        ">= 1",
    ),
    ("GET /Users, last page / first page", "big_orgs", "ratio_users_deep_vs_first", "<= 2"),
    ("GET big group / small, peak memory", "big_orgs", "ratio_group_peak_big_vs_small", ""),
    ("member PATCH / bulk insert of its rows", "big_orgs", "ratio_patch_vs_floor", "<= 2"),
]


def kind(database: str) -> str:
    """``sqlite`` or ``postgresql``: the name a database's figures are filed under."""
    return "sqlite" if database.startswith("sqlite") else "postgresql"


def machine(databases: list[str]) -> dict[str, t.Any]:
    """What the figures were measured on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    found: dict[str, t.Any] = {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": os.getloadavg()[0],
    }
    for database in databases:
        if kind(database) == "postgresql":
            engine = create_engine(make_url(database).set(database="postgres"))
            with engine.connect() as conn:
                found["postgresql"] = conn.execute(text("SHOW server_version")).scalar_one()
                autovacuum = conn.execute(text("SHOW autovacuum")).scalar_one()
                found["postgresql_autovacuum"] = autovacuum
            engine.dispose()
    return found


def run(
    databases: list[str], sizes: dict[str, t.Any], only: set[str], log: Callable[[str], None]
) -> tuple[dict[str, t.Any], dict[str, float]]:
    """Every benchmark in ``only``, on every database; (results, seconds each took)."""
    results: dict[str, t.Any] = {}
    seconds: dict[str, float] = {}

    def timed(name: str, fn: Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> t.Any:
        log(f"{name} ...")
        start = time.perf_counter()
        value = fn(*args, **kwargs)
        seconds[name] = time.perf_counter() - start
        log(f"{name}: {seconds[name]:.1f} s")
        return value

    for database in databases:
        db = kind(database)
        if "scim_lookup" in only:
            lookup = dict(sizes["scim_lookup"])
            for users in lookup.pop("sizes"):
                results.setdefault("scim_lookup", {}).setdefault(db, {})[str(users)] = timed(
                    f"scim_lookup {db} {users}",
                    scim_lookup.measure,
                    database,
                    users=users,
                    **lookup,
                )
        if "acs" in only:
            results.setdefault("acs", {})[db] = timed(
                f"acs {db}", acs.measure, database, **sizes["acs"]
            )
        if "saml_options" in only:
            results.setdefault("saml_options", {})[db] = timed(
                f"saml_options {db}", saml_options.measure, database, **sizes["saml_options"]
            )
        if "big_orgs" in only:
            results.setdefault("big_orgs", {})[db] = timed(
                f"big_orgs {db}", big_orgs.measure, database, **sizes["big_orgs"]
            )
    if "scim_patch" in only:
        results["scim_patch"] = timed("scim_patch", scim_patch.measure, **sizes["scim_patch"])
    if "onboarding" in only:
        results["onboarding"] = timed(
            "onboarding", onboarding.measure, databases, **sizes["onboarding"]
        )
    return results, seconds


def ratios(results: dict[str, t.Any], databases: list[str]) -> dict[str, dict[str, float]]:
    """The table's figures, by database: row label -> ratio."""
    table: dict[str, dict[str, float]] = {}
    for database in databases:
        db = kind(database)
        row: dict[str, float] = {}
        for label, benchmark, key, _ in ROWS:
            if benchmark not in results:
                continue
            figures = results[benchmark]
            if benchmark == "scim_lookup":
                by_size = figures[db]
                figures = by_size[max(by_size, key=int)]
            elif benchmark != "onboarding":
                figures = figures[db]
            row[label] = figures[key.format(db=db)]
        table[db] = row
    return table


def print_table(
    results: dict[str, t.Any], table: dict[str, dict[str, float]], settings: dict[str, t.Any]
) -> None:
    columns = list(table)
    width = max(len(label) for label, *_ in ROWS)
    print()
    print(f"{'ratio':{width}s}  " + "".join(f"{c:>11s}" for c in columns) + "  target")
    for label, _, _, target in ROWS:
        if all(label in table[c] for c in columns):
            values = "".join(f"{table[c][label]:11.2f}" for c in columns)
            print(f"{label:{width}s}  {values}  {target}")
    if "scim_patch" in results:
        print(
            f"{'PATCH forms, largest last-doubling ratio':{width}s}  "
            f"{results['scim_patch']['max_last_ratio']:11.2f}  (no database) ~ 2: linear"
        )
    if "scim_lookup" in results:
        print()
        print("SCIM lookup latency (ms) by organization size: ours / bare endpoint")
        sizes = settings["scim_lookup"]["sizes"]
        print(f"{'people':>8s}  " + "".join(f"{c:>22s}" for c in results["scim_lookup"]))
        for size in sizes:
            cells = []
            for by_size in results["scim_lookup"].values():
                f = by_size[str(size)]
                cells.append(f"{f['scim_lookup_big_ms']:10.2f} / {f['bare_lookup_ms']:8.2f}")
            print(f"{size:8d}  " + "".join(f"{c:>22s}" for c in cells))
    if "big_orgs" in results:
        b = settings["big_orgs"]
        print()
        print(
            f"Big organizations: {b['people']} people, groups of {b['group']} and "
            f"{b['small']}, a PATCH of {b['patch']} members"
        )
        for key, label in big_orgs.LABELS.items():
            if not key.startswith("ratio_"):
                cells = "".join(f"{f[key]:11.2f}" for f in results["big_orgs"].values())
                print(f"{label:48s}{cells}")
    if "onboarding" in results:
        o = results["onboarding"]
        people = settings["onboarding"]["people"]
        concurrency = settings["onboarding"]["concurrency"]
        print()
        print(f"Onboarding {people} people, {concurrency} requests at a time, over HTTP (gunicorn)")
        print(f"{'server':22s} {'people/s':>9s} {'lookup ms':>10s} {'create ms':>10s}")
        for name, label in (
            ("scim2_server", "scim2-server, memory"),
            ("sqlite", "ours, SQLite"),
            ("postgresql", "ours, PostgreSQL"),
        ):
            if name in o:
                f = o[name]
                print(
                    f"{label:22s} {f['people_per_s']:9.1f} {f['lookup_ms']:10.2f} "
                    f"{f['create_ms']:10.2f}"
                )


def plot(results: dict[str, t.Any], path: Path) -> None:
    """Draw the SCIM lookup's median latency against the organization's size."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    colours = {"sqlite": "tab:blue", "postgresql": "tab:orange"}
    fig, ax = plt.subplots(figsize=(7, 4.8), dpi=110)
    for db, by_size in results["scim_lookup"].items():
        sizes = sorted(by_size, key=int)
        x = [int(s) for s in sizes]
        ax.plot(
            x,
            [by_size[s]["scim_lookup_big_ms"] for s in sizes],
            marker="o",
            color=colours[db],
            label=f"SCIM lookup (ours), {names[db]}",
        )
        ax.plot(
            x,
            [by_size[s]["bare_lookup_ms"] for s in sizes],
            marker="s",
            linestyle="--",
            color=colours[db],
            label=f"bare Flask + SQLAlchemy (floor), {names[db]}",
        )
    ax.set_xscale("log")
    ticks = sorted({int(s) for by_size in results["scim_lookup"].values() for s in by_size})
    ax.set_xticks(ticks, [f"{n:,}" for n in ticks])
    ax.minorticks_off()
    ax.set_ylim(bottom=0)
    ax.set_xlabel("people in the organization")
    ax.set_ylabel("median latency per request (ms)")
    ax.set_title('GET /Users?filter=userName eq "…" against the organization\'s size')
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(
        fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument(
        "--database",
        action="append",
        help=f"'sqlite' or a PostgreSQL server URL; repeatable (default: sqlite, {POSTGRESQL})",
    )
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--output", type=Path, help="the JSON file to write")
    parser.add_argument("--plot", type=Path, help="the PNG file to draw")
    parser.add_argument("--no-plot", action="store_true", help="draw nothing")
    args = parser.parse_args(argv)

    databases = args.database or ["sqlite", POSTGRESQL]
    sizes = QUICK if args.quick else FULL
    only = set(args.only or BENCHMARKS)
    output = args.output or RESULTS / ("latest-quick.json" if args.quick else "latest.json")
    plot_path = args.plot or (RESULTS / "lookup-scaling-quick.png" if args.quick else PLOT)

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f} s] {message}", flush=True)

    start = time.perf_counter()
    started = datetime.datetime.now(datetime.timezone.utc)
    about = machine(databases)
    results, seconds = run(databases, sizes, only, log)
    table = ratios(results, databases)
    duration = time.perf_counter() - start
    about["load_average_at_end"] = os.getloadavg()[0]
    print_table(results, table, sizes)
    output.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "started": started.isoformat(timespec="seconds"),
        "duration_s": duration,
        "quick": args.quick,
        "machine": about,
        "settings": {k: v for k, v in sizes.items() if k in only},
        "seconds": seconds,
        "results": results,
        "ratios": table,
    }
    output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nfigures written to {output}")
    if "scim_lookup" in results and not args.no_plot:
        plot(results, plot_path)
        print(f"plot drawn in {plot_path}")
    print(f"whole run: {duration:.0f} s")


if __name__ == "__main__":
    main()
