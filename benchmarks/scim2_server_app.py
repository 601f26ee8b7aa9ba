"""scim2-server's in-memory SCIM server as a WSGI application, for gunicorn.

The baseline of ``benchmarks/onboarding.py``. Built as the ``scim2-server`` command
builds its server (RFC 7643's schemas and resource types, the default service provider
configuration, one static bearer token, an ``InMemoryStorage``), but served by gunicorn
instead of the command's ``wsgiref`` server, so that it runs under the same server as
ours::

    SCIM2_SERVER_BEARER_TOKEN=secret gunicorn --workers 1 --worker-class gthread \\
        --threads 4 'benchmarks.scim2_server_app:create_app()'

Its storage lives in the worker's memory: one worker process only (a second would hold
other people).
"""

from __future__ import annotations

import os
import secrets
import typing as t

from scim2_models import ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME
from scim2_server.testserver.application import BearerTokenApplication
from scim2_server.utils import load_default_resource_types
from scim2_server.utils import load_default_schemas
from scim2_server.utils import load_default_service_provider_config

#: The environment variable holding the bearer token the server accepts.
TOKEN_VARIABLE = "SCIM2_SERVER_BEARER_TOKEN"


def create_app() -> t.Any:
    """The WSGI application of ``scim2-server --bearer-token $SCIM2_SERVER_BEARER_TOKEN``."""
    config = load_default_service_provider_config()
    config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(), load_default_resource_types().values(), config=config
    )
    service = ScimService(provider, secret=secrets.token_urlsafe(32))
    return BearerTokenApplication(
        InMemoryStorage(), provider, service=service, bearer_tokens=[os.environ[TOKEN_VARIABLE]]
    )
