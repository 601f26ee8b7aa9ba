"""Which attributes a filter may name, per resource type, and what kind of value each holds."""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from ..core.text import fold
from .constants import ENTERPRISE_USER
from .constants import GROUP
from .constants import USER
from .filters import Attribute
from .filters import attribute_map

_E = ENTERPRISE_USER

#: Filterable User attributes (RFC 7643 §4.1). ``id`` and ``externalId`` are case-exact;
#: ``emails`` is multi-valued: a filter on it holds when one address matches.
USER_FILTERS = attribute_map(
    Attribute("id", case_exact=True),
    Attribute("userName"),
    Attribute("externalId", case_exact=True),
    Attribute("displayName"),
    Attribute("nickName"),
    Attribute("title"),
    Attribute("userType"),
    Attribute("locale"),
    Attribute("preferredLanguage"),
    Attribute("name.givenName"),
    Attribute("name.familyName"),
    Attribute("name.formatted"),
    Attribute("emails.value", parent="emails"),
    Attribute("emails.type", parent="emails"),
    Attribute("emails.primary", "boolean", parent="emails"),
    Attribute("active", "boolean"),
    Attribute("meta.created", "dateTime"),
    Attribute("meta.lastModified", "dateTime"),
    Attribute(f"{_E}:employeeNumber"),
    Attribute(f"{_E}:costCenter"),
    Attribute(f"{_E}:organization"),
    Attribute(f"{_E}:division"),
    Attribute(f"{_E}:department"),
    Attribute(f"{_E}:manager.value", case_exact=True),
    aliases={"emails": "emails.value"},
    core_schema=USER,
)

#: Filterable Group attributes (RFC 7643 §4.2).
GROUP_FILTERS = attribute_map(
    Attribute("id", case_exact=True),
    Attribute("displayName"),
    Attribute("externalId", case_exact=True),
    Attribute("members.value", case_exact=True),
    Attribute("meta.created", "dateTime"),
    Attribute("meta.lastModified", "dateTime"),
    aliases={"members": "members.value"},
    core_schema=GROUP,
)


def folded_keys(resource: Mapping[str, t.Any]) -> dict[str, str]:
    """The case-insensitive single-valued string attributes of a User, folded, by canonical name.

    What :func:`~flask_okta_scim.core.text.fold` makes of ``displayName``,
    ``name.givenName``, ... (``userName`` and ``emails`` are kept elsewhere).
    Values that are not strings are left out; nothing is validated here.
    """
    found: dict[str, str] = {}
    for name, attribute in USER_FILTERS.items():
        if (
            name != attribute.name.lower()
            or attribute.type != "string"
            or attribute.case_exact
            or attribute.parent is not None
            or attribute.name in ("userName",)
        ):
            continue
        value = _lookup(resource, attribute.name)
        if isinstance(value, str):
            found[attribute.name] = fold(value)
    return found


def _lookup(resource: Mapping[str, t.Any], name: str) -> t.Any:
    schema, _, rest = name.rpartition(":") if name.startswith("urn:") else ("", "", name)
    value: t.Any = resource.get(schema) if schema else resource
    for part in rest.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def email_elements(resource: Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """Each address of a User's ``emails``, with folded value and type, for filters.

    ``{"value", "value_key", "type_key", "primary"}`` per address with a string
    value, in the order sent; ``primary`` accepts Entra's string booleans.
    Lengths are not checked here (the request parser did).
    """
    elements = []
    for item in resource.get("emails") or []:
        if not isinstance(item, Mapping) or not isinstance(item.get("value"), str):
            continue
        kind = item.get("type")
        elements.append(
            {
                "value": item["value"],
                "value_key": fold(item["value"]),
                "type_key": fold(kind) if isinstance(kind, str) else None,
                "primary": str(item.get("primary")).lower() == "true",
            }
        )
    return elements
