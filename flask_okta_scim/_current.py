"""The one way the Flask layer (views, commands, session helpers) reaches the extension."""

from __future__ import annotations

import typing as t

from flask import current_app

if t.TYPE_CHECKING:
    from ._extension import OktaSCIM


def extension() -> OktaSCIM:
    """The :class:`~flask_okta_scim.OktaSCIM` registered on the current application.

    Raises :class:`RuntimeError` outside an application context or when
    ``init_app`` was not called; does not create anything.
    """
    found = current_app.extensions.get("okta_scim")
    if found is None:
        raise RuntimeError(
            "The current Flask app has no 'OktaSCIM' extension. Did you forget to call 'init_app'?"
        )
    return t.cast("OktaSCIM", found)
