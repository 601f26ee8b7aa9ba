"""``GET /Groups/{id}`` written as it is read: a group's members are never a list in memory.

The group's own attributes are rendered and shaped as for any answer (``attributes``,
``excludedAttributes``); its ``members`` are then written from the store's streamed
cursor (:meth:`~flask_okta_scim.sqla.SQLAlchemyScimStore.member_ids`), a batch at a
time, each member from a template: one member rendered and shaped the same way, its id left
out. The answer's bytes are those Flask's JSON provider writes for the whole resource
(tests/scim_api/test_big_groups.py compares them). Under another provider (a host's own
``app.json``), or a shape the template cannot write, the members are read into a list
and the answer is built whole, as before.

The view returns before the body is sent, so the members are read after the request's
unit of work committed, by one statement of their own: the snapshot of that statement,
as every read of the members has always been under PostgreSQL's READ COMMITTED. A
database failure while the body streams cuts the answer short (its status was sent):
the client sees a broken body, never a shorter list presented as whole.
"""

from __future__ import annotations

import json
import re
import typing as t
from collections.abc import Iterator

from flask import Response
from flask import current_app
from flask import request
from flask import stream_with_context
from flask.json.provider import DefaultJSONProvider

from ..scim.constants import CONTENT_TYPE
from ..scim.resources import group_member
from ..scim.resources import project
from ..scim.service import preconditions

#: Where a member's id goes in the template, and the members in the resource's text.
_ID = "okta-scim-stream-member-id-6f1d0c2e"
_MEMBERS = "okta-scim-stream-members-8a9b3e51"
#: An id JSON writes as it is (printable ASCII but ``"`` and ``\``): no encoding needed.
_PLAIN = re.compile(r"[ !#-\[\]-~]*\Z")


def streamed_group(
    resource: dict[str, t.Any],
    ids: Iterator[list[str]],
    attributes: list[str] | None,
    excluded: list[str] | None,
    base_url: str,
) -> Response | None:
    """The answer to ``GET /Groups/{id}``: ``resource`` (without ``members``) shaped as
    asked, its members (``ids``, batches read lazily) written as the body streams; a 304 when
    ``If-None-Match`` names its version. ``None`` when it cannot be streamed (see the
    module): the caller then builds it whole."""
    if type(current_app.json).dumps is not DefaultJSONProvider.dumps:
        return None
    version = resource["meta"]["version"]
    if preconditions(version, if_none_match=request.headers.get("If-None-Match")):
        return Response("", 304, mimetype=CONTENT_TYPE, headers={"ETag": version})
    provider = t.cast(DefaultJSONProvider, current_app.json)
    encoder = json.JSONEncoder(
        default=provider.default, ensure_ascii=provider.ensure_ascii, sort_keys=provider.sort_keys
    )
    shaped = project({**resource, "members": [group_member(_ID, base_url)]}, attributes, excluded)
    members = shaped.get("members")
    if not (isinstance(members, list) and len(members) == 1):
        return None
    template = encoder.encode(members[0]).split(_ID)
    shaped["members"] = _MEMBERS
    around = encoder.encode(shaped).split(encoder.encode(_MEMBERS))
    if len(around) != 2:
        return None
    body = _body(around[0], template, around[1], ids, encoder)
    return Response(
        stream_with_context(body), 200, mimetype=CONTENT_TYPE, headers={"ETag": version}
    )


def _body(
    head: str,
    template: list[str],
    tail: str,
    batches: Iterator[list[str]],
    encoder: json.JSONEncoder,
) -> Iterator[str]:
    """The resource's text: ``head``, the members' list, ``tail``; a chunk per batch of ids."""
    try:
        yield head + "["
        separator = ""
        for ids in batches:
            if not _PLAIN.match("".join(ids)):  # rare: an id JSON escapes
                ids = [encoder.encode(i)[1:-1] for i in ids]
            yield separator + ", ".join([i.join(template) for i in ids])
            separator = ", "
        yield "]" + tail
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
