"""SCIM PATCH in the protocol core: how its time grows with the size of the body.

Each operation form (Users and Groups; add/remove/replace, with and without a
path, value filters, many operations in one body) is timed in-process on the
core functions the PATCH endpoint calls (``parse_patch``, ``apply_patch`` and
``parse_user``, or ``group_changes``), for bodies of size n, 2n, 4n, ...,
interleaved in rounds in the same run. Printed per form: the median time for
each size and the ratio time(2n)/time(n) for each doubling. A ratio near 2 is
linear; near 4 is quadratic. Forms whose body a server refuses (400) are timed
up to the refusal: that is what the request costs. No HTTP, no database.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import time
import typing as t
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_okta_scim.core.errors import InvalidValue
from flask_okta_scim.scim.constants import ENTERPRISE_USER
from flask_okta_scim.scim.constants import GROUP
from flask_okta_scim.scim.constants import PATCH_OP
from flask_okta_scim.scim.constants import USER
from flask_okta_scim.scim.errors import ScimError
from flask_okta_scim.scim.group_patch import group_changes
from flask_okta_scim.scim.patch import apply_patch
from flask_okta_scim.scim.patch import parse_patch
from flask_okta_scim.scim.resources import parse_user

Body = dict[str, t.Any]
Resource = dict[str, t.Any]


def body(*operations: dict[str, t.Any]) -> Body:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def emails(n: int, prefix: str = "e") -> list[dict[str, t.Any]]:
    return [{"value": f"{prefix}{i}@acme.example", "type": "work"} for i in range(n)]


def ids(n: int) -> list[str]:
    return [f"{i:08d}-6090-4be5-9a3b-0123456789ab" for i in range(n)]


def user(n_emails: int = 1, **extra: t.Any) -> Resource:
    return {
        "userName": "ann@acme.example",
        "active": True,
        "emails": emails(n_emails),
        **extra,
    }


#: form name -> (what n counts, a function of n giving (resource or None, body)).
#: A ``None`` resource is a Group PATCH.
FORMS: dict[str, tuple[str, t.Callable[[int], tuple[Resource | None, Body]]]] = {
    "user add emails (path), n new": (
        "items",
        lambda n: (user(), body({"op": "add", "path": "emails", "value": emails(n, "x")})),
    ),
    "user add emails (path), n duplicates": (
        "items",
        lambda n: (user(n), body({"op": "add", "path": "emails", "value": emails(n)})),
    ),
    "user add emails (no path)": (
        "items",
        lambda n: (user(n), body({"op": "add", "value": {"emails": emails(n, "x")}})),
    ),
    "user replace emails (path)": (
        "items",
        lambda n: (user(n), body({"op": "replace", "path": "emails", "value": emails(n, "x")})),
    ),
    "user replace, no path, n attributes": (
        "keys",
        lambda n: (
            user(),
            body({"op": "replace", "value": {f"X-Attr{i}": "v" for i in range(n)}}),
        ),
    ),
    "user n ops on n attributes (other case)": (
        "ops",
        lambda n: (
            user(1, **{f"attr{i}": "v" for i in range(n)}),
            body(*({"op": "replace", "path": f"ATTR{i}", "value": "w"} for i in range(n))),
        ),
    ),
    "user remove emails[type eq work] (all match)": (
        "items",
        lambda n: (user(n), body({"op": "remove", "path": 'emails[type eq "work"]'})),
    ),
    "user n ops remove emails[value eq x]": (
        "ops",
        lambda n: (
            user(n),
            body(
                *(
                    {"op": "remove", "path": f'emails[value eq "e{i}@acme.example"]'}
                    for i in range(n)
                )
            ),
        ),
    ),
    "user n ops replace emails[type eq work].value": (
        "ops",
        lambda n: (
            user(n),
            body(
                *(
                    {
                        "op": "replace",
                        "path": 'emails[type eq "work"].value',
                        "value": f"w{i}@acme.example",
                    }
                    for i in range(n)
                )
            ),
        ),
    ),
    "user n ops add one email": (
        "ops",
        lambda n: (
            user(n),
            body(
                *(
                    {"op": "add", "path": "emails", "value": [{"value": f"x{i}@acme.example"}]}
                    for i in range(n)
                )
            ),
        ),
    ),
    "user n ops enterprise manager (Entra)": (
        "ops",
        lambda n: (
            user(),
            body(
                *(
                    {"op": "Add", "path": f"{ENTERPRISE_USER}:manager", "value": f"m{i}"}
                    for i in range(n)
                )
            ),
        ),
    ),
    "group add members, n ids": (
        "items",
        lambda n: (None, body({"op": "add", "path": "members", "value": mv(n)})),
    ),
    "group add members, n duplicate ids": (
        "items",
        lambda n: (None, body({"op": "add", "path": "members", "value": mv(1) * n})),
    ),
    "group replace members (Okta), n ids": (
        "items",
        lambda n: (None, body({"op": "replace", "path": "members", "value": mv(n)})),
    ),
    "group replace, no path, n members": (
        "items",
        lambda n: (None, body({"op": "replace", "value": {"displayName": "G", "members": mv(n)}})),
    ),
    "group remove members value list (Entra)": (
        "items",
        lambda n: (None, body({"op": "Remove", "path": "members", "value": mv(n)})),
    ),
    "group n ops remove members[value eq x]": (
        "ops",
        lambda n: (
            None,
            body(*({"op": "remove", "path": f'members[value eq "{i}"]'} for i in ids(n))),
        ),
    ),
    "group n ops add one member": (
        "ops",
        lambda n: (
            None,
            body(*({"op": "add", "path": "members", "value": [{"value": i}]} for i in ids(n))),
        ),
    ),
}


def mv(n: int) -> list[dict[str, str]]:
    return [{"value": i} for i in ids(n)]


def run(resource: Resource | None, patch: Body) -> None:
    """What the PATCH endpoint does in the core, up to where the store takes over."""
    try:
        if resource is None:
            group_changes(parse_patch(patch, GROUP))
        else:
            parse_user(apply_patch(resource, parse_patch(patch, USER), USER))
    except (ScimError, InvalidValue):
        pass  # refused: the time to refuse is the cost


def timed(resource: Resource | None, patch: Body, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run(resource, patch)
        samples.append(time.perf_counter() - start)
    return min(samples)


def measure(
    *,
    items: int = 2000,
    ops: int = 125,
    keys: int = 2000,
    doublings: int = 3,
    rounds: int = 5,
    repeat: int = 3,
    only: str | None = None,
) -> dict[str, t.Any]:
    """Time each form at sizes n, 2n, 4n, ...; returns, by form, ``n``, the median times
    (``ms``, one per size) and the ratio of each doubling (``ratios``), and the largest
    of the last doublings' ratios (``max_last_ratio``: the least noisy)."""
    forms = {k: v for k, v in FORMS.items() if not only or only in k}
    base_sizes = {"items": items, "ops": ops, "keys": keys}
    sizes = [2**k for k in range(doublings + 1)]
    cases = []
    for name, (unit, make) in forms.items():
        for factor in sizes:
            resource, patch = make(base_sizes[unit] * factor)
            cases.append((name, factor, resource, patch))
    times: dict[tuple[str, int], list[float]] = {(c[0], c[1]): [] for c in cases}
    for _ in range(rounds):
        for name, factor, resource, patch in random.sample(cases, len(cases)):
            times[name, factor].append(timed(resource, patch, repeat))
    result: dict[str, t.Any] = {"forms": {}}
    for name, (unit, _) in forms.items():
        medians = [statistics.median(times[name, f]) * 1000 for f in sizes]
        result["forms"][name] = {
            "n": base_sizes[unit],
            "ms": medians,
            "ratios": [b / a for a, b in itertools.pairwise(medians)],
        }
    result["max_last_ratio"] = max(f["ratios"][-1] for f in result["forms"].values())
    return result


def report(result: dict[str, t.Any]) -> None:
    forms = result["forms"]
    sizes = [2**k for k in range(len(next(iter(forms.values()))["ms"]))]
    print(f"{'form':48s} {'n':>6s}  " + "  ".join(f"{f:>3d}n (ms)" for f in sizes) + "  ratios")
    for name, form in forms.items():
        print(
            f"{name:48s} {form['n']:>6d}  "
            + "  ".join(f"{m:9.2f}" for m in form["ms"])
            + "  "
            + " ".join(f"{r:4.1f}" for r in form["ratios"])
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=2000, help="n for list-sized forms")
    parser.add_argument("--ops", type=int, default=125, help="n for operation-count forms")
    parser.add_argument("--keys", type=int, default=2000, help="n for attribute-count forms")
    parser.add_argument("--doublings", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", help="only forms whose name contains this")
    args = parser.parse_args()
    report(
        measure(
            items=args.items,
            ops=args.ops,
            keys=args.keys,
            doublings=args.doublings,
            rounds=args.rounds,
            repeat=args.repeat,
            only=args.only,
        )
    )


if __name__ == "__main__":
    main()
