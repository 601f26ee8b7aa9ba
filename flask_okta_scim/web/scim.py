"""The SCIM 2.0 HTTP API under ``OKTA_SCIM_URL_PREFIX`` (default ``/scim/v2``).

Every answer under the prefix, errors included (unknown paths, wrong methods,
oversized bodies, throttling, crashes), is ``application/scim+json``; an
unexpected exception is logged and answered with a generic SCIM 500, never a
traceback. Each request is one unit of work: it commits whole or not at all.
"""

from __future__ import annotations

import logging
import random
import time
import typing as t

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import g
from flask import request
from flask.typing import ResponseReturnValue
from flask.views import MethodView
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from .._current import extension
from ..config import BaseUrlNotSet
from ..core import errors as directory_errors
from ..core.text import loggable
from ..logs import log
from ..scim import discovery
from ..scim import errors
from ..scim.constants import CONTENT_TYPE
from ..scim.constants import GROUP
from ..scim.constants import USER
from ..scim.resources import group_member
from ..scim.resources import project
from ..scim.search import ListQuery
from ..scim.search import parse_search_request
from ..scim.service import ScimService
from ..scim.service import preconditions
from ..sqla.scim_store import SQLAlchemyScimStore
from .scim_guard import bearer_token
from .scim_hold import as_planned
from .scim_hold import guarded
from .scim_hold import planned
from .scim_request import json_body
from .scim_request import names
from .scim_request import query_args
from .scim_stream import streamed_group

bp = Blueprint("okta_scim", __name__)

#: How many times one request runs when a deadlock or serialization failure undoes it
#: (rolled back whole, signals included); after the last, the answer is a SCIM 409.
RUNS = 4

ALL = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
#: Endpoints that read by POST (RFC 7644 §3.4.3): no change, so no audit of a failed one.
SEARCHES = {"okta_scim.search", "okta_scim.search_users", "okta_scim.search_groups"}


def _base() -> str:
    settings = extension().settings
    return settings.url(settings.scim_url_prefix)


def scim_response(
    body: t.Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A response with the SCIM media type (RFC 7644 §8.1)."""
    payload = "" if body is None else current_app.json.dumps(body)
    response = Response(payload, status=status, mimetype=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _error_response(error: errors.ScimError) -> Response:
    headers = dict(error.headers)
    if error.status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="SCIM"')
    return scim_response(error.to_dict(), error.status, headers)


# -- request context ----------------------------------------------------------------------------


@bp.before_request
def _limit_body() -> Response | None:
    """Bound the body; answer 503 (logged, nothing read) while ``OKTA_SCIM_BASE_URL`` is unset."""
    settings = extension().settings
    if not settings.has_base_url:
        log(
            "config.base_url_missing",
            logging.ERROR,
            "SCIM request refused: %s",
            BaseUrlNotSet("the SCIM API"),
            needed_by="the SCIM API",
        )
        return _error_response(errors.ServiceUnavailable())
    request.max_content_length = settings.max_body_bytes
    return None


def _shape(resource: dict[str, t.Any]) -> dict[str, t.Any]:
    return project(resource, names("attributes"), names("excludedAttributes"))


def _list(service: ScimService, query: ListQuery, resource_type: str | None) -> Response:
    """A ListResponse of ``resource_type`` (both types for ``None``), shaped as ``query`` asks."""
    groups, members = (
        _asks_for_groups(query.attributes),
        _members_wanted(query.attributes, query.excluded_attributes),
    )
    where = (query.filter, query.start_index, query.count)
    if resource_type == USER:
        page = service.list_users(*where, with_groups=groups)
    elif resource_type == GROUP:
        page = service.list_groups(*where, members=members)
    else:
        page = service.list_all(*where, with_groups=groups, members=members)
    page["Resources"] = [
        project(r, query.attributes, query.excluded_attributes) for r in page["Resources"]
    ]
    return scim_response(page)


def _asks_for_groups(attributes: list[str] | None) -> bool:
    """A user's ``groups`` is returned only when asked for (``attributes=groups``)."""
    return any(_top_level(n, USER) == "groups" for n in attributes or [])


def _top_level(name: str, core_schema: str) -> str:
    """The attribute an ``attributes`` entry names, lower-cased: ``members`` for
    ``urn:…:Group:members.value`` (the URN's own dots are not paths)."""
    name = name.lower()
    prefix = f"{core_schema.lower()}:"
    if name.startswith(prefix):
        name = name[len(prefix) :]
    return name.split(".")[0]


def _members_wanted(attributes: list[str] | None, excluded: list[str] | None) -> bool:
    """Whether the answer shows a group's members: not loaded when they would be dropped.

    ``attributes=displayName`` of a group of 50,000 then reads no member.
    """
    if attributes:
        return any(_top_level(n, GROUP) == "members" for n in attributes)
    return "members" not in [n.lower() for n in excluded or []]


def _with_version(resource: dict[str, t.Any], status: int = 200, **headers: str) -> Response:
    """The resource, shaped as asked, with its ETag; 304 for a read whose If-None-Match holds."""
    version = resource.get("meta", {}).get("version")
    if (
        version
        and request.method in ("GET", "HEAD")
        and preconditions(version, if_none_match=request.headers.get("If-None-Match"))
    ):
        return scim_response(None, 304, {"ETag": version})
    if version:
        headers["ETag"] = version
    return scim_response(_shape(resource), status, headers)


def _created(resource: dict[str, t.Any]) -> Response:
    return _with_version(resource, 201, Location=resource["meta"]["location"])


# -- Users and Groups -----------------------------------------------------------------------------


class ScimView(MethodView):
    """One SCIM endpoint: authenticate once, then run the verb as one unit of work.

    A unit of work undone by a deadlock or serialization failure (another
    request held what it needed) runs again, up to :data:`RUNS` times in all;
    receivers of the directory's signals then see the change again, and must
    keep work outside the database for after the commit.

    Subclasses define ``get``, ``post``, ``put``, ``patch`` or ``delete``, each
    taking the organization's :class:`ScimService` first. ``HEAD`` is answered
    as ``GET`` (Werkzeug drops the body); any other verb is a SCIM 405 before
    the token is even looked at.
    """

    methods = ALL
    #: What the 405 answer says.
    allowed = ""
    #: ``"Users"`` or ``"Groups"`` for the views of one resource, whose writes the
    #: mass-deprovisioning guard watches (:mod:`.scim_hold`).
    resource: str | None = None
    #: ``"Users"`` or ``"Groups"`` for the collections, whose POSTs a dry run plans.
    collection: str | None = None

    def dispatch_request(self, **kwargs: t.Any) -> ResponseReturnValue:
        verb = "get" if request.method == "HEAD" else request.method.lower()
        handler = getattr(self, verb, None) if verb != "options" else None
        if handler is None:
            raise errors.MethodNotAllowed(self.allowed or None)
        authenticated: tuple[ScimService, t.Any] | None = None
        for attempt in range(1, RUNS + 1):
            try:
                if authenticated is None:  # its commit may meet a busy database too
                    authenticated = _authenticate()
                service, directory = authenticated
                with directory.atomic():
                    kind = self.resource or self.collection
                    if kind and verb.upper() in WRITES and directory.dry_run_seen:
                        answer = planned(kind, verb, handler, service, directory, **kwargs)
                        if answer is not None:  # None: the dry run ended meanwhile
                            return t.cast(ResponseReturnValue, answer)
                    elif self.resource and verb == "get" and directory.dry_run_seen:
                        return t.cast(
                            ResponseReturnValue,
                            as_planned(handler, service, directory, **kwargs),
                        )
                    if self.resource and verb in ("put", "patch", "delete"):
                        return t.cast(
                            ResponseReturnValue,
                            guarded(self.resource, verb, handler, service, directory, **kwargs),
                        )
                    return t.cast(ResponseReturnValue, handler(service, **kwargs))
            except directory_errors.ConcurrentUpdate:
                if attempt == RUNS:
                    raise
                log(
                    "scim.rerun",
                    logging.INFO,
                    "SCIM %s %s ran into a concurrent one; running it again",
                    request.method,
                    loggable(request.path),
                    **_request_fields(),
                    attempt=attempt + 1,
                )
                time.sleep(random.uniform(0, 0.02 * attempt))
        raise AssertionError("unreachable")


def _authenticate() -> tuple[ScimService, t.Any]:
    """The organization of the bearer token, its rate limit counted, as a :class:`ScimService`.

    The token's first use (which retires older tokens) and its last use are
    committed at once, so they are kept even if the request itself fails.
    """
    ext = extension()
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise errors.Unauthorized("Send the organization's provisioning token as a Bearer token.")
    directory = ext.directory(actor="scim")
    found = directory.use_token(token)
    if found is None:
        raise errors.Unauthorized("The bearer token is not valid (or provisioning is off).")
    organization, token_row = found
    directory.actor = f"scim:token:{token_row.id}"
    g._okta_scim_scim = (organization.id, token_row.id)
    ext.scim_rate_limiter.hit(organization.id)
    store = SQLAlchemyScimStore(directory, organization, base_url=_base())
    return ScimService(store, max_results=ext.settings.max_page_size), directory


class UsersView(ScimView):
    allowed = "Use GET or POST on /Users."
    collection = "Users"

    def get(self, service: ScimService) -> Response:
        return _list(service, query_args(), USER)

    def post(self, service: ScimService) -> Response:
        return _created(service.create_user(json_body()))


class UserView(ScimView):
    resource = "Users"

    def get(self, service: ScimService, scim_id: str) -> Response:
        return _with_version(
            service.get_user(scim_id, with_groups=_asks_for_groups(names("attributes")))
        )

    def put(self, service: ScimService, scim_id: str) -> Response:
        return _with_version(service.replace_user(scim_id, json_body(), _if_match()))

    def patch(self, service: ScimService, scim_id: str) -> Response:
        return _with_version(service.patch_user(scim_id, json_body(), _if_match()))

    def delete(self, service: ScimService, scim_id: str) -> Response:
        service.delete_user(scim_id, _if_match())
        return scim_response(None, 204)


class GroupsView(ScimView):
    allowed = "Use GET or POST on /Groups."
    collection = "Groups"

    def get(self, service: ScimService) -> Response:
        return _list(service, query_args(), GROUP)

    def post(self, service: ScimService) -> Response:
        return _created(service.create_group(json_body()))


class GroupView(ScimView):
    resource = "Groups"

    def get(self, service: ScimService, scim_id: str) -> Response:
        attributes, excluded = names("attributes"), names("excludedAttributes")
        if not _members_wanted(attributes, excluded):
            return _with_version(service.get_group(scim_id, members=False))
        resource, ids = service.get_group_streamed(scim_id)  # members read as they are sent
        answer = streamed_group(resource, ids, attributes, excluded, _base())
        if answer is None:
            resource["members"] = [group_member(i, _base()) for batch in ids for i in batch]
            answer = _with_version(resource)
        return answer

    def put(self, service: ScimService, scim_id: str) -> Response:
        return _with_version(service.replace_group(scim_id, json_body(), _if_match()))

    def patch(self, service: ScimService, scim_id: str) -> Response:
        service.patch_group(scim_id, json_body(), _if_match())
        if names("attributes") or names("excludedAttributes"):
            return _with_version(
                service.get_group(
                    scim_id,
                    members=_members_wanted(names("attributes"), names("excludedAttributes")),
                )
            )
        # 204: a one-member change costs the same in a group of 50,000.
        return scim_response(None, 204, {"ETag": service.group_version(scim_id)})

    def delete(self, service: ScimService, scim_id: str) -> Response:
        service.delete_group(scim_id, _if_match())
        return scim_response(None, 204)


class SearchView(ScimView):
    """``POST .search`` (RFC 7644 §3.4.3): a list whose parameters come in a SearchRequest body.

    Answers what ``GET`` with the same parameters answers; from the root, Users
    and Groups in one list (see :meth:`ScimService.list_all`). A read: no
    ``If-Match``, nothing audited, not even a refusal. Any other method is 405.
    """

    #: The resource type searched; ``None`` for both (the root).
    resource_type: str | None = None
    allowed = "Search with POST and a SearchRequest body."

    def post(self, service: ScimService) -> Response:
        return _list(service, parse_search_request(json_body()), self.resource_type)


class UserSearchView(SearchView):
    resource_type = USER


class GroupSearchView(SearchView):
    resource_type = GROUP


def _if_match() -> str | None:
    return request.headers.get("If-Match")


bp.add_url_rule("/.search", view_func=SearchView.as_view("search"), merge_slashes=False)
bp.add_url_rule(
    "/Users/.search", view_func=UserSearchView.as_view("search_users"), merge_slashes=False
)
bp.add_url_rule(
    "/Groups/.search", view_func=GroupSearchView.as_view("search_groups"), merge_slashes=False
)
bp.add_url_rule("/Users", view_func=UsersView.as_view("users"), merge_slashes=False)
bp.add_url_rule("/Users/<scim_id>", view_func=UserView.as_view("user"), merge_slashes=False)
bp.add_url_rule("/Groups", view_func=GroupsView.as_view("groups"), merge_slashes=False)
bp.add_url_rule("/Groups/<scim_id>", view_func=GroupView.as_view("group"), merge_slashes=False)


# -- discovery (RFC 7644 §4): readable without a token ------------------------------------------


@bp.route("/ServiceProviderConfig", methods=ALL, merge_slashes=False)
def service_provider_config() -> Response:
    _only_get()
    return scim_response(
        discovery.service_provider_config(
            _base(),
            max_results=extension().settings.max_page_size,
            docs_url=extension().settings.documentation_url,
        )
    )


@bp.route("/ResourceTypes", methods=ALL, merge_slashes=False)
@bp.route("/ResourceTypes/<name>", methods=ALL, merge_slashes=False)
def resource_types(name: str | None = None) -> Response:
    _only_get()
    return _one_or_all(discovery.resource_types(_base()), name, "resource type")


@bp.route("/Schemas", methods=ALL, merge_slashes=False)
@bp.route("/Schemas/<name>", methods=ALL, merge_slashes=False)
def schemas(name: str | None = None) -> Response:
    _only_get()
    return _one_or_all(discovery.schemas(_base()), name, "schema")


def _only_get() -> None:
    if request.method not in ("GET", "HEAD"):
        raise errors.MethodNotAllowed("Discovery endpoints are read-only (RFC 7644 §4).")


def _one_or_all(items: list[dict[str, t.Any]], name: str | None, what: str) -> Response:
    if name is None:
        return scim_response(discovery.list_response(items))
    for item in items:
        if item["id"] == name:
            return scim_response(item)
    raise directory_errors.NotFound(f"No {what} {name!r}.")


# -- what this server does not do, and everything else under the prefix -----------------------


@bp.route("/Bulk", methods=ALL, merge_slashes=False)
@bp.route("/Me", methods=ALL, merge_slashes=False)
def not_implemented() -> Response:
    raise errors.NotImplementedByServer(
        "Bulk and /Me are not supported (see ServiceProviderConfig)."
    )


class _Anything(BaseConverter):
    """Any rest of a path: slashes first, doubled, or new lines included (``path`` refuses them)."""

    regex = r"[\s\S]*"
    weight = 1000  # after every other rule
    part_isolating = False


@bp.record_once
def _register_converter(state: t.Any) -> None:
    state.app.url_map.converters.setdefault("okta_scim_anything", _Anything)


@bp.route("/", methods=ALL, merge_slashes=False, strict_slashes=False)
@bp.route("/<okta_scim_anything:anything>", methods=ALL, merge_slashes=False)
def unknown(anything: str = "") -> Response:
    raise directory_errors.NotFound(f"There is no SCIM endpoint at {request.path!r}.")


# -- errors -------------------------------------------------------------------------------------


@bp.errorhandler(errors.ScimError)
def _scim_error(error: errors.ScimError) -> Response:
    _audit_failure(error)
    return _error_response(error)


@bp.errorhandler(directory_errors.DirectoryError)
def _directory_error(error: directory_errors.DirectoryError) -> Response:
    return _scim_error(errors.answer(error))


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    classes: dict[int, type[errors.ScimError]] = {
        400: errors.InvalidSyntax,
        404: errors.NotFound,
        405: errors.MethodNotAllowed,
        413: errors.PayloadTooLarge,
        415: errors.UnsupportedMediaType,
    }
    scim_class = classes.get(error.code or 500)
    if scim_class is None:
        generic = errors.ScimError(error.description)
        generic.status = error.code or 500
        return _scim_error(generic)
    return _scim_error(scim_class())


@bp.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    log(
        "scim.request_failed",
        logging.ERROR,
        "SCIM request %s %s failed",
        request.method,
        loggable(request.path),
        **_request_fields(),
        status=500,
        exc_info=True,
    )
    detail = None
    if current_app.debug:
        detail = f"{type(error).__name__}: {error}"
    return _scim_error(errors.ServerError(detail))


def _request_fields() -> dict[str, t.Any]:
    """The log fields of this SCIM request: its organization (once authenticated), method, path."""
    who = g.get("_okta_scim_scim")
    return {
        "organization": who[0] if who else None,
        "method": request.method,
        "path": request.path,
    }


def _audit_failure(error: errors.ScimError) -> None:
    """Record a refused change (who, what, the answer) in its own transaction."""
    who = g.get("_okta_scim_scim")
    if request.method not in WRITES or request.endpoint in SEARCHES or who is None:
        return
    directory = extension().directory(actor=f"scim:token:{who[1]}")
    try:
        directory.session.rollback()
        directory.audit(
            who[0],
            f"scim.{request.method.lower()}",
            "request",
            None,
            outcome="failure",
            path=request.path,
            status=error.status,
            scim_type=error.scim_type,
            # a 500's detail may carry exception text (in debug mode): keep it out
            detail=error.detail if error.status < 500 else errors.ServerError.default_detail,
        )
        directory.session.commit()
    except Exception:  # the audit must never turn an answer into a crash
        log(
            "scim.audit_failed",
            logging.ERROR,
            "Could not record a failed SCIM request in the audit log",
            **_request_fields(),
            status=error.status,
            exc_info=True,
        )
        directory.session.rollback()
