"""User and Group resources: reading request bodies, writing responses (RFC 7643 §4).

A user's SCIM attributes are kept *as sent* (minus what RFC 7643 makes
read-only, and minus the password, which is never stored in clear); the few
the directory needs (userName, email, externalId, displayName, active) are
extracted here. Nothing here touches a database.
"""

from __future__ import annotations

import copy
import typing as t
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone

from ..core.emails import normalize_email
from ..core.errors import InvalidValue
from ..core.text import fold
from .constants import ENTERPRISE_USER
from .constants import GROUP
from .constants import USER
from .errors import InvalidSyntax

#: Attributes a client may send but that the server owns (RFC 7643 §3.1, §4.1.2).
READ_ONLY = frozenset({"id", "meta", "groups", "schemas"})

#: Attributes returned whatever ``attributes``/``excludedAttributes`` say (RFC 7643 §7).
ALWAYS_RETURNED = ("schemas", "id", "active")

#: Canonical spellings of the user attributes we read (names are case-insensitive).
_USER_KEYS = {
    k.lower(): k
    for k in (
        "userName",
        "name",
        "displayName",
        "nickName",
        "profileUrl",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "active",
        "password",
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "groups",
        "entitlements",
        "roles",
        "x509Certificates",
        "externalId",
        "id",
        "meta",
        "schemas",
        ENTERPRISE_USER,
    )
}
_MANAGER_KEYS = {k.lower(): k for k in ("value", "$ref", "displayName")}
_GROUP_KEYS = {
    k.lower(): k for k in ("displayName", "members", "externalId", "id", "meta", "schemas")
}


@dataclass
class UserInput:
    """What a User body asks for, ready for the directory service."""

    user_name: str
    email: str
    external_id: str | None
    display_name: str | None
    active: bool | None  # None: not sent (a create makes the user active)
    password: str | None
    attributes: dict[str, t.Any]


@dataclass
class GroupInput:
    """What a Group body asks for."""

    display_name: str
    external_id: str | None
    member_ids: list[str] | None  # None when the body has no "members"


#: The longest email address kept (RFC 5321 allows 64 + 1 + 255), of any ``emails`` type.
MAX_EMAIL_LENGTH = 320
#: The longest ``type`` of an email (``work``, ``home``...).
MAX_EMAIL_TYPE = 50
#: The longest userName kept.
MAX_USER_NAME = 512
#: The longest user displayName kept.
MAX_DISPLAY_NAME = 512
#: The longest externalId kept.
MAX_EXTERNAL_ID = 512
#: The longest enterprise ``manager.value`` (the manager's id) kept.
MAX_MANAGER = 512
#: The longest group (team) name kept.
MAX_GROUP_NAME = 200

#: The deepest JSON nesting a request body may have.
MAX_JSON_DEPTH = 32


def check_json(value: t.Any, depth: int = 0) -> None:
    """Refuse JSON that no database column or later answer could hold.

    Raises :class:`InvalidSyntax` for nesting deeper than :data:`MAX_JSON_DEPTH`
    and :class:`InvalidValue` for strings with NUL characters or unpaired
    surrogates (``"\ud800"``), which PostgreSQL and UTF-8 cannot store.
    """
    if depth > MAX_JSON_DEPTH:
        raise InvalidSyntax(f"The body is nested deeper than {MAX_JSON_DEPTH} levels.")
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json(item, depth + 1)


def check_text(value: str) -> None:
    """:class:`InvalidValue` unless ``value`` can be stored: no NUL, valid UTF-8."""
    if "\x00" in value:
        raise InvalidValue("Strings must not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValue("Strings must be valid Unicode (no unpaired surrogates).") from None


def check_length(value: t.Any, name: str, size: int) -> None:
    """:class:`InvalidValue` naming ``name`` for a string longer than ``size`` (what its column
    holds), as sent, lower-cased or folded: lookup columns hold those forms, which can be
    longer (``"İ".lower()`` is two characters, ``"ﬃ"`` folds to three). Does not check the
    type: non-strings pass."""
    if isinstance(value, str) and max(len(value), len(value.lower()), len(fold(value))) > size:
        raise InvalidValue(f"{name} must be at most {size} characters.")


def as_bool(value: t.Any, name: str) -> bool:
    """A JSON boolean, or Entra's ``"True"``/``"false"`` strings; anything else is refused."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidValue(f"{name} must be true or false.")


def canonical_keys(body: Mapping[str, t.Any], known: Mapping[str, str]) -> dict[str, t.Any]:
    """``body`` with known attribute names in their canonical case (RFC 7643 §2.1)."""
    return {known.get(k.lower(), k): v for k, v in body.items()}


def prune(value: t.Any) -> t.Any:
    """Drop nulls and empty strings, which clear an attribute (RFC 7644 §3.5.1; Okta sends them)."""
    if isinstance(value, dict):
        pruned = {k: prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v is not None and v != "" and v != {}}
    if isinstance(value, list):
        items = [prune(v) for v in value]
        return [v for v in items if v is not None and v != "" and v != {}]
    return value


def parse_user(body: t.Any) -> UserInput:
    """Read a User resource from a POST or PUT body.

    Read-only attributes (``id``, ``meta``, ``groups``, ``schemas``) are
    ignored, as RFC 7644 §3.5.1 says and Okta needs. ``userName`` is kept
    exactly as sent; the account's email is ``userName`` when that is an
    email address, else the primary email. Raises :class:`InvalidValue` or
    :class:`InvalidSyntax`.
    """
    if not isinstance(body, dict):
        raise InvalidSyntax("The request body must be a JSON object.")
    data = canonical_keys(body, _USER_KEYS)
    for key in READ_ONLY:
        data.pop(key, None)
    user_name = data.pop("userName", None)
    if not isinstance(user_name, str) or not user_name.strip():
        raise InvalidValue("userName is required and must be a non-empty string.")
    check_length(user_name, "userName", MAX_USER_NAME)
    password = data.pop("password", None)
    if password is not None and not isinstance(password, str):
        raise InvalidValue("password must be a string.")
    if password is not None and len(password) > 1024:
        raise InvalidValue("password must be at most 1024 characters.")
    active = data.pop("active", None)
    active = None if active is None else as_bool(active, "active")
    external_id = data.pop("externalId", None)
    if external_id is not None and not isinstance(external_id, str):
        raise InvalidValue("externalId must be a string.")
    attributes = prune(data)
    display_name = attributes.get("displayName")
    if display_name is not None and not isinstance(display_name, str):
        raise InvalidValue("displayName must be a string.")
    check_length(display_name, "displayName", MAX_DISPLAY_NAME)
    check_length(external_id, "externalId", MAX_EXTERNAL_ID)
    _check_multi_valued(attributes)
    if ENTERPRISE_USER in attributes:
        if not isinstance(attributes[ENTERPRISE_USER], dict):
            raise InvalidValue("The enterprise extension must be an object.")
        attributes[ENTERPRISE_USER] = enterprise_manager(attributes[ENTERPRISE_USER])
        if not attributes[ENTERPRISE_USER]:
            del attributes[ENTERPRISE_USER]
    return UserInput(
        user_name=user_name,
        email=account_email(user_name, attributes),
        external_id=external_id or None,
        display_name=display_name,
        active=active,
        password=password or None,
        attributes=attributes,
    )


def _check_multi_valued(attributes: Mapping[str, t.Any]) -> None:
    for key in (
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "entitlements",
        "roles",
        "x509Certificates",
    ):
        value = attributes.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise InvalidValue(f"{key} must be a list of objects.")
    for item in attributes.get("emails", []):
        if not isinstance(item.get("value"), str):
            raise InvalidValue("Every email needs a string value.")
        for key, value in item.items():  # every spelling: names are case-insensitive
            if key.lower() == "value":
                check_length(value, "emails.value", MAX_EMAIL_LENGTH)
            elif key.lower() == "type":
                if not isinstance(value, str):
                    raise InvalidValue("emails.type must be a string.")
                check_length(value, "emails.type", MAX_EMAIL_TYPE)
    if not isinstance(attributes.get("name", {}), dict):
        raise InvalidValue("name must be an object.")


def enterprise_manager(extension: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The enterprise extension with its ``manager`` as RFC 7643 §4.3 has it: ``{"value": id}``.

    Entra sends the bare id (``"manager": "2611..."``); Okta the object. An
    empty id removes the manager. Raises :class:`InvalidValue` for anything
    else, or an id longer than :data:`MAX_MANAGER`. Does not check that the
    manager is a user of ours (Entra may send one it has not provisioned).
    """
    result = dict(extension)
    key = next((k for k in result if k.lower() == "manager"), None)
    if key is None:
        return result
    manager = result.pop(key)
    if isinstance(manager, str):
        manager = {"value": manager}
    if not isinstance(manager, dict):
        raise InvalidValue(f"{ENTERPRISE_USER}:manager must be an id or an object with a value.")
    manager = prune(canonical_keys(manager, _MANAGER_KEYS))
    value = manager.get("value")
    if value is not None and not isinstance(value, str):
        raise InvalidValue(f"{ENTERPRISE_USER}:manager.value must be a string.")
    check_length(value, f"{ENTERPRISE_USER}:manager.value", MAX_MANAGER)
    if manager:
        result["manager"] = manager
    return result


def primary_email(attributes: Mapping[str, t.Any]) -> str | None:
    """The primary email: ``primary: true``, else the work email, else the first."""
    emails = [e for e in attributes.get("emails") or [] if isinstance(e, dict)]
    emails = [e for e in emails if isinstance(e.get("value"), str)]
    primary = [e for e in emails if str(e.get("primary")).lower() == "true"]
    work = [e for e in emails if str(e.get("type", "")).lower() == "work"]
    for candidates in (primary, work, emails):
        if candidates:
            return t.cast(str, candidates[0]["value"])
    return None


def account_email(user_name: str, attributes: Mapping[str, t.Any]) -> str:
    """The email that identifies the account: ``userName`` if it is one, else the primary email.

    Raises :class:`InvalidValue` saying that Okta must use the Email username format.
    """
    for name, candidate in (("userName", user_name), ("emails.value", primary_email(attributes))):
        if candidate is None:
            continue
        try:
            email = normalize_email(candidate)
        except InvalidValue:
            continue
        # normalising can lengthen the domain (IDNA): check what is stored
        check_length(email, f"{name} (as the account's email address)", MAX_EMAIL_LENGTH)
        return email
    raise InvalidValue(
        f"userName {user_name!r} is not an email address and the user has no primary email: "
        "set the application's username format to Email in Okta."
    )


def timestamp(value: datetime) -> str:
    """RFC 3339 UTC timestamp; naive datetimes (SQLite) are taken to be UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def etag(version: int) -> str:
    """The weak entity tag of a resource version (RFC 7644 §3.14)."""
    return f'W/"{version}"'


def render_user(
    *,
    scim_id: str,
    user_name: str,
    external_id: str | None,
    active: bool,
    attributes: Mapping[str, t.Any],
    groups: list[dict[str, str]] | None,
    created: datetime,
    modified: datetime,
    version: int,
    location: str,
) -> dict[str, t.Any]:
    """The User resource as returned to clients. The password is never part of it.

    ``groups`` is left out when ``None`` (it is returned only when asked for).
    """
    resource: dict[str, t.Any] = {"schemas": [USER]}
    extra = copy.deepcopy(dict(attributes))
    resource["schemas"] += sorted(k for k in extra if k.startswith("urn:"))
    resource["id"] = scim_id
    if external_id:
        resource["externalId"] = external_id
    resource["userName"] = user_name
    resource["active"] = active
    resource.update(extra)
    if groups is not None:  # "returned": "request" in our schema
        resource["groups"] = groups
    resource["meta"] = _meta("User", created, modified, version, location)
    return resource


def parse_group(body: t.Any) -> GroupInput:
    """Read a Group resource from a POST or PUT body (read-only attributes ignored)."""
    if not isinstance(body, dict):
        raise InvalidSyntax("The request body must be a JSON object.")
    data = canonical_keys(body, _GROUP_KEYS)
    name = data.get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise InvalidValue("displayName is required and must be a non-empty string.")
    external_id = data.get("externalId")
    if external_id is not None and not isinstance(external_id, str):
        raise InvalidValue("externalId must be a string.")
    check_length(external_id, "externalId", MAX_EXTERNAL_ID)
    check_length(name.strip(), "displayName", MAX_GROUP_NAME)
    members = data.get("members")
    return GroupInput(
        display_name=name.strip(),
        external_id=external_id or None,
        member_ids=None if members is None else member_values(members),
    )


def member_values(members: t.Any) -> list[str]:
    """The ``value`` of each member object (``{"value": id, "display": ...}``)."""
    if isinstance(members, dict):
        members = [members]
    if not isinstance(members, list):
        raise InvalidValue("members must be a list of objects with a value.")
    values = []
    for member in members:
        value = member.get("value") if isinstance(member, dict) else None
        if not isinstance(value, str) or not value:
            raise InvalidValue("Every member needs a string value: the user's id.")
        values.append(value)
    return list(dict.fromkeys(values))


def render_group(
    *,
    scim_id: str,
    display_name: str,
    external_id: str | None,
    members: list[dict[str, str]] | None,
    created: datetime,
    modified: datetime,
    version: int,
    location: str,
) -> dict[str, t.Any]:
    """The Group resource as returned to clients; ``members`` omitted when ``None``."""
    resource: dict[str, t.Any] = {"schemas": [GROUP], "id": scim_id}
    if external_id:
        resource["externalId"] = external_id
    resource["displayName"] = display_name
    if members is not None:
        resource["members"] = members
    resource["meta"] = _meta("Group", created, modified, version, location)
    return resource


def group_member(scim_id: str, base_url: str) -> dict[str, str]:
    """One entry of a Group's ``members``: a user and its URL (``base_url``: the SCIM root)."""
    return {"value": scim_id, "$ref": f"{base_url}/Users/{scim_id}", "type": "User"}


def _meta(
    kind: str, created: datetime, modified: datetime, version: int, location: str
) -> dict[str, str]:
    return {
        "resourceType": kind,
        "created": timestamp(created),
        "lastModified": timestamp(modified),
        "location": location,
        "version": etag(version),
    }


def project(
    resource: Mapping[str, t.Any],
    attributes: list[str] | None = None,
    excluded: list[str] | None = None,
) -> dict[str, t.Any]:
    """Apply ``attributes`` / ``excludedAttributes`` (RFC 7644 §3.4.2.5) to a rendered resource.

    Attributes whose ``returned`` is ``always`` (``schemas``, ``id``, a user's
    ``active``) are kept. Names may be ``a``, ``a.b`` or URN-qualified
    (``urn:...:User:department``), compared case-insensitively.
    """
    if not attributes and not excluded:
        return dict(resource)
    if attributes:
        result: dict[str, t.Any] = {k: resource[k] for k in ALWAYS_RETURNED if k in resource}
        for path in attributes:
            _copy_path(resource, result, _split(path, resource))
        return result
    result = copy.deepcopy(dict(resource))
    for path in excluded or []:
        parts = _split(path, resource)
        if parts[0].lower() in ALWAYS_RETURNED:
            continue
        _drop_path(result, parts)
    return result


def _split(path: str, resource: Mapping[str, t.Any]) -> list[str]:
    """``urn:x:User:dept.sub`` -> ``[urn:x:User, dept, sub]``; core URN prefixes are dropped."""
    path = path.strip()
    for urn in sorted((k for k in resource if k.startswith("urn:")), key=len, reverse=True):
        if path.lower() == urn.lower():
            return [urn]
        if path.lower().startswith(urn.lower() + ":"):
            return [urn, *path[len(urn) + 1 :].split(".")]
    for core in (USER, GROUP):
        if path.lower().startswith(core.lower() + ":"):
            path = path[len(core) + 1 :]
    return path.split(".")


def _find(container: Mapping[str, t.Any], name: str) -> str | None:
    return next((k for k in container if k.lower() == name.lower()), None)


def _copy_path(source: Mapping[str, t.Any], target: dict[str, t.Any], parts: list[str]) -> None:
    key = _find(source, parts[0])
    if key is None:
        return
    if len(parts) == 1:
        target[key] = copy.deepcopy(source[key])
        return
    value = source[key]
    if isinstance(value, dict):
        _copy_path(value, target.setdefault(key, {}), parts[1:])
    elif isinstance(value, list):
        items = target.setdefault(key, [{} for _ in value])
        for item, out in zip(value, items, strict=False):
            if isinstance(item, dict):
                _copy_path(item, out, parts[1:])


def _drop_path(target: dict[str, t.Any], parts: list[str]) -> None:
    key = _find(target, parts[0])
    if key is None:
        return
    if len(parts) == 1:
        del target[key]
        return
    value = target[key]
    if isinstance(value, dict):
        _drop_path(value, parts[1:])
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                _drop_path(item, parts[1:])
