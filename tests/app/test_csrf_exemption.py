"""Flask-WTF's CSRF check spares the SCIM API and the ACS, whichever of Flask-WTF and the
extension the host sets up first, and still guards the host's own forms."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator

import pytest
from flask import Flask
from flask_wtf.csrf import CSRFProtect

from sample_app.models import db
from sample_app.models import okta
from tests.conftest import BASE_URL
from tests.conftest import ScimClient
from tests.conftest import provisioning_org
from tests.conftest import user_body


@pytest.fixture(params=["csrf-first", "csrf-last"])
def host(request: pytest.FixtureRequest, tmp_path: t.Any) -> Iterator[Flask]:
    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'host.sqlite'}",
        OKTA_SCIM_BASE_URL=BASE_URL,
        SECRET_KEY="csrf test",
        WTF_CSRF_ENABLED=True,
    )
    csrf = CSRFProtect()
    if request.param == "csrf-first":
        csrf.init_app(app)
    db.init_app(app)
    okta.init_app(app)
    if request.param == "csrf-last":
        csrf.init_app(app)

    @app.post("/host-form")
    def host_form() -> str:
        return "changed"

    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_scim_clients_need_no_csrf_token(host: Flask) -> None:
    _, token = provisioning_org(host, "Acme")
    response = ScimClient(host, token).post("/Users", user_body("csrf@example.com"))
    assert response.status_code == 201, response.get_data(as_text=True)


def test_the_idp_post_reaches_the_acs(host: Flask) -> None:
    response = host.test_client().post(
        "/users/sign-in/sso/okta/nosuchconnection/acs", data={"SAMLResponse": "x"}
    )
    assert response.status_code == 404  # the ACS answered, not Flask-WTF's 400
    assert "Unknown sign-in link" in response.get_data(as_text=True)


def test_the_hosts_own_forms_stay_protected(host: Flask) -> None:
    response = host.test_client().post("/host-form", data={})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
