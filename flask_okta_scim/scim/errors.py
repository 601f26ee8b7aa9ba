"""SCIM errors as data: an exception class per RFC 7644 §3.12 error, rendered by :meth:`to_dict`.

Subclasses only set class attributes. The protocol code raises the ones that
only SCIM knows (a bad filter, a bad PATCH path, a stale ``If-Match``...). What
the directory also means (something not found, a duplicate, a bad value) is
raised everywhere as :mod:`flask_okta_scim.core.errors`, and the web layer
answers it with its counterpart here (:class:`NotFound`, :class:`Uniqueness`,
:class:`InvalidValue`, :class:`Forbidden`) through one table. The web layer
is the one place that turns them into HTTP responses; nothing here knows about
HTTP frameworks.
"""

from __future__ import annotations

import typing as t

from ..core import errors as directory
from .constants import ERROR


class ScimError(Exception):
    """Base class: a SCIM error with an HTTP ``status`` and an optional ``scim_type``."""

    status: int = 400
    scim_type: str | None = None
    default_detail = "The request could not be processed."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        self.detail = detail or self.default_detail
        self.headers = headers or {}
        super().__init__(self.detail)

    def to_dict(self) -> dict[str, t.Any]:
        """The RFC 7644 §3.12 error body; ``status`` is a string, as the RFC says."""
        body: dict[str, t.Any] = {
            "schemas": [ERROR],
            "status": str(self.status),
            "detail": self.detail,
        }
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


class InvalidFilter(ScimError):
    scim_type = "invalidFilter"
    default_detail = "The filter is malformed or uses an unsupported attribute or operator."


class TooMany(ScimError):
    scim_type = "tooMany"
    default_detail = "The request would return or change too many resources."


class InvalidSyntax(ScimError):
    scim_type = "invalidSyntax"
    default_detail = "The request body is not a valid SCIM message."


class InvalidPath(ScimError):
    scim_type = "invalidPath"
    default_detail = "The PATCH path is invalid."


class NoTarget(ScimError):
    scim_type = "noTarget"
    default_detail = "The PATCH path matched nothing."


class InvalidValue(ScimError):
    scim_type = "invalidValue"
    default_detail = "A value is missing or of the wrong type."


class Unauthorized(ScimError):
    status = 401
    default_detail = "Authentication failed: a valid bearer token is required."


class Forbidden(ScimError):
    status = 403
    default_detail = "This token may not do that."


class NotFound(ScimError):
    status = 404
    default_detail = "Resource not found."


class MethodNotAllowed(ScimError):
    status = 405
    default_detail = "This method is not allowed on this endpoint."


class Uniqueness(ScimError):
    status = 409
    scim_type = "uniqueness"
    default_detail = "A resource with this unique attribute already exists."


class ConcurrentChange(ScimError):
    """A concurrent request kept this one from running, even when run again; send it again."""

    status = 409
    default_detail = "The change conflicted with concurrent ones and was not made; retry."


class PreconditionFailed(ScimError):
    status = 412
    default_detail = "The resource has changed: its version does not match If-Match."


class PayloadTooLarge(ScimError):
    status = 413
    default_detail = "The request body is too large."


class UnsupportedMediaType(ScimError):
    status = 415
    default_detail = "Send the body as application/scim+json or application/json."


class TooManyRequests(ScimError):
    status = 429
    default_detail = "Too many requests for this organization; retry after the given delay."


class ServerError(ScimError):
    status = 500
    default_detail = "The server could not complete the request; it was not changed. Retry later."


class ServiceUnavailable(ScimError):
    status = 503
    default_detail = (
        "The SCIM API is not available: this server's configuration is incomplete. "
        "Ask its operator; nothing was changed."
    )


class NotImplementedByServer(ScimError):
    status = 501
    default_detail = "This SCIM feature is not implemented by this server."


#: How a refusal that the directory also knows is answered; the first matching class wins.
#: Anything else the directory refuses is a 400 ``invalidValue``.
DIRECTORY_ANSWERS: dict[type[directory.DirectoryError], type[ScimError]] = {
    directory.ConcurrentUpdate: ConcurrentChange,
    directory.Conflict: Uniqueness,
    directory.NotFound: NotFound,
    directory.NotReady: Forbidden,
    directory.InvalidValue: InvalidValue,
    directory.NotAMember: InvalidValue,
}


def answer(error: Exception) -> ScimError:
    """The SCIM error that answers ``error``: itself, or the counterpart of a directory error.

    Raises :class:`TypeError` for anything else (an unexpected exception is the
    web layer's 500, not a refusal).
    """
    if isinstance(error, ScimError):
        return error
    if isinstance(error, directory.DirectoryError):
        cls = next((v for k, v in DIRECTORY_ANSWERS.items() if isinstance(error, k)), InvalidValue)
        return cls(error.message)
    raise TypeError(f"{type(error).__name__} is not a refusal with a SCIM answer")
