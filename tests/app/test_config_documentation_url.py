"""OKTA_SCIM_DOCUMENTATION_URL: validated at init_app, published in ServiceProviderConfig."""

from __future__ import annotations

import pytest
from flask import Flask

from flask_okta_scim import ConfigError
from sample_app.models import okta
from tests.conftest import BASE_URL


def host(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", OKTA_SCIM_BASE_URL=BASE_URL)
    app.config.update(config)
    okta.init_app(app)
    return app


def test_the_documentation_url_is_published() -> None:
    app = host(OKTA_SCIM_DOCUMENTATION_URL="https://docs.example.test/scim")
    body = app.test_client().get("/scim/v2/ServiceProviderConfig").get_json()
    assert body["documentationUri"] == "https://docs.example.test/scim"


def test_without_it_there_is_no_documentation_uri() -> None:
    body = host().test_client().get("/scim/v2/ServiceProviderConfig").get_json()
    assert "documentationUri" not in body


@pytest.mark.parametrize("value", ["docs.example.test", "ftp://docs.example.test", 5])
def test_a_bad_documentation_url_names_the_key(value: object) -> None:
    with pytest.raises(ConfigError, match="OKTA_SCIM_DOCUMENTATION_URL"):
        host(OKTA_SCIM_DOCUMENTATION_URL=value)
