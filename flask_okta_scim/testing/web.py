"""The simulated Okta on the web: its metadata link, a sign-in page, a dashboard tile.

:func:`init_simulator` mounts it on an application (the sample app's ``make demo``
does), under ``/simulated-okta`` by default:

- ``GET <prefix>/metadata``: the IdP metadata to paste as the **Metadata URL**;
- ``GET <prefix>/sso?SAMLRequest=...&RelayState=...``: where the application's
  SP-initiated sign-in sends the browser (HTTP-Redirect binding). A page lists the
  demo people and takes any email; choosing one answers the AuthnRequest with a
  signed response, auto-posted to the application's ACS;
- ``GET <prefix>/tile/<integration_id>``: the Okta dashboard tile, an
  IdP-initiated (unsolicited) sign-in into that connection.

Nothing else is special: the responses go through the application's real ACS
and its checks, and only organizations whose connection trusts this IdP's
certificate accept them. It signs whoever is chosen in, so it refuses to be
mounted outside debug mode unless ``force=True``, and it logs a warning at
every start. Responses are only addressed to this application's own ACS URLs:
it is no signing service for other sites.
"""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Callable
from collections.abc import Iterable
from html import escape

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import abort
from flask import current_app
from flask import request
from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from ..core.emails import normalize_email
from ..core.errors import InvalidValue
from ..logs import log
from .idp import NS_SAML
from .idp import NS_SAMLP
from .idp import SimulatedIdP
from .idp import qname

#: Where :func:`init_simulator` mounts the simulated Okta by default.
URL_PREFIX = "/simulated-okta"
#: The people the sign-in page offers; a callable gets the application each time.
People = Iterable[str] | Callable[[], Iterable[str]]


def init_simulator(
    app: Flask,
    idp: SimulatedIdP,
    *,
    people: People = (),
    url_prefix: str = URL_PREFIX,
    force: bool = False,
) -> None:
    """Mount the simulated Okta ``idp`` on ``app`` (after ``OktaSCIM.init_app``).

    ``idp.sso_url`` should be ``<OKTA_SCIM_BASE_URL><url_prefix>/sso``, so that
    its metadata sends sign-ins here. Raises :class:`RuntimeError` unless
    ``app.debug`` or ``force``: anybody may sign in as anybody through it.
    """
    if not (app.debug or force):
        raise RuntimeError(
            "The simulated Okta signs anybody in: it is mounted only in debug mode (or with "
            "force=True, for a demo or a test). Never in production."
        )
    log(
        "testing.simulator_mounted",
        logging.WARNING,
        "The SIMULATED Okta is mounted at %s: anybody can sign in as anybody to the "
        "organizations that trust its certificate. For demos and tests only.",
        url_prefix,
    )
    bp = Blueprint("okta_scim_simulator", __name__)
    bp.add_url_rule("/metadata", "metadata", lambda: _metadata(idp))
    bp.add_url_rule("/sso", "sign_in", lambda: _sign_in(idp, people), methods=["GET", "POST"])
    bp.add_url_rule(
        "/tile/<integration_id>",
        "tile",
        lambda integration_id: _tile(idp, people, integration_id),
        methods=["GET", "POST"],
    )
    app.register_blueprint(bp, url_prefix=url_prefix)
    csrf = app.extensions.get("csrf")
    if csrf is not None:  # the page's form posts here, as Okta's own pages would
        csrf.exempt(bp)


def _metadata(idp: SimulatedIdP) -> Response:
    return Response(idp.metadata(), mimetype="application/samlmetadata+xml")


def _sign_in(idp: SimulatedIdP, people: People) -> t.Any:
    """SP-initiated: show the people (GET), answer the AuthnRequest for one of them (POST)."""
    saml_request = request.values.get("SAMLRequest", "")
    relay_state = request.values.get("RelayState")
    try:
        xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(saml_request)
        authn = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False))
    except Exception:
        abort(400, "No SAML AuthnRequest in this request.")
    if authn.tag != qname(NS_SAMLP, "AuthnRequest"):
        abort(400, "No SAML AuthnRequest in this request.")
    acs = _own_acs(authn.get("AssertionConsumerServiceURL", ""))
    audience = authn.findtext(qname(NS_SAML, "Issuer")) or ""
    hidden = {"SAMLRequest": saml_request, "RelayState": relay_state or ""}
    if request.method == "GET":
        return _people_page(people, hidden, "the application asked Okta to sign you in")
    email = _chosen()
    response = idp.response(
        acs=acs, audience=audience, name_id=email, in_response_to=authn.get("ID")
    )
    return _post_to(acs, response, relay_state)


def _tile(idp: SimulatedIdP, people: People, integration_id: str) -> t.Any:
    """IdP-initiated: the dashboard tile of one connection."""
    settings = current_app.extensions["okta_scim"].settings
    base = settings.url(f"{settings.sso_url_prefix}/{integration_id}")
    if request.method == "GET":
        return _people_page(people, {}, "the Okta dashboard tile of the application")
    response = idp.response(acs=f"{base}/acs", audience=f"{base}/metadata", name_id=_chosen())
    return _post_to(f"{base}/acs", response, None)


def _own_acs(acs: str) -> str:
    """The AuthnRequest's ACS URL, if it is one of this application's; else 400."""
    settings = current_app.extensions["okta_scim"].settings
    own = settings.url(settings.sso_url_prefix) + "/"
    if not acs.startswith(own) or not acs.endswith("/acs"):
        abort(400, "The simulated Okta answers this application's sign-ins only.")
    return acs


def _chosen() -> str:
    try:
        return normalize_email(request.form.get("email", ""))
    except InvalidValue:
        abort(400, "Choose a person, or type an email address.")


def _people_page(people: People, hidden: dict[str, str], why: str) -> Response:
    listed = list(people() if callable(people) else people)
    fields = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in hidden.items()
    )
    buttons = "".join(
        f'<li><button type="submit" name="email" value="{escape(email)}">'
        f"Sign in as {escape(email)}</button></li>"
        for email in listed
    )
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Simulated Okta</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}
li{{margin:.4rem 0}} .warning{{background:#fff4e5;border:1px solid #f5c27a;padding:.5rem}}</style>
</head><body><main>
<h1>Simulated Okta</h1>
<p class="warning">A simulated identity provider for demos and tests: it signs in whoever you
choose. Here, {escape(why)}.</p>
<form method="post">{fields}
<ul>{buttons}</ul>
<p><label for="email">Or any email address</label>
<input id="email" name="email" type="email"> <button type="submit">Sign in</button></p>
</form></main></body></html>"""
    return Response(body, mimetype="text/html")


def _post_to(acs: str, saml_response: str, relay_state: str | None) -> Response:
    """The auto-submitted form that carries the response to the ACS, as Okta's page does."""
    encoded = OneLogin_Saml2_Utils.b64encode(saml_response)
    relay = (
        f'<input type="hidden" name="RelayState" value="{escape(relay_state)}">'
        if relay_state
        else ""
    )
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signing in</title></head>
<body onload="document.forms[0].submit()"><main>
<form method="post" action="{escape(acs)}">
<input type="hidden" name="SAMLResponse" value="{escape(encoded)}">{relay}
<noscript><button type="submit">Continue</button></noscript>
</form></main></body></html>"""
    return Response(body, mimetype="text/html")
