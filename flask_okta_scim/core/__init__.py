"""The framework-agnostic core of Flask-Okta-SCIM.

Nothing under ``flask_okta_scim.core`` (nor, later, the SCIM protocol and SAML
packages) imports Flask, Flask-Login, Werkzeug or SQLAlchemy; ``tests/app/test_layering.py``
enforces it. The persistence layer (:mod:`flask_okta_scim.sqla`) and the Flask
layer build on these pieces.
"""
