"""Password hashing for passwords synced by Okta (directory rule 8, docs/directory.rst).

We use Werkzeug's ``scrypt`` hashing rather than writing our own: salted,
memory-hard, and verified in constant time. Hosts with their own scheme pass
``hash_password=`` to :class:`~flask_okta_scim.OktaSCIM`.
"""

from __future__ import annotations

from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash


def hash_password(password: str) -> str:
    """Return a salted scrypt hash of ``password``. Does not store or log anything."""
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str | None, password: str) -> bool:
    """Return whether ``password`` matches ``password_hash`` (``False`` when there is no hash)."""
    if not password_hash:
        return False
    return check_password_hash(password_hash, password)
