"""Tenant isolation of ``/scim/v2``: the bearer token alone decides which organization is seen.

Two organizations, Alpha (A) and Beta (B), are provisioned through SCIM with
their own tokens. B's token must never read, change, list, filter, or link to
A's Users and Groups; A's data must be byte-for-byte unchanged afterwards
(``meta.version`` included). The token tests cover disabled provisioning,
unknown tokens, other schemes, and rotation with and without a grace period.

``tenants.py`` holds the two tenants and what each can read (``snapshot``);
``conftest.py`` the ``tenants`` fixture. The tests: ``test_resources.py``
(B on A's resources, lists and filters), ``test_membership.py`` (groups across
organizations, one person in both) and ``test_tokens.py`` (tokens, rotation).
"""
