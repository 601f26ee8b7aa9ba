"""``flask okta-scim user``: look up accounts, end their sessions, disable and enable them."""

from __future__ import annotations

import typing as t

import click
from flask.cli import AppGroup

from ._common import emit
from ._common import explain
from ._common import public_id
from ._common import reports_errors
from ._common import unit_of_work

user = AppGroup("user", help="Inspect accounts, end their sessions, disable and enable them.")


@user.command("show")
@click.argument("email")
@reports_errors
def show(email: str) -> None:
    """Print the account of EMAIL with its organizations and teams as JSON (``null`` if none)."""
    with unit_of_work() as directory:
        account = directory.find_account(email)
        if account is None:
            emit("null")
            return
        emit(
            {
                "id": public_id(account.id),
                "email": account.email,
                "display_name": account.display_name,
                "has_password": account.password_hash is not None,
                "disabled": directory.is_disabled(account),
                "managed_by": (
                    None
                    if (manager := directory.managing_organization_id(account)) is None
                    else public_id(manager)
                ),
                "organizations": [
                    {
                        "id": public_id(o.id),
                        "name": o.name,
                        "role": directory.member_role(o, account),
                        "teams": [
                            {"id": public_id(t.id), "name": t.name}
                            for t in directory.teams_of(account, o)
                        ],
                    }
                    for o in directory.organizations_of(account)
                ],
            }
        )


@user.command("end-sessions")
@click.argument("email")
@reports_errors
def end_sessions(email: str) -> None:
    """Sign EMAIL's account out everywhere: every session ends at its next request."""
    with unit_of_work() as directory:
        directory.end_sessions(_account(directory, email), reason="operator")
    explain(f"Every session of {email} ends at its next request.")


@user.command("disable")
@click.argument("email")
@reports_errors
def disable(email: str) -> None:
    """Disable EMAIL's account: it may not sign in, and every session ends.

    The account keeps its organizations and teams; adding it to an
    organization, or `user enable`, enables it again.
    """
    with unit_of_work() as directory:
        account = _account(directory, email)
        changed = directory.disable_account(account, reason="operator")
    explain(f"{email} is disabled." if changed else f"{email} was already disabled.")


@user.command("enable")
@click.argument("email")
@reports_errors
def enable(email: str) -> None:
    """Enable EMAIL's disabled account again."""
    with unit_of_work() as directory:
        changed = directory.enable_account(_account(directory, email))
    explain(f"{email} is enabled." if changed else f"{email} was not disabled.")


def _account(directory: t.Any, email: str) -> t.Any:
    account = directory.find_account(email)
    if account is None:
        raise click.ClickException(f"There is no account for {email}.")
    return account
