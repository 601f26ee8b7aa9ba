"""The extension's log: one logger tree, and fields that a JSON log formatter can read.

Every record the extension writes goes through :func:`log`, on a logger under
``flask_okta_scim`` named after the event's first part (``sso.refused`` goes to
``flask_okta_scim.sso``): configure ``flask_okta_scim`` to get them all. Each
record carries, as attributes, the fields of :data:`FIELDS` (``None`` when they do
not apply) and the event's own details, all named ``okta_scim_*`` so that they
never clash with :class:`logging.LogRecord`'s attributes. Text fields pass
through :func:`~flask_okta_scim.core.text.loggable` (one bounded line); no field
holds a token, a password or a SAML message. ``docs/logging.rst`` lists the
events.
"""

from __future__ import annotations

import logging

from .core.text import loggable

#: The logger every other one of the extension descends from.
LOGGER_NAME = "flask_okta_scim"
#: What the name of every field on a record starts with.
PREFIX = "okta_scim_"
#: The fields every record carries, ``None`` when they do not apply.
FIELDS = ("event", "organization", "connection", "reference", "reason")

#: The events, by name; the part before the dot names the logger.
EVENTS = frozenset(
    {
        "sso.refused",
        "sso.refusal_budget_exhausted",
        "sso.link_refused",
        "sso.audit_failed",
        "sso.logout",
        "sso.logout_incomplete",
        "sso.logout_local_only",
        "scim.request_failed",
        "scim.rerun",
        "scim.audit_failed",
        "certificate.expiring",
        "metadata.refreshed",
        "metadata.refresh_failed",
        "config.insecure_base_url",
        "config.base_url_missing",
        "account.delete_refused",
        "team.purge_failed",
        "scim.held",
        "testing.simulator_mounted",
    }
)

Value = str | int | None


def log(
    event: str,
    level: int,
    message: str,
    *args: object,
    organization: object = None,
    connection: str | None = None,
    reference: str | None = None,
    reason: str | None = None,
    exc_info: bool = False,
    **details: Value,
) -> None:
    """Write ``message % args`` at ``level`` for ``event``, with its fields as record attributes.

    ``organization`` is the organization's id (written as a string),
    ``connection`` the Integration ID, ``reference`` the id shown on an error
    page; ``reason`` and every text in ``details`` are made one bounded line
    here. The message is for people: the caller passes sender-chosen values in
    ``args`` through :func:`~flask_okta_scim.core.text.loggable`.
    """
    if event not in EVENTS:
        raise ValueError(f"Unknown log event {event!r}.")
    logger = logging.getLogger(f"{LOGGER_NAME}.{event.partition('.')[0]}")
    if not logger.isEnabledFor(level):
        return
    fields: dict[str, Value] = {
        "event": event,
        "organization": None if organization is None else str(organization),
        "connection": connection,
        "reference": reference,
        "reason": reason,
        **details,
    }
    extra = {
        PREFIX + name: loggable(value) if isinstance(value, str) else value
        for name, value in fields.items()
    }
    logger.log(level, message, *args, exc_info=exc_info, extra=extra, stacklevel=2)
