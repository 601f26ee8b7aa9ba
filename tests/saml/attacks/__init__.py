"""Attack corpus for the SAML Assertion Consumer Service (SPEC §2 rules 1-3 and 9, §6 Security).

Every case is a real, signed (or deliberately badly signed) Response from
:mod:`tests.saml_idp`, posted to the real ACS through the Flask test client,
on SQLite and on PostgreSQL. Nothing on the service-provider side is mocked.

A refused sign-in must show an HTML error page (400 for input that cannot be
read or whose signatures have a shape no IdP sends, 403 for anything invalid or
refused), sign nobody in (``/me`` is 401),
leak neither a traceback nor the failure reason, create nothing, and leave an
``sso.login`` audit row with outcome ``failure`` and a ``reason``.

Cast: Acme's Okta (``IDP``, the key in ``tests/data/idp.key``) is configured on
Acme's connection; ``ada@acme.example`` is a member of Acme (the victim); Eve
(``eve@acme.example``) is an attacker whose domain Acme pre-approves, so a
correct response for her would sign her in by JIT. Globex is a second
organization whose own Okta signs with ``tests/data/other-idp.key``.

``support.py`` holds the cast, the tenants and the checks of a refused sign-in;
``xml_surgery.py`` the edits of signed XML (XML Signature Wrapping included);
``conftest.py`` the ``acme`` fixture. The tests: ``test_corpus.py`` (the
parametrized attack cases), ``test_controls.py`` (positive controls),
``test_replay.py`` and ``test_targets.py`` (redirects, NameID comments, JIT,
connections, another organization's IdP), ``test_transforms.py`` (signatures whose
transforms, algorithms or shape would make xmlsec work hard: refused cheaply).
"""
