"""Case-insensitive keys, computed in Python so that every database compares alike.

SQLite's ``lower()`` folds ASCII only, and PostgreSQL's depends on the
database's locale: ``displayName eq "Équipe Zürich"`` would match on one and
not the other. Every attribute compared case-insensitively is therefore stored
a second time, as :func:`fold` made it, and filters compare folded values.
"""

from __future__ import annotations

import unicodedata


def fold(value: str) -> str:
    """The caseless key of ``value``: Unicode case folding of its NFC form, in NFC.

    ``"Équipe ZÜRICH"``, ``"équipe zürich"`` and the decomposed spelling of
    either share one key; ``"Straße"`` and ``"STRASSE"`` too. It does not trim
    white space or unify look-alike characters (``"ﬁ"`` folds to ``"fi"``, but
    a Cyrillic letter stays apart from the Latin one it looks like).
    """
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).casefold())
