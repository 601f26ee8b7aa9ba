"""Tests of the SCIM API over HTTP (flask_okta_scim.web.scim on flask_okta_scim.sqla.scim),
on SQLite and PostgreSQL.
"""
