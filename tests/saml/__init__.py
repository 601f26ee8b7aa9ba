"""Tests of SAML sign-in (flask_okta_scim.saml, flask_okta_scim.web.sso)."""
