"""Tests of flask_okta_scim.core: the framework-agnostic helpers."""
