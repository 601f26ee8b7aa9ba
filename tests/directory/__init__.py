"""Tests of the directory service (flask_okta_scim.sqla.directory) and its signals."""
