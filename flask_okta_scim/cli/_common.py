"""Helpers shared by the ``flask okta-scim`` command groups.

Conventions (docs/cli.rst): a command that creates something prints only its id or
token on stdout, on one line; explanations go to stderr; errors go to stderr
with a non-zero exit status.
"""

from __future__ import annotations

import json
import typing as t
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from functools import wraps

import click

from .._current import extension
from ..config import BaseUrlNotSet
from ..core.errors import DirectoryError
from ..sqla.directory import Directory

F = t.TypeVar("F", bound=Callable[..., t.Any])


@contextmanager
def unit_of_work() -> Iterator[Directory]:
    """Yield a directory acting as ``cli``; commit at the end, roll back on error."""
    with extension().directory(actor="cli").atomic() as directory:
        yield directory


def reports_errors(f: F) -> F:
    """Turn :class:`DirectoryError` and :class:`BaseUrlNotSet` into a message on stderr, exit 1."""

    @wraps(f)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return f(*args, **kwargs)
        except DirectoryError as e:
            raise click.ClickException(e.message) from None
        except BaseUrlNotSet as e:
            raise click.ClickException(str(e)) from None

    return t.cast(F, wrapper)


def require_base_url(command: str) -> str:
    """The public base URL, for a command that prints URLs built from it.

    Call it before changing anything: without ``OKTA_SCIM_BASE_URL`` the
    command stops there (exit status 1, the key named on stderr).
    """
    return extension().settings.require_base_url(f"'flask okta-scim {command}'")


def emit(value: t.Any) -> None:
    """Print ``value`` on stdout: strings as they are, anything else as JSON."""
    click.echo(value if isinstance(value, str) else json.dumps(value, indent=2))


def explain(message: str) -> None:
    """Print an explanation on stderr."""
    click.echo(message, err=True)


def public_id(value: t.Any) -> str:
    """The id of a row as printed by the CLI and in its JSON: always a string."""
    return str(value)
