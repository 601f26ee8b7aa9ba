"""What the sign-in URLs take before they read anything, and what they write when they refuse.

- Request bodies are bounded (:data:`~flask_okta_scim.config.ConfigKeys.SSO_MAX_BODY_BYTES`)
  and the form may hold :data:`MAX_FORM_FIELDS` fields at most, checked before
  anything parses it, whatever the host's ``MAX_CONTENT_LENGTH``: beyond, a 413 page.
- Refusals are counted in the ``limits`` storage that the SCIM rate limit uses
  (``OKTA_SCIM_RATE_LIMIT_STORAGE``): per connection, past its budget a refusal
  is answered 429 and neither audited nor logged (one summary line per window);
  per client address, past its budget the address's posts get 429 before they
  are read. Starting sign-ins has a per-address budget too.
- Every sender-chosen value reaches the log and the audit record through
  :func:`~flask_okta_scim.core.text.loggable`: one line, bounded.

The client address is ``request.remote_addr``: behind a reverse proxy, the host
must apply Werkzeug's ``ProxyFix`` (with the right number of proxies), or every
person shares the proxy's address.
"""

from __future__ import annotations

import logging
import math
import time
import typing as t
import uuid

from flask import Response
from flask import current_app
from flask import render_template
from flask import request
from limits import RateLimitItem
from limits import parse_many
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import RequestEntityTooLarge

from .._current import extension
from ..config import BaseUrlNotSet
from ..core.text import loggable
from ..logs import log
from .rate_storage import rate_storage

#: The most fields a sign-in form may have (SAMLResponse, RelayState, a confirmation's token).
MAX_FORM_FIELDS = 16
#: The ``limits`` namespace of the sign-in budgets.
_NAMESPACE = "okta-sso"


class Budget:
    """A fixed-window budget per key (``"20/minute;200/hour"``: every rate applies)."""

    def __init__(self, name: str, rate: str, storage: Storage) -> None:
        self.name = name
        self.items = parse_many(rate)
        self.limiter = FixedWindowRateLimiter(storage)
        #: One token per window of the shortest rate: the summary line of an overrun.
        shortest = min(self.items, key=lambda item: item.get_expiry())
        self._summary: RateLimitItem = type(shortest)(1, shortest.multiples)

    def exhausted(self, key: str) -> bool:
        """Whether ``key`` has nothing left, without spending anything."""
        return any(not self.limiter.test(item, _NAMESPACE, self.name, key) for item in self.items)

    def spend(self, key: str) -> bool:
        """Count one for ``key``; ``False`` when that went over a rate."""
        results = [self.limiter.hit(item, _NAMESPACE, self.name, key) for item in self.items]
        return all(results)

    def first_overrun(self, key: str) -> bool:
        """Whether this is the first overrun of ``key`` in the current window (log it once)."""
        return self.limiter.hit(self._summary, _NAMESPACE, self.name, "summary", key)

    def retry_after(self, key: str) -> int:
        """Whole seconds until ``key`` has budget again (at least 1)."""
        reset = max(
            self.limiter.get_window_stats(item, _NAMESPACE, self.name, key).reset_time
            for item in self.items
        )
        return max(1, math.ceil(reset - time.time()))


class SignInBudgets(t.NamedTuple):
    """The budgets of one application, on one ``limits`` storage."""

    failures_per_connection: Budget
    failures_per_address: Budget
    starts_per_address: Budget

    @classmethod
    def from_settings(cls, settings: t.Any) -> SignInBudgets:
        storage = rate_storage(settings.rate_limit_storage)
        return cls(
            Budget("fail-connection", settings.sso_failure_limit, storage),
            Budget("fail-address", settings.sso_address_failure_limit, storage),
            Budget("start-address", settings.sso_start_limit, storage),
        )


def log_overrun(budget: Budget, key: str) -> None:
    """One warning per window for a budget overrun, however many requests follow it."""
    if budget.first_overrun(key):
        per_address = budget.name.endswith("-address")
        log(
            "sso.refusal_budget_exhausted",
            logging.WARNING,
            "SSO sign-in refusals over budget (%s %s): further ones in this window are "
            "answered 429, neither audited nor logged",
            budget.name,
            loggable(key, 100),
            connection=None if per_address else key,
            budget=budget.name,
            address=key if per_address else None,
        )


class Where(t.NamedTuple):
    """Which organization and connection a sign-in page is about, for the log."""

    organization: object = None
    connection: str | None = None

    @classmethod
    def of(cls, connection: t.Any) -> Where:
        """Read the ids now: once the session is rolled back, reading them is a query."""
        return cls(connection.organization_id, connection.integration_id)


def client_address() -> str:
    """The client's address as the WSGI server (or the host's ``ProxyFix``) reports it."""
    return request.remote_addr or "unknown"


def error_page(
    status: int,
    title: str,
    message: str,
    reason: str | None = None,
    *,
    action: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    log_reason: bool = True,
    where: Where | None = None,
) -> Response:
    """A sign-in error page; ``reason`` (never shown, but in debug mode) goes to the log.

    The reason is logged through :func:`loggable` (one bounded line) as the
    event ``sso.refused``, with the page's reference and ``where`` it happened.
    Does not write the audit log.
    """
    reference = uuid.uuid4().hex[:12]
    where = where or Where()
    if reason and log_reason:
        log(
            "sso.refused",
            logging.WARNING,
            "SSO sign-in refused [%s]: %s",
            reference,
            loggable(reason),
            organization=where.organization,
            connection=where.connection,
            reference=reference,
            reason=reason,
            status=status,
        )
    body = render_template(
        "okta_scim/sso_error.html",
        title=title,
        message=message,
        reference=reference,
        debug_reason=loggable(reason, 2000) if reason and current_app.debug else None,
        action_url=action[0] if action else None,
        action_label=action[1] if action else None,
    )
    response = Response(body, status=status, mimetype="text/html")
    response.headers.update(headers or {})
    return response


def too_large() -> Response:
    """The 413 page: the body was not read (or not past the limit)."""
    return error_page(
        413,
        "Sign-in message too large",
        "The sign-in message your browser sent is larger than any sign-in needs, so it "
        "was not read. Start again from Okta.",
    )


def too_many(retry_after: int) -> Response:
    """The 429 page, with ``Retry-After``."""
    return error_page(
        429,
        "Too many sign-in attempts",
        f"There were too many failed sign-in attempts. Wait {retry_after} seconds, then "
        "start again from Okta.",
        headers={"Retry-After": str(retry_after)},
    )


def not_configured() -> Response:
    """The 503 page while ``OKTA_SCIM_BASE_URL`` is unset: logged as an error, nothing read."""
    problem = str(BaseUrlNotSet("single sign-on"))
    log(
        "config.base_url_missing",
        logging.ERROR,
        "SSO sign-in refused: %s",
        problem,
        needed_by="single sign-on",
    )
    return error_page(
        503,
        "Single sign-on is not available",
        "Single sign-on is not set up on this server yet. Try again later, or ask the "
        "site's operator.",
        problem,
        log_reason=False,
    )


def guard_request() -> Response | None:
    """Before any other before-request function, on the sign-in URLs: bound the body.

    Sets this request's ``max_content_length``, ``max_form_memory_size`` and
    ``max_form_parts``, answers 413 for a declared ``Content-Length`` over the
    limit, and reads a ``POST``'s form here, within those limits, so that
    nothing later parses an unbounded one: a chunked body that grows past the
    limit stops there. Counts URL-encoded fields before parsing them. Refuses a
    client address that spent its failure budget (429) before reading its post.
    Answers 503 (:func:`not_configured`) while ``OKTA_SCIM_BASE_URL`` is unset.
    Does nothing for other blueprints' URLs.
    """
    from .sso import bp

    if request.blueprint != bp.name:
        return None
    settings = extension().settings
    if not settings.has_base_url:
        return not_configured()
    limit = settings.sso_max_body_bytes
    request.max_content_length = limit
    request.max_form_memory_size = limit
    request.max_form_parts = MAX_FORM_FIELDS
    if request.content_length is not None and request.content_length > limit:
        return too_large()
    if request.method != "POST":
        return None
    budget = extension().sign_in_budgets.failures_per_address
    address = client_address()
    if request.endpoint == f"{bp.name}.acs" and budget.exhausted(address):
        log_overrun(budget, address)
        return too_many(budget.retry_after(address))
    try:
        # Never more than ``limit`` bytes. A streamed (chunked) body is cut at the limit
        # without an error: reaching it means there was more.
        raw = request.get_data(cache=True)
        if request.content_length is None and len(raw) >= limit:
            return too_large()
        urlencoded = request.mimetype == "application/x-www-form-urlencoded"
        if urlencoded and raw.count(b"&") >= MAX_FORM_FIELDS:
            return too_large()
        request.form  # noqa: B018  (parsed from the bytes read; multipart parts bounded)
    except RequestEntityTooLarge:
        return too_large()
    return None
