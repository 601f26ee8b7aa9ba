"""The SCIM 2.0 protocol (RFC 7643, RFC 7644), free of Flask and SQLAlchemy.

Parsing and rendering of resources, filters, PATCH operations, errors and the
discovery documents. The persistence layer (:mod:`flask_okta_scim.sqla.scim`)
applies them to the database; the web layer (:mod:`flask_okta_scim.web.scim`)
speaks HTTP.
"""
