"""Tests of the ``flask okta-scim`` command line (flask_okta_scim.cli)."""
