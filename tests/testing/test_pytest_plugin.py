"""The testing kit's pytest plugin, as a host project meets it: each test runs pytest in a
directory of its own (``pytester``), in a subprocess that loads the plugin by its entry point.

The host project is ``host_example/`` (the same files the documentation shows).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import flask_okta_scim

pytest_plugins = ["pytester"]

HOST_EXAMPLE = Path(__file__).parent / "host_example"
#: The directory holding the ``flask_okta_scim`` under test: the subprocess imports it too.
KIT_ROOT = Path(flask_okta_scim.__file__).resolve().parent.parent
RECEIVER_TEST = "test_a_deleted_pushed_group_is_purged_and_its_projects_archived"


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest on ``pytester``'s directory in a subprocess, as the host would."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """An empty host project, whose pytest imports this checkout's ``flask_okta_scim``."""
    monkeypatch.setenv("PYTHONPATH", str(KIT_ROOT))
    return pytester


@pytest.fixture
def host(project: pytest.Pytester) -> pytest.Pytester:
    """The host project of ``host_example/``: its application, ``app`` fixture and tests."""
    for name in ("myapp.py", "conftest.py", "test_myapp.py"):
        shutil.copy(HOST_EXAMPLE / name, project.path / name)
    return project


def host_test_count() -> int:
    return len(re.findall(r"^def test_", (HOST_EXAMPLE / "test_myapp.py").read_text(), re.M))


def test_the_host_example_passes(host: pytest.Pytester) -> None:
    result = run(host)
    result.assert_outcomes(passed=host_test_count())
    assert host_test_count() >= 4


def test_a_receiver_that_does_nothing_fails_the_host_test(host: pytest.Pytester) -> None:
    myapp = host.path / "myapp.py"
    # Everything after the receiver's docstring, up to the next top-level definition.
    broken, found = re.subn(
        r'(def archive_team_projects\(.*?\n    """.*?"""\n).*?(?=\n\n\n)',
        r"\1    pass",
        myapp.read_text(),
        flags=re.S,
    )
    assert found == 1
    myapp.write_text(broken)

    result = run(host)
    result.assert_outcomes(passed=host_test_count() - 1, failed=1)
    # The purge fails: the project's foreign key still points at the team, which stays
    # quarantined.
    result.stdout.fnmatch_lines(["E *These teams stay quarantined: team * ('Platform')*"])
    result.stdout.fnmatch_lines([f"FAILED test_myapp.py::{RECEIVER_TEST}*"])


MARKED = """
import pytest
from myapp import okta


@pytest.mark.okta_organization(
    name="Initech", domains=["initech.example"], jit_team="Staff", provisioning=False
)
def test_marked(app, okta_organization):
    assert okta_organization.name == "Initech"
    assert okta_organization.token is None
    with app.app_context():
        directory = okta.directory()
        organization = directory.get_organization(okta_organization.id)
        assert organization.name == "Initech"
        domains = directory.domains(organization)
        assert [(d.domain, d.verified_at is not None) for d in domains] == [
            ("initech.example", True)
        ]
        assert [t.name for t in directory.teams(organization)] == ["Staff"]
    with pytest.raises(RuntimeError, match="Provisioning is off"):
        okta_organization.scim()


def test_unmarked(app, okta_organization):
    assert okta_organization.name == "Acme"
    assert okta_organization.token is not None
    with app.app_context():
        directory = okta.directory()
        organization = directory.get_organization(okta_organization.id)
        assert [d.domain for d in directory.domains(organization)] == ["acme.example"]
        assert [t.name for t in directory.teams(organization)] == ["Everyone"]
"""


def test_the_marker_changes_the_organization(host: pytest.Pytester) -> None:
    host.makepyfile(test_marked=MARKED)
    result = run(host, "test_marked.py", "-v")
    result.assert_outcomes(passed=2)


def test_an_unknown_marker_keyword_is_a_usage_error(host: pytest.Pytester) -> None:
    host.makepyfile(
        test_typo="""
        import pytest

        @pytest.mark.okta_organization(domain="initech.example")
        def test_typo(okta_organization):
            pass

        @pytest.mark.okta_organization("Initech")
        def test_positional(okta_organization):
            pass
        """
    )
    result = run(host, "test_typo.py")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "E *UsageError: okta_organization takes name, domains, jit_team, provisioning "
            "as keywords, not domain",
            "E *UsageError: okta_organization takes name, domains, jit_team, provisioning "
            "as keywords, not ('Initech',)",
        ]
    )


def test_a_host_without_an_app_fixture_is_told_what_to_define(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        def test_sign_in(okta_sign_in):
            okta_sign_in("ann@acme.example")
        """
    )
    result = run(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "The okta_* fixtures need the application under test: define an 'app' fixture "
            "(the Flask app with its tables created), or override 'okta_app'."
        ]
    )
    result.stdout.no_fnmatch_line("*fixture 'app' not found*")


def test_the_fixtures_are_offered_not_imposed(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        def test_plain():
            assert 1 + 1 == 2
        """
    )
    offered = run(project, "--fixtures")
    for name in ("okta_app", "okta_idp", "okta_organization", "okta_scim", "okta_sign_in"):
        offered.stdout.fnmatch_lines([f"{name}*"])

    result = run(project, "--setup-show")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*okta_*")
    assert list(project.path.glob("**/*.sqlite")) == []
