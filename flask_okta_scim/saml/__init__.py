"""SAML 2.0 sign-in with Okta over python3-saml, free of Flask and SQLAlchemy.

python3-saml checks signatures, times, audience, destination and issuer in
strict mode; this package sets it up safely (both signatures required, SHA-1
refused) and adds what it leaves to the application: the InResponseTo policy,
the data for a replay cache, safe metadata fetching, which IdP certificates to
trust (strong keys, valid now: :mod:`.certificates`), and exceptions turned into
:class:`SamlError` with a reason for the log (never for the page).
"""
