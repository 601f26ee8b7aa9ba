"""Property-based fuzzing of the SCIM API: generated filters, bodies and PATCH operations.

The invariants, for every request, on SQLite and PostgreSQL alike:

* no 5xx, whatever the client sends;
* every 4xx is an RFC 7644 §3.12 error body with the SCIM media type;
* every 2xx body is strict JSON of the expected shape (a User, a Group, a
  ListResponse);
* another organization's resources are never reached;
* after the fuzzing, the organization's data is still consistent (every listed
  resource can be fetched, group membership agrees from both sides).

Each test defines its ``@given`` function inside the test and runs it once, so
that the function-scoped fixtures (one database, one organization) are set up
once for all examples and the consistency check runs after the last one.
Reusing one database across examples is fine: every example creates what it
changes under a unique name.

Each bug this fuzzing found has a minimized reproduction in ``test_bugs.py``
(``test_bug_*``); the property tests fail on the same inputs until it is fixed.

``harness.py`` holds the settings, the organization under fuzz, sending and
checking, and the consistency check; ``strategies.py`` the generated values
shared by several tests; ``conftest.py`` the ``world`` fixture and the quiet
SCIM log. The property tests are in ``test_queries.py`` (filters, paging),
``test_bodies.py`` (POST and PUT), ``test_patch.py`` and ``test_raw_bodies.py``.
"""
