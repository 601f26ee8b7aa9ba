"""The SCIM 2.0 protocol (RFC 7643, RFC 7644), free of Flask and SQLAlchemy.

Parsing and rendering of resources, filters, PATCH operations, errors and the
discovery documents, and :class:`~flask_okta_scim.scim.service.ScimService`,
which runs each request over a store. The persistence layer
(:mod:`flask_okta_scim.sqla.scim_store`) implements the store on the database;
the web layer (:mod:`flask_okta_scim.web.scim`) speaks HTTP.
"""
