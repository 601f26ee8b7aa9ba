"""``flask okta-scim user``: look up accounts."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ._common import emit
from ._common import public_id
from ._common import reports_errors
from ._common import unit_of_work

user = AppGroup("user", help="Inspect accounts.")


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
