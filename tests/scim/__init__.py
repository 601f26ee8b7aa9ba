"""Tests of the SCIM protocol core (flask_okta_scim.scim): pure, no app, no database."""
