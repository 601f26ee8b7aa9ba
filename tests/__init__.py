"""The test suite. Shared helpers: conftest.py (fixtures, the SCIM client), saml_idp.py
(a signing test IdP), sample_server.py (the sample app as a real server), e2e/ and data/.
"""
