"""Persistence for Flask-SQLAlchemy hosts: mixins, the extension's tables, the directory service.

Nothing here imports Flask: the directory service runs as well in a worker or
a migration script as in a request.
"""

from .directory import UNSET
from .directory import Directory
from .mapping import ModelMappingError
from .mixins import AccountMixin
from .mixins import OrganizationMixin
from .mixins import TeamMixin
from .models import Models
from .models import define_models
from .scim_store import SQLAlchemyScimStore

__all__ = [
    "UNSET",
    "AccountMixin",
    "Directory",
    "ModelMappingError",
    "Models",
    "OrganizationMixin",
    "SQLAlchemyScimStore",
    "TeamMixin",
    "define_models",
]
