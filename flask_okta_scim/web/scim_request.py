"""Reading a SCIM request: its JSON body and its query arguments.

Strict JSON (no NaN, no Infinity, no numbers out of range, bounded nesting,
storable strings), integers that are integers, comma-separated attribute
lists. Raises SCIM or directory errors the blueprint's handlers answer; does
not authenticate and does not touch the database.
"""

from __future__ import annotations

import json
import math
import typing as t

from flask import request

from ..core import errors as directory_errors
from ..scim import errors
from ..scim.resources import check_json
from ..scim.search import ListQuery


def json_body() -> t.Any:
    """The request body as strict JSON (no NaN or Infinity), checked by :func:`check_json`."""
    raw = request.get_data(cache=True)  # honours max_content_length: 413 beyond it
    try:
        body = json.loads(
            raw.decode("utf-8"), parse_constant=_no_constants, parse_float=_finite_float
        )
    except RecursionError:
        raise errors.InvalidSyntax("The request body is nested too deeply.") from None
    except (ValueError, UnicodeDecodeError):
        raise errors.InvalidSyntax(
            "The request body must be JSON (application/scim+json)."
        ) from None
    check_json(body)
    return body


def _no_constants(name: str) -> t.NoReturn:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: JSON allows it, no database stores it
        raise ValueError(f"{text} is out of range")
    return value


def int_arg(name: str, default: int | None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise directory_errors.InvalidValue(f"{name} must be an integer.") from None


def names(arg: str) -> list[str] | None:
    raw = request.args.get(arg)
    return [p.strip() for p in raw.split(",") if p.strip()] if raw else None


def query_args() -> ListQuery:
    """The list a ``GET`` asks for, from its query string."""
    return ListQuery(
        filter=request.args.get("filter"),
        start_index=int_arg("startIndex", 1) or 1,
        count=int_arg("count", None),
        attributes=names("attributes"),
        excluded_attributes=names("excludedAttributes"),
    )
