"""A simulated Okta provisioning client: SCIM 2.0 requests shaped as Okta (or Entra) sends them.

:class:`SimulatedSCIMClient` drives an application's SCIM API over HTTP the way
Okta's provisioning engine does, one administrator's action at a time:

========================  ==========================================================
action                    what goes over the wire (mode ``okta``, an OIN app)
========================  ==========================================================
``assign``                ``GET /Users?filter=userName eq "…"``, then ``POST /Users``
                          with Okta's whole body (or reactivation of the one found)
``update``                ``GET /Users/{id}``, then ``PUT`` of it, changed
``set_password``          ``PATCH`` ``replace`` of ``{"password": …}`` (path-less)
``deactivate``            ``PATCH`` ``replace`` of ``{"active": false}`` (path-less)
``reactivate``            the same with ``true``
``push_group``            ``GET /Groups?filter=displayName eq "…"``, ``POST /Groups``,
                          the path-less ``replace`` of ``{id, displayName}`` Okta sends
                          after every push, then ``add`` of the members
``add_members``           ``PATCH`` ``add`` ``members``
``remove_members``        ``PATCH`` ``remove`` ``members[value eq "…"]``, one per person
``push_now``              ``PATCH`` ``replace`` ``members`` with the whole list
``rename_group``          the path-less ``replace`` of ``{id, displayName}``
``unlink_group``          ``DELETE /Groups/{id}`` when ``delete=True``; nothing otherwise
========================  ==========================================================

Mode ``okta-put`` is a custom (AIW) app without PATCH: every change is a ``PUT``
of the whole resource. Mode ``entra`` sends Microsoft Entra's forms (capitalised
ops, ``"False"`` as a string, removal by value list, no passwords).

Like Okta, the client remembers the SCIM ids it was given (by email and by group
name). An id it does not know is looked up with a filter first, which Okta, with
its own memory, would not send. A ``429`` is retried after its ``Retry-After``
(as Okta backs off), up to :attr:`SimulatedSCIMClient.max_retries` times. It
does not import users or run Okta's profile mappings; any other failed request
raises :class:`SCIMRequestFailed`.
"""

from __future__ import annotations

import json
import time
import typing as t
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field

from flask import Flask

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
#: The modes: an OIN app (PATCH), a custom app without PATCH (PUT only), Microsoft Entra.
MODES = ("okta", "okta-put", "entra")

#: The headers Okta's provisioning client sends with every request.
OKTA_HEADERS = {
    "Accept": "application/scim+json",
    "Accept-Charset": "utf-8",
    "User-Agent": "Okta SCIM Client 1.0.0",
    "Accept-Encoding": "gzip,deflate",
}
ENTRA_HEADERS = {
    "Accept": "application/scim+json",
    "User-Agent": "Microsoft.Identity.Provisioning.SCIM/1.0 (simulated)",
}


@dataclass
class Reply:
    """One answer: status, headers and body (the JSON, or ``None`` for an empty body)."""

    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> t.Any:
        return json.loads(self.text) if self.text.strip() else None


@dataclass
class Sent:
    """A request the client sent and the status it got (:attr:`SimulatedSCIMClient.log`)."""

    method: str
    path: str
    status: int
    body: t.Any = None


class SCIMRequestFailed(Exception):
    """The application answered a request with an unexpected status."""

    def __init__(self, sent: Sent, reply: Reply) -> None:
        detail = reply.text[:500]
        super().__init__(f"{sent.method} {sent.path} answered {reply.status}: {detail}")
        self.sent = sent
        self.reply = reply


class Transport(t.Protocol):
    """Sends one request; ``path`` is below the SCIM base (``/Users?...``)."""

    def __call__(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> Reply: ...


class FlaskTransport:
    """Requests through the application's WSGI stack (its test client): no server needed.

    Everything the application does for a request over the network happens,
    routing and authentication included; only the socket is missing.
    """

    def __init__(self, app: Flask, scim_base_url: str) -> None:
        parts = urllib.parse.urlsplit(scim_base_url)
        self.client = app.test_client()
        self.base_url = f"{parts.scheme}://{parts.netloc}"
        self.prefix = parts.path.rstrip("/")

    def __call__(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> Reply:
        answer = self.client.open(
            self.prefix + path, method=method, data=body, headers=headers, base_url=self.base_url
        )
        return Reply(answer.status_code, dict(answer.headers), answer.get_data(as_text=True))


class HTTPTransport:
    """Requests over the network to a running server at ``scim_base_url``."""

    def __init__(self, scim_base_url: str, timeout: float = 30.0) -> None:
        self.base = scim_base_url.rstrip("/")
        self.timeout = timeout

    def __call__(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> Reply:
        headers = {k: v for k, v in headers.items() if k != "Accept-Encoding"}
        req = urllib.request.Request(self.base + path, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as answer:
                return Reply(answer.status, dict(answer.headers), answer.read().decode())
        except urllib.error.HTTPError as e:
            return Reply(e.code, dict(e.headers), e.read().decode())


def _retry_after(reply: Reply) -> float:
    value = {k.lower(): v for k, v in reply.headers.items()}.get("retry-after", "1")
    try:
        return min(max(float(value), 0.05), SimulatedSCIMClient.max_wait)
    except ValueError:
        return 1.0


@dataclass
class Person:
    """What Okta knows of an assigned person: the profile it sends."""

    email: str
    given_name: str
    family_name: str
    extra: dict[str, t.Any] = field(default_factory=dict)


def _names_from(email: str) -> tuple[str, str]:
    local = email.split("@")[0]
    parts = [p for p in local.replace("_", ".").replace("-", ".").split(".") if p]
    if len(parts) >= 2:
        return parts[0].title(), " ".join(parts[1:]).title()
    return (parts[0].title() if parts else "Someone"), "Simulated"


class SimulatedSCIMClient:
    """Okta's (or Entra's) provisioning engine, one administrator's action per method.

    ``transport`` sends the requests (:class:`FlaskTransport` in tests,
    :class:`HTTPTransport` against a running server); ``token`` is the
    organization's SCIM bearer token. Each action returns the resource the
    application answered (for a user or group), or ``None``; :attr:`log` lists
    every request sent. Does not check what the application did with them:
    read the application's state for that.
    """

    #: How often a request answered ``429 Too Many Requests`` is sent again.
    max_retries = 10
    #: The longest wait honoured from a ``Retry-After`` header, in seconds.
    max_wait = 30.0

    def __init__(self, transport: Transport, token: str, *, mode: str = "okta") -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.transport = transport
        self.token = token
        self.mode = mode
        self.log: list[Sent] = []
        self.user_ids: dict[str, str] = {}
        self.group_ids: dict[str, str] = {}
        self.group_members: dict[str, list[str]] = {}

    @classmethod
    def for_app(cls, app: Flask, token: str, *, mode: str = "okta") -> SimulatedSCIMClient:
        """A client for ``app``'s SCIM API through its test client (``OKTA_SCIM_BASE_URL`` or
        ``http://localhost``)."""
        with app.app_context():
            settings = app.extensions["okta_scim"].settings
            base = (settings.base_url or "http://localhost").rstrip("/")
            return cls(FlaskTransport(app, base + settings.scim_url_prefix), token, mode=mode)

    # -- requests ------------------------------------------------------------------------------

    def request(
        self, method: str, path: str, body: t.Any = None, *, expect: Iterable[int] = ()
    ) -> Reply:
        """Send one request with the mode's headers; raise :class:`SCIMRequestFailed` unless
        the status is in ``expect`` (any 2xx when ``expect`` is empty)."""
        headers = dict(ENTRA_HEADERS if self.mode == "entra" else OKTA_HEADERS)
        headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            headers["Content-Type"] = "application/scim+json; charset=utf-8"
            data = json.dumps(body).encode()
        reply = self.transport(method, path, headers, data)
        for _ in range(self.max_retries):
            if reply.status != 429:
                break
            time.sleep(_retry_after(reply))
            reply = self.transport(method, path, headers, data)
        sent = Sent(method, path, reply.status, body)
        self.log.append(sent)
        expected = set(expect)
        if (expected and reply.status not in expected) or (
            not expected and not 200 <= reply.status < 300
        ):
            raise SCIMRequestFailed(sent, reply)
        return reply

    def _patch(self, path: str, *operations: dict[str, t.Any]) -> t.Any:
        return self.request("PATCH", path, {"schemas": [PATCH_OP], "Operations": list(operations)})

    def _op(self, name: str) -> str:
        return name.title() if self.mode == "entra" else name

    def _filter(self, resource: str, expression: str) -> list[dict[str, t.Any]]:
        query = {"filter": expression}
        if self.mode == "entra":
            if resource == "Groups":
                query["excludedAttributes"] = "members"
        else:
            query.update(startIndex="1", count="100")
        reply = self.request("GET", f"/{resource}?{urllib.parse.urlencode(query)}")
        return t.cast(list[dict[str, t.Any]], reply.json.get("Resources", []))

    # -- users ---------------------------------------------------------------------------------

    def user_body(self, person: Person, *, password: str | None, active: bool = True) -> t.Any:
        """The body Okta (or Entra) creates ``person`` with."""
        display = f"{person.given_name} {person.family_name}".strip()
        body: dict[str, t.Any] = {
            "schemas": [USER],
            "userName": person.email,
            "name": {"givenName": person.given_name, "familyName": person.family_name},
            "emails": [{"primary": True, "value": person.email, "type": "work"}],
            "displayName": display,
            "active": active,
        }
        if self.mode == "entra":
            body["schemas"] = [USER, ENTERPRISE]
            body["externalId"] = person.email.split("@")[0]
            body["name"]["formatted"] = display
        else:
            body["locale"] = "en-US"
            body["externalId"] = "00u" + format(abs(hash(person.email)) % 16**17, "017x")
            body["groups"] = []
            if password is not None:
                body["password"] = password
        body.update(person.extra)
        return body

    def user_id(self, email: str) -> str:
        """The SCIM id of ``email``: remembered, or found with Okta's lookup filter."""
        key = email.lower()
        if key not in self.user_ids:
            found = self._filter("Users", f'userName eq "{email}"')
            if not found:
                raise LookupError(f"The application has no SCIM user {email!r}.")
            self.user_ids[key] = found[0]["id"]
        return self.user_ids[key]

    def assign(
        self,
        email: str,
        *,
        given_name: str | None = None,
        family_name: str | None = None,
        password: str | None = None,
        **extra: t.Any,
    ) -> t.Any:
        """Assign ``email`` to the app: look up, then create (or reactivate the one found).

        ``password`` is sent only when given (Okta sends one when password sync
        is on) and never in mode ``entra``; ``extra`` goes into the body as is.
        """
        given, family = _names_from(email)
        person = Person(email, given_name or given, family_name or family, dict(extra))
        found = self._filter("Users", f'userName eq "{email}"')
        if found:
            self.user_ids[email.lower()] = found[0]["id"]
            if found[0].get("active") is False:
                return self.reactivate(email)
            return found[0]
        body = self.user_body(person, password=password)
        created = self.request("POST", "/Users", body, expect=(201,)).json
        self.user_ids[email.lower()] = created["id"]
        return created

    def assign_many(self, emails: Iterable[str], **kwargs: t.Any) -> list[t.Any]:
        """:meth:`assign` each of ``emails``, in order."""
        return [self.assign(email, **kwargs) for email in emails]

    def _put_user(self, email: str, change: dict[str, t.Any]) -> t.Any:
        scim_id = self.user_id(email)
        current = self.request("GET", f"/Users/{scim_id}").json
        current.update(change)
        current.pop("meta", None)
        return self.request("PUT", f"/Users/{scim_id}", current).json

    def update(self, email: str, **profile: t.Any) -> t.Any:
        """Change ``email``'s profile: ``given_name``, ``family_name``, ``display_name`` or any
        top-level SCIM attribute (``title="..."``)."""
        given = profile.pop("given_name", None)
        family = profile.pop("family_name", None)
        display = profile.pop("display_name", None)
        if self.mode == "entra":
            ops: list[dict[str, t.Any]] = []
            for path, value in (("name.givenName", given), ("name.familyName", family)):
                if value is not None:
                    ops.append({"op": "Replace", "path": path, "value": value})
            if display is not None:
                ops.append({"op": "Replace", "path": "displayName", "value": display})
            ops += [{"op": "Replace", "path": k, "value": v} for k, v in profile.items()]
            return self._patch(f"/Users/{self.user_id(email)}", *ops).json
        scim_id = self.user_id(email)
        current = self.request("GET", f"/Users/{scim_id}").json
        name = dict(current.get("name") or {})
        if given is not None:
            name["givenName"] = given
        if family is not None:
            name["familyName"] = family
        current["name"] = name
        if display is not None:
            current["displayName"] = display
        current.update(profile)
        # Okta's PUT carries what it read, plus its own read-only junk.
        current["meta"] = {"created": "04-12-2018 00:00:00", "version": "v1.0"}
        current["groups"] = []
        return self.request("PUT", f"/Users/{scim_id}", current).json

    def set_password(self, email: str, password: str) -> t.Any:
        """Password sync: Okta sends the new password. Entra never does (returns ``None``)."""
        if self.mode == "entra":
            return None
        if self.mode == "okta-put":
            return self._put_user(email, {"password": password})
        return self._patch(
            f"/Users/{self.user_id(email)}", {"op": "replace", "value": {"password": password}}
        ).json

    def _set_active(self, email: str, active: bool) -> t.Any:
        scim_id = self.user_id(email)
        if self.mode == "okta-put":
            return self._put_user(email, {"active": active})
        if self.mode == "entra":
            value = "True" if active else "False"
            return self._patch(
                f"/Users/{scim_id}", {"op": "Replace", "path": "active", "value": value}
            ).json
        return self._patch(f"/Users/{scim_id}", {"op": "replace", "value": {"active": active}}).json

    def deactivate(self, email: str) -> t.Any:
        """Unassign or deactivate ``email``: Okta never deletes a user, it deactivates."""
        return self._set_active(email, False)

    def reactivate(self, email: str) -> t.Any:
        """Assign ``email`` again after a deactivation: the same SCIM id comes back."""
        return self._set_active(email, True)

    # -- groups --------------------------------------------------------------------------------

    def group_id(self, name: str) -> str:
        """The SCIM id of the pushed group ``name``: remembered, or looked up by name."""
        if name not in self.group_ids:
            found = self._filter("Groups", f'displayName eq "{name}"')
            if not found:
                raise LookupError(f"The application has no SCIM group {name!r}.")
            self.group_ids[name] = found[0]["id"]
        return self.group_ids[name]

    def push_group(self, name: str, members: Iterable[str] = ()) -> t.Any:
        """Push the Okta group ``name`` with ``members`` (emails of assigned people).

        A group of that name already in the application is linked to, as Okta
        does, and its members set to ``members``.
        """
        ids = [self.user_id(email) for email in members]
        found = self._filter("Groups", f'displayName eq "{name}"')
        if found:
            self.group_ids[name] = found[0]["id"]
            return self.push_now(name, members)
        body: dict[str, t.Any] = {"schemas": [GROUP], "displayName": name, "members": []}
        if self.mode == "okta-put":
            body["members"] = [{"value": i} for i in ids]
        if self.mode == "entra":
            body["externalId"] = name.lower().replace(" ", "-")
        created = self.request("POST", "/Groups", body, expect=(201,)).json
        gid = self.group_ids[name] = created["id"]
        self.group_members[name] = list(ids)
        if self.mode == "okta":
            self._patch(
                f"/Groups/{gid}", {"op": "replace", "value": {"id": gid, "displayName": name}}
            )
        if self.mode != "okta-put" and ids:
            self._add(gid, ids)
        return created

    def _add(self, gid: str, ids: list[str]) -> None:
        value = [{"value": i} for i in ids]
        self._patch(f"/Groups/{gid}", {"op": self._op("add"), "path": "members", "value": value})

    def _put_group(self, name: str, ids: list[str], display_name: str | None = None) -> t.Any:
        gid = self.group_id(name)
        body = {
            "schemas": [GROUP],
            "id": gid,
            "displayName": display_name or name,
            "members": [{"value": i} for i in ids],
        }
        return self.request("PUT", f"/Groups/{gid}", body).json

    def _current_members(self, name: str) -> list[str]:
        if name not in self.group_members:
            group = self.request("GET", f"/Groups/{self.group_id(name)}").json
            self.group_members[name] = [m["value"] for m in group.get("members", [])]
        return self.group_members[name]

    def add_members(self, name: str, emails: Iterable[str]) -> None:
        """Add people to the pushed group ``name``."""
        ids = [self.user_id(email) for email in emails]
        current = self._current_members(name)
        merged = current + [i for i in ids if i not in current]
        if self.mode == "okta-put":
            self._put_group(name, merged)
        else:
            self._add(self.group_id(name), ids)
        self.group_members[name] = merged

    def remove_members(self, name: str, emails: Iterable[str]) -> None:
        """Remove people from the pushed group ``name`` (Okta: one filtered ``remove`` each)."""
        ids = [self.user_id(email) for email in emails]
        current = self._current_members(name)
        left = [i for i in current if i not in ids]
        gid = self.group_id(name)
        if self.mode == "okta-put":
            self._put_group(name, left)
        elif self.mode == "entra":
            value = [{"value": i} for i in ids]
            self._patch(f"/Groups/{gid}", {"op": "Remove", "path": "members", "value": value})
        else:
            ops = [{"op": "remove", "path": f'members[value eq "{i}"]'} for i in ids]
            self._patch(f"/Groups/{gid}", *ops)
        self.group_members[name] = left

    def push_now(self, name: str, emails: Iterable[str]) -> None:
        """Okta's "Push Now": the group's whole member list replaced by ``emails``."""
        ids = [self.user_id(email) for email in emails]
        gid = self.group_id(name)
        if self.mode == "okta-put":
            self._put_group(name, ids)
        elif self.mode == "entra":
            current = set(self._current_members(name))
            if gone := [i for i in current if i not in ids]:
                value = [{"value": i} for i in gone]
                self._patch(f"/Groups/{gid}", {"op": "Remove", "path": "members", "value": value})
            if new := [i for i in ids if i not in current]:
                self._add(gid, new)
        else:
            value = [{"value": i} for i in ids]
            self._patch(f"/Groups/{gid}", {"op": "replace", "path": "members", "value": value})
        self.group_members[name] = ids

    def rename_group(self, name: str, new_name: str) -> None:
        """Rename the pushed group ``name`` in Okta: the application sees the new name."""
        gid = self.group_id(name)
        if self.mode == "okta-put":
            self._put_group(name, self._current_members(name), display_name=new_name)
        elif self.mode == "entra":
            self._patch(
                f"/Groups/{gid}", {"op": "Replace", "path": "displayName", "value": new_name}
            )
        else:
            self._patch(
                f"/Groups/{gid}", {"op": "replace", "value": {"id": gid, "displayName": new_name}}
            )
        self.group_ids[new_name] = self.group_ids.pop(name)
        if name in self.group_members:
            self.group_members[new_name] = self.group_members.pop(name)

    def unlink_group(self, name: str, *, delete: bool) -> None:
        """Unlink the pushed group ``name``: "Delete the group in the target app" sends a
        ``DELETE``; "Leave the group" sends nothing at all."""
        gid = self.group_id(name)
        if delete:
            self.request("DELETE", f"/Groups/{gid}", expect=(204,))
        self.group_ids.pop(name, None)
        self.group_members.pop(name, None)
