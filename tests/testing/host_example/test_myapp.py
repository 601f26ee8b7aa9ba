"""The host's own tests of its Okta integration, with the Flask-Okta-SCIM pytest plugin.

Okta-shaped traffic comes from the plugin's fixtures: ``okta_scim`` sends the
SCIM requests Okta's provisioning sends, ``okta_sign_in`` signs a person in
through the application's real SAML endpoint. No Okta organization is needed.
"""

from __future__ import annotations

import pytest
from flask_okta_scim.testing.organizations import SimulatedSignInFailed
from sqlalchemy import select

from myapp import Project
from myapp import Team
from myapp import db
from myapp import okta


def test_a_deleted_pushed_group_is_purged_and_its_projects_archived(
    app, okta_organization, okta_scim
):
    okta_scim.assign("ann@acme.example")
    okta_scim.push_group("Platform", members=["ann@acme.example"])
    with app.app_context():
        team = db.session.scalars(
            select(Team).where(
                Team.organization_id == okta_organization.id, Team.name == "Platform"
            )
        ).one()
        project = Project(name="Status page", organization_id=team.organization_id, team_id=team.id)
        db.session.add(project)
        db.session.commit()
        project_id, team_id = project.id, team.id

    # The Okta admin unlinks the group with "Delete the group in the target app".
    okta_scim.unlink_group("Platform", delete=True)

    # By default the team is quarantined: gone for Okta and for Ann, its project untouched.
    with app.app_context():
        team = db.session.get(Team, team_id)
        assert okta.directory().is_quarantined(team)
        assert db.session.get(Project, project_id).archived_at is None

    # Once the grace period is over (zero days in these tests), the purge deletes the team,
    # and the team_deleted receiver archives its projects.
    purge = app.test_cli_runner().invoke(args=["okta-scim", "purge"])
    assert purge.exit_code == 0, purge.output

    with app.app_context():
        assert db.session.get(Team, team_id) is None
        project = db.session.get(Project, project_id)
        assert project is not None, "the project is archived, not deleted"
        assert project.archived_at is not None
        assert project.team_id is None


def test_a_person_signed_in_through_okta_sees_their_page_until_deactivated(okta_scim, okta_sign_in):
    okta_scim.assign("ann@acme.example")
    client = okta_sign_in("ann@acme.example")
    answer = client.get("/me", base_url="https://app.example.test")
    assert answer.status_code == 200
    assert answer.json == {"email": "ann@acme.example", "organizations": ["Acme"]}

    # Okta deactivates Ann (unassigned, or she left the company).
    okta_scim.deactivate("ann@acme.example")

    # Her session ends at its next request, and Okta cannot sign her in again.
    assert client.get("/me", base_url="https://app.example.test").status_code == 401
    with pytest.raises(SimulatedSignInFailed) as refused:
        okta_sign_in("ann@acme.example")
    assert refused.value.response.status_code == 403


def test_another_organization_cannot_see_the_first_ones_people(
    app, okta_scim, okta_organization_factory
):
    okta_scim.assign("ann@acme.example")
    globex = okta_organization_factory("Globex", domains=["globex.example"], jit_team="Everyone")

    client = globex.sign_in("bob@globex.example")
    answer = client.get("/people", base_url="https://app.example.test")
    assert answer.json == {"people": ["bob@globex.example"]}
    # Globex's SCIM token does not reach Acme's people either.
    with pytest.raises(LookupError):
        globex.scim().user_id("ann@acme.example")


@pytest.mark.okta_organization(name="Initech", domains=["initech.example"])
def test_the_marker_sets_up_another_organization(okta_sign_in):
    client = okta_sign_in("peter@initech.example")
    answer = client.get("/me", base_url="https://app.example.test")
    assert answer.json == {"email": "peter@initech.example", "organizations": ["Initech"]}
