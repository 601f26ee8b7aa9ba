"""Which attributes a filter may name, per resource type, and what kind of value each holds."""

from __future__ import annotations

from .constants import ENTERPRISE_USER
from .constants import GROUP
from .constants import USER
from .filters import Attribute
from .filters import attribute_map

_E = ENTERPRISE_USER

#: Filterable User attributes (RFC 7643 §4.1). ``id`` and ``externalId`` are case-exact.
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
    Attribute("emails.value"),
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
