"""Where a sign-in may send the browser afterwards."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next_path(value: str | None) -> str | None:
    """Return ``value`` if it is a same-origin path (``/reports?x=1``), else ``None``.

    Refused: absolute URLs (``https://evil``), scheme-relative ones
    (``//evil``), backslash tricks (``/\\evil``, which browsers read as
    ``//evil``), control characters, and anything that does not start with a
    single ``/``. It does not check that the path exists.
    """
    if not value or not isinstance(value, str) or len(value) > 2048:
        return None
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value
