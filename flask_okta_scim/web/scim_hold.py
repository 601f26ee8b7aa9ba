"""The mass-deprovisioning guard on the SCIM API: decide per request, replay on release.

A write to ``/Users/{id}`` or ``/Groups/{id}`` that may destroy (a ``DELETE``; a
``PUT`` or ``PATCH`` of a user that mentions ``active``), or that targets a
resource with a held change waiting, runs inside a savepoint. What it did is
read off the audit actions it recorded: if it deactivated or deleted someone
or deleted a team, and the organization is held or this change takes it past a
threshold (:mod:`flask_okta_scim.sqla.directory.guard`), the savepoint is rolled
back, the request is recorded as held, and the answer it produced is sent as
is: Okta sees success and does not retry. Everything else is committed as usual.

Signal receivers run during that first pass and their database writes are
rolled back with it; work outside the database belongs after the commit (as for
a request that runs again after a deadlock).
"""

from __future__ import annotations

import json
import logging
import typing as t
from collections.abc import Callable

from flask import Response
from flask import current_app
from flask import request

from .. import signals
from ..core import errors as directory_errors
from ..core.ids import forced_scim_id
from ..logs import log
from ..scim import errors
from ..scim.service import ScimService
from ..scim.service import plausible_id
from ..sqla.directory.guard import DEACTIVATIONS
from ..sqla.directory.guard import TEAM_DELETIONS
from ..sqla.scim_store import SQLAlchemyScimStore
from .scim_request import json_body

Handler = Callable[..., t.Any]


def _may_destroy(resource: str, verb: str) -> bool:
    if verb == "delete":
        return True
    return resource == "Users" and b'"active"' in request.get_data(cache=True)


def guarded(
    resource: str,
    verb: str,
    handler: Handler,
    service: ScimService,
    directory: t.Any,
    scim_id: str,
) -> t.Any:
    """Run one write under the guard, inside the request's unit of work; return its answer."""
    if not plausible_id(scim_id):  # the service answers 404 without a lookup
        return handler(service, scim_id=scim_id)
    organization = service.store.organization  # type: ignore[attr-defined]
    waiting = directory.has_pending_change(organization, scim_id)
    if not waiting and not _may_destroy(resource, verb):
        return handler(service, scim_id=scim_id)
    mark = len(directory.actions)
    savepoint = directory.session.begin_nested()
    answer = handler(service, scim_id=scim_id)
    destructive = [a for a in directory.actions[mark:] if a in DEACTIVATIONS + TEAM_DELETIONS]
    if not (waiting or destructive):  # an Okta PUT that leaves active as it was
        savepoint.commit()
        return answer
    # Decide one request at a time per organization: each counts what the ones before it
    # committed, so concurrent requests cannot overshoot a threshold together.
    directory.lock_guard(organization)
    waiting = waiting or directory.has_pending_change(organization, scim_id)
    tripped = False
    reason: str | None = None
    if waiting:
        reason = "held behind an earlier held change of the same resource"
    elif directory.is_held(organization):
        reason = "the organization's destructive changes are held"
    else:
        reason = directory.guard_trips(organization, destructive)
        tripped = reason is not None
    if reason is None:
        savepoint.commit()
        return answer
    savepoint.rollback()
    del directory.actions[mark:]
    if tripped:
        directory.start_holding(organization, reason)
    change = _record(directory, organization, resource, scim_id, reason, "pending")
    if tripped:
        log(
            "scim.held",
            logging.WARNING,
            "Destructive SCIM changes are held for an admin: %s",
            reason,
            organization=organization,
        )
        directory.session.flush()
        signals.provisioning_held.send(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            organization=organization,
            reason=reason,
            change=change,
        )
    return answer


def replay(service: ScimService, change: t.Any) -> str:
    """Apply a held change through the SCIM service, as its request would have; return what
    came of it (``"applied"``, or why not). ``If-Match`` is not checked again: the change
    was answered as done."""
    calls: dict[tuple[str, str], Callable[[], t.Any]] = {
        ("Users", "POST"): lambda: _created_as(change, "user", service.create_user),
        ("Groups", "POST"): lambda: _created_as(change, "group", service.create_group),
        ("Users", "PUT"): lambda: service.replace_user(change.resource_id, change.body, None),
        ("Users", "PATCH"): lambda: service.patch_user(change.resource_id, change.body, None),
        ("Users", "DELETE"): lambda: service.delete_user(change.resource_id, None),
        ("Groups", "PUT"): lambda: service.replace_group(change.resource_id, change.body, None),
        ("Groups", "PATCH"): lambda: service.patch_group(change.resource_id, change.body, None),
        ("Groups", "DELETE"): lambda: service.delete_group(change.resource_id, None),
    }
    call = calls.get((change.resource, change.method))
    if call is None:
        return f"not applied: {change.method} {change.resource} is not replayable"
    store = service.store
    savepoint = store.directory.session.begin_nested()  # type: ignore[attr-defined]
    try:
        call()
    except (errors.ScimError, directory_errors.DirectoryError) as e:
        savepoint.rollback()
        return f"not applied: {getattr(e, 'detail', None) or e}"
    savepoint.commit()
    return "applied"


def _created_as(change: t.Any, kind: str, create: Callable[[t.Any], t.Any]) -> t.Any:
    """Create what a planned ``POST`` created, with the id it was answered with."""
    with forced_scim_id(kind, change.resource_id):
        return create(change.body)


def planned(
    resource: str,
    verb: str,
    handler: Handler,
    service: ScimService,
    directory: t.Any,
    **kwargs: t.Any,
) -> t.Any:
    """Dry run: answer a write as it would be answered, record it as planned, apply nothing.

    The answer is computed inside a savepoint, on top of the planned changes of
    every resource the request names (its own id, and the ids in its body,
    transitively): so that Okta's next requests about a user it was told was
    created (a PATCH, a group push with it as a member) are answered as they will
    be once armed. Writes are planned one at a time per organization, under the
    lock :func:`arm` takes to end the dry run: returns ``None``, planning nothing,
    when the dry run ended since the token was checked (apply the write then).
    """
    organization = service.store.organization  # type: ignore[attr-defined]
    directory.lock_guard(organization)
    if not directory.is_dry_run(organization):
        return None
    raw = request.get_data(cache=True)
    scim_id = kwargs.get("scim_id")
    savepoint = directory.session.begin_nested()
    try:
        _apply_planned(service, directory, organization, raw, scim_id)
        answer = handler(service, **kwargs)
    finally:
        savepoint.rollback()
    if scim_id is None:  # a POST: the id it was answered with
        scim_id = t.cast(t.Any, answer).get_json(force=True)["id"]
    _record(directory, organization, resource, scim_id, "dry run", "planned")
    return answer


def _record(
    directory: t.Any, organization: t.Any, resource: str, scim_id: str, reason: str, status: str
) -> t.Any:
    """Record the current request as a held (``pending``) or ``planned`` change."""
    return directory.hold_change(
        organization,
        method=request.method,
        resource=resource,
        resource_id=scim_id,
        body=json_body() if request.get_data(cache=True).strip() else None,
        if_match=request.headers.get("If-Match"),
        reason=reason,
        status=status,
    )


def as_planned(handler: Handler, service: ScimService, directory: t.Any, scim_id: str) -> t.Any:
    """Dry run: read a user or group as it will be once the plan is applied (its planned
    changes applied in a savepoint, then rolled back)."""
    organization = service.store.organization  # type: ignore[attr-defined]
    if scim_id not in directory.planned_ids(organization):
        return handler(service, scim_id=scim_id)
    savepoint = directory.session.begin_nested()
    try:
        _apply_planned(service, directory, organization, b"", scim_id)
        answer = handler(service, scim_id=scim_id)
        if isinstance(answer, Response) and answer.is_streamed:
            answer.make_sequence()  # a group's members, read while the plan is applied
        return answer
    finally:
        savepoint.rollback()


def _apply_planned(
    service: ScimService, directory: t.Any, organization: t.Any, raw: bytes, scim_id: str | None
) -> None:
    """Apply, in order, the planned changes of the resources ``raw`` and ``scim_id`` name."""
    known = directory.planned_ids(organization)
    if not known:
        return
    text = raw.decode("utf-8", "replace")
    wanted = {i for i in known if i == scim_id or i in text}
    seen: set[str] = set()
    while wanted - seen:
        seen |= wanted
        for change in directory.planned_for(organization, wanted):
            body = json.dumps(change.body) if change.body is not None else ""
            wanted |= {i for i in known if i in body}
    for change in directory.planned_for(organization, seen):
        replay(service, change)


def arm(organization_id: t.Any, *, actor: str) -> list[dict[str, t.Any]]:
    """End a dry run: apply the planned changes, in order, each once, then apply requests as
    they come. Returns them as :func:`describe` shows them (``outcome``: applied, or why
    not). A write planned while this runs is applied too: the dry run ends only once
    nothing planned is left, under the lock the planning takes."""
    ext = current_app.extensions["okta_scim"]
    done: list[dict[str, t.Any]] = []
    while True:
        with ext.directory(actor=actor).atomic() as directory:
            organization = directory.get_organization(organization_id)
            change = directory.next_pending_change(organization, status="planned")
            if change is None:
                directory.lock_guard(organization)
                if directory.next_pending_change(organization, status="planned") is None:
                    directory.set_dry_run(organization, False)
                    return done
                continue
            outcome = replay(release_service(directory, organization), change)
            directory.decide_change(change, "applied", outcome)
            done.append(describe(change))


def release_service(directory: t.Any, organization: t.Any) -> ScimService:
    """A SCIM service for ``organization`` on ``directory``, to replay held changes."""
    ext = current_app.extensions["okta_scim"]
    settings = ext.settings
    base = (settings.base_url or "http://localhost").rstrip("/") + settings.scim_url_prefix
    store = SQLAlchemyScimStore(directory, organization, base_url=base)
    return ScimService(store, max_results=settings.max_page_size)


def describe(change: t.Any) -> dict[str, t.Any]:
    """A held change as the command line and the admin console show it (JSON)."""
    return {
        "id": str(change.id),
        "at": change.created_at.isoformat(),
        "actor": change.actor,
        "method": change.method,
        "resource": change.resource,
        "resource_id": change.resource_id,
        "reason": change.reason,
        "password_dropped": change.password_dropped,
        "status": change.status,
        "outcome": change.outcome,
    }


def release_held(
    organization_id: t.Any, ids: list[int] | None = None, *, actor: str
) -> tuple[list[dict[str, t.Any]], bool]:
    """Apply the organization's pending held changes (``ids`` only, if given), oldest first,
    each in a unit of work of its own; return them as :func:`describe` shows them, and
    whether the hold ended (nothing pending any more).

    A change given by id brings the earlier pending changes of the same person or group
    with it, so that they apply in the order Okta sent them.
    """
    ext = current_app.extensions["okta_scim"]
    if ids:
        with ext.directory(actor=actor).atomic() as directory:
            pending = directory.held_changes(directory.get_organization(organization_id))
            last = {}  # resource id -> the newest change of it asked for
            for change in pending:
                if change.id in ids:
                    last[change.resource_id] = change.id
            ids = [c.id for c in pending if c.id <= last.get(c.resource_id, -1)]
    done: list[dict[str, t.Any]] = []
    while True:
        with ext.directory(actor=actor).atomic() as directory:
            organization = directory.get_organization(organization_id)
            change = directory.next_pending_change(organization, ids)
            if change is None:
                break
            outcome = replay(release_service(directory, organization), change)
            directory.decide_change(change, "released", outcome)
            done.append(describe(change))
    with ext.directory(actor=actor).atomic() as directory:
        resumed = directory.stop_holding_if_done(directory.get_organization(organization_id))
    return done, bool(resumed)


def discard_held(
    organization_id: t.Any, ids: list[int] | None = None, *, actor: str
) -> tuple[int, bool]:
    """Drop the organization's pending held changes (``ids`` only, if given) without applying
    them; return how many, and whether the hold ended."""
    ext = current_app.extensions["okta_scim"]
    with ext.directory(actor=actor).atomic() as directory:
        organization = directory.get_organization(organization_id)
        count = 0
        for change in directory.held_changes(organization):
            if not ids or change.id in ids:
                directory.decide_change(change, "discarded")
                count += 1
        return count, bool(directory.stop_holding_if_done(organization))
