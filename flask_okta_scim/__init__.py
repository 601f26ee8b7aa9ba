"""Okta single sign-on and SCIM 2.0 provisioning for multi-tenant Flask applications."""

from . import signals
from ._extension import OktaSCIM
from .config import BaseUrlNotSet
from .config import ConfigError
from .core.errors import Conflict
from .core.errors import DirectoryError
from .core.errors import InvalidValue
from .core.errors import JitRefused
from .core.errors import NotAMember
from .core.errors import NotFound
from .core.errors import NotManaged
from .sqla.mapping import ModelMappingError
from .web.session import current_sso_organization
from .web.session import get_sso_organization
from .web.session import may_act_in
from .web.slo import single_logout

__version__ = "0.1.0.dev0"

__all__ = [
    "BaseUrlNotSet",
    "ConfigError",
    "Conflict",
    "DirectoryError",
    "InvalidValue",
    "JitRefused",
    "ModelMappingError",
    "NotAMember",
    "NotFound",
    "NotManaged",
    "OktaSCIM",
    "current_sso_organization",
    "get_sso_organization",
    "may_act_in",
    "signals",
    "single_logout",
]
