"""The Audit screen: the organization's audit log, newest first, by page, by kind, as JSON lines.

``GET <prefix>/<org_id>/audit`` shows :data:`PAGE` entries, newest first;
``?kind=`` keeps one family of actions (``sso``, ``scim``, ``user``...) or one
action (``user.update``); ``?before=<id>`` is the next page (a cursor, so a
page does not shift while new entries arrive). ``GET .../audit.jsonl`` exports
the same selection, up to :data:`EXPORT` entries, one JSON object per line,
as ``flask okta-scim audit ORG --json`` prints it. Entries never hold
passwords or tokens; the organization's log never says whether a person has
an account elsewhere (those decisions are in the operator's log).
"""

from __future__ import annotations

import json
import re
import typing as t

from flask import Response
from flask import request

from ..._current import extension
from ...sqla.directory.base import audit_entry
from . import bp
from . import organization
from . import render

#: Entries per page.
PAGE = 50
#: At most this many entries in one export.
EXPORT = 10_000
#: The families offered in the filter.
KINDS = ("sso", "scim", "user", "member", "team", "domain", "organization")
_KIND = re.compile(r"[a-z_]{1,30}(\.[a-z_]{1,30})?")


@bp.get("/<int:org_id>/audit")
def audit() -> t.Any:
    kind, before = _selection()
    rows = (
        extension().directory().audit_log(organization(), limit=PAGE + 1, kind=kind, before=before)
    )
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return render(
        "audit",
        entries=[(row, audit_entry(row)) for row in rows],
        kind=kind,
        kinds=KINDS,
        next_before=rows[-1].id if more and rows else None,
    )


@bp.get("/<int:org_id>/audit.jsonl")
def export() -> Response:
    kind, before = _selection()
    rows = extension().directory().audit_log(organization(), limit=EXPORT, kind=kind, before=before)
    body = "".join(json.dumps(audit_entry(row), sort_keys=True) + "\n" for row in rows)
    name = f"audit-{organization().id}{'-' + kind if kind else ''}.jsonl"
    return Response(
        body,
        mimetype="application/jsonl",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _selection() -> tuple[str | None, int | None]:
    """The ``kind`` and ``before`` of the query string; ill-formed values are ignored."""
    kind = request.args.get("kind", "").strip() or None
    if kind is not None and not _KIND.fullmatch(kind):
        kind = None
    before = request.args.get("before", "")
    return kind, int(before) if before.isdigit() and len(before) < 19 else None
