"""The discovery documents (RFC 7644 §4): ServiceProviderConfig, ResourceTypes, Schemas.

They describe what this server really does; scim2-tester and Okta's tests
read them to decide what to check. The User, EnterpriseUser and Group schema
definitions are RFC 7643 §8.7's, with two changes that make them true here:
``emails`` is required (every account is identified by an email; Okta always
sends one), a user is always ``active`` or not, and a Group's members are
users only (no nested groups), given by ``value``, ``$ref`` and ``type``.
"""

from __future__ import annotations

import copy
import json
import typing as t
from functools import cache
from importlib import resources

from .constants import ENTERPRISE_USER
from .constants import GROUP
from .constants import LIST_RESPONSE
from .constants import RESOURCE_TYPE
from .constants import SCHEMA
from .constants import SERVICE_PROVIDER_CONFIG
from .constants import USER


@cache
def _schemas() -> tuple[dict[str, t.Any], ...]:
    text = resources.files(__package__).joinpath("schemas.json").read_text("utf-8")
    return tuple(json.loads(text))


def service_provider_config(
    base: str, *, max_results: int, docs_url: str | None
) -> dict[str, t.Any]:
    """What the server supports. ``base`` is the public URL of the SCIM root."""
    config: dict[str, t.Any] = {
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": max_results},
        "changePassword": {"supported": True},
        "sort": {"supported": False},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "The organization's provisioning token, sent as "
                "'Authorization: Bearer <token>' (or the bare token).",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base}/ServiceProviderConfig",
        },
    }
    if docs_url:
        config["documentationUri"] = docs_url
    return config


def resource_types(base: str) -> list[dict[str, t.Any]]:
    """The User (with the enterprise extension) and Group resource types."""
    return [
        {
            "schemas": [RESOURCE_TYPE],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A person of the organization.",
            "schema": USER,
            "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": False}],
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/User"},
        },
        {
            "schemas": [RESOURCE_TYPE],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A team of the organization, managed by the identity provider.",
            "schema": GROUP,
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/Group"},
        },
    ]


def schemas(base: str) -> list[dict[str, t.Any]]:
    """The schema definitions of User, EnterpriseUser and Group."""
    result = []
    for schema in _schemas():
        document = copy.deepcopy(schema)
        document["schemas"] = [SCHEMA]
        document["meta"] = {"resourceType": "Schema", "location": f"{base}/Schemas/{schema['id']}"}
        result.append(document)
    return result


def list_response(resources_: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    """A complete, unpaginated ListResponse."""
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(resources_),
        "startIndex": 1,
        "itemsPerPage": len(resources_),
        "Resources": resources_,
    }
