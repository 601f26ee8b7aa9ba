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


#: How many characters of a sender-chosen value reach a log line or the audit log.
LOG_VALUE_LIMIT = 500


def loggable(value: object, limit: int = LOG_VALUE_LIMIT) -> str:
    """``value`` as one bounded line of printable text, safe for a log or an audit record.

    Control characters (new lines, carriage returns, escape, NUL, Unicode line
    and paragraph separators, bidirectional overrides) are written as Python
    escapes, ``\\n`` for a new line, and the backslash itself is doubled, so
    that no value can end a log line or forge the next one. A value longer than
    ``limit`` characters (once escaped) is cut and marked with its full length. It does
    not decide whether the value is true or allowed, and does not hide
    personal data.
    """
    text = value if isinstance(value, str) else str(value)
    head = text[: limit + 1]
    out = []
    for char in head:
        if char == "\\":
            out.append("\\\\")
        elif char.isprintable() or char == " ":
            out.append(char)
        else:
            out.append(repr(char)[1:-1])
    escaped = "".join(out)
    if len(text) <= limit and len(escaped) <= limit:
        return escaped
    return f"{escaped[:limit]}…[cut: {len(text)} characters in all]"
