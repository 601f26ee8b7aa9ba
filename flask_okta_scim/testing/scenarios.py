"""Provisioning scenarios: small YAML files of an Okta administrator's actions, and what
the application should look like afterwards.

A scenario::

    title: A re-org
    description: What it shows (printed before it runs).
    people:                      # named sets of people, "@name" in any list below
      web: {count: 4, email: "web{n}@{domain}"}
    steps:                       # one action each, run in order
      - assign: "@web"
      - push_group: {group: Web, members: ["@web"]}
      - rename_group: {group: Web, to: Product}
    expect:                      # checked against the directory afterwards
      teams: {Product: ["@web"]} # exactly these members
      no_teams: [Web]
      members: ["@web"]          # members of the organization, not disabled
      not_members: []            # not members of the organization
      held: false                # whether the guard holds destructive changes

Steps: ``assign``, ``deactivate``, ``reactivate`` (a person, a list or a set),
``update`` (``person`` and ``given_name``, ``family_name``, ``display_name``,
``title``...), ``set_password`` (``person``, ``password``), ``push_group``,
``add_members``, ``remove_members``, ``push_now`` (``group``, ``members``),
``rename_group`` (``group``, ``to``), ``unlink_group`` (``group``, ``delete``).
``{domain}`` in an email is the domain the run is given.

Scenarios are data, read with ``yaml.safe_load``; an unknown step or key is an
error before anything is sent. They are written for an organization Okta has
not provisioned yet: run again, they meet what the first run left, as Okta
would (an assigned person is found, a pushed group linked).
"""

from __future__ import annotations

import os
import typing as t
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from importlib import resources

from .scim_client import SimulatedSCIMClient

#: Where the shipped scenarios are (``onboarding.yaml``...).
SHIPPED = "flask_okta_scim.testing"


class ScenarioError(Exception):
    """A scenario file that cannot run: the message names the file, step and key."""


@dataclass
class Scenario:
    """A parsed scenario; :meth:`run` drives a client through it."""

    name: str
    title: str
    description: str
    people: dict[str, dict[str, t.Any]]
    steps: list[tuple[str, t.Any]]
    expect: dict[str, t.Any] = field(default_factory=dict)

    def emails(self, value: t.Any, domain: str) -> list[str]:
        """The emails ``value`` names: one email, a ``@set``, or a list of either."""
        items = value if isinstance(value, list) else [value]
        out: list[str] = []
        for item in items:
            if not isinstance(item, str):
                raise ScenarioError(f"{self.name}: expected an email or @set, not {item!r}")
            if item.startswith("@"):
                spec = self.people.get(item[1:])
                if spec is None:
                    raise ScenarioError(f"{self.name}: no people set {item!r}")
                out += [_fill(spec["email"], domain, n) for n in range(1, int(spec["count"]) + 1)]
            else:
                out.append(_fill(item, domain))
        return out

    def run(
        self,
        client: SimulatedSCIMClient,
        domain: str,
        progress: Callable[[str], None] = lambda line: None,
    ) -> None:
        """Send every step's requests through ``client``; ``progress`` hears one line per step.

        Stops at the first request the application refuses
        (:class:`~flask_okta_scim.testing.scim_client.SCIMRequestFailed`).
        Does not check :attr:`expect`: :func:`check_expectations` does.
        """
        for number, (action, args) in enumerate(self.steps, 1):
            before = len(client.log)
            _ACTIONS[action](self, client, domain, args)
            progress(f"{number:>3}. {action}: {len(client.log) - before} request(s)")


def _fill(template: str, domain: str, n: int | None = None) -> str:
    text = template.replace("{domain}", domain)
    if n is not None:
        head, sep, rest = text.partition("{n")
        if sep:
            spec, _, tail = rest.partition("}")
            text = head + format(n, spec.lstrip(":")) + tail
    return text


def _group(args: t.Any) -> str:
    return str(args["group"])


_ACTIONS: dict[str, Callable[[Scenario, SimulatedSCIMClient, str, t.Any], t.Any]] = {
    "assign": lambda s, c, d, a: c.assign_many(
        s.emails(a["people"] if isinstance(a, dict) else a, d),
        **({"password": a["password"]} if isinstance(a, dict) and "password" in a else {}),
    ),
    "deactivate": lambda s, c, d, a: [c.deactivate(e) for e in s.emails(a, d)],
    "reactivate": lambda s, c, d, a: [c.reactivate(e) for e in s.emails(a, d)],
    "update": lambda s, c, d, a: c.update(
        s.emails(a["person"], d)[0], **{k: v for k, v in a.items() if k != "person"}
    ),
    "set_password": lambda s, c, d, a: c.set_password(s.emails(a["person"], d)[0], a["password"]),
    "push_group": lambda s, c, d, a: c.push_group(_group(a), s.emails(a.get("members", []), d)),
    "add_members": lambda s, c, d, a: c.add_members(_group(a), s.emails(a["members"], d)),
    "remove_members": lambda s, c, d, a: c.remove_members(_group(a), s.emails(a["members"], d)),
    "push_now": lambda s, c, d, a: c.push_now(_group(a), s.emails(a["members"], d)),
    "rename_group": lambda s, c, d, a: c.rename_group(_group(a), str(a["to"])),
    "unlink_group": lambda s, c, d, a: c.unlink_group(_group(a), delete=bool(a["delete"])),
}
#: The keys each step's mapping takes (a step given a plain value takes none).
_KEYS = {
    "assign": {"people", "password"},
    "update": {"person", "given_name", "family_name", "display_name", "title"},
    "set_password": {"person", "password"},
    "push_group": {"group", "members"},
    "add_members": {"group", "members"},
    "remove_members": {"group", "members"},
    "push_now": {"group", "members"},
    "rename_group": {"group", "to"},
    "unlink_group": {"group", "delete"},
}
_REQUIRED = {
    "update": {"person"},
    "set_password": {"person", "password"},
    "push_group": {"group"},
    "add_members": {"group", "members"},
    "remove_members": {"group", "members"},
    "push_now": {"group", "members"},
    "rename_group": {"group", "to"},
    "unlink_group": {"group", "delete"},
}
_EXPECT = {"teams", "no_teams", "members", "not_members", "held"}


def shipped() -> list[str]:
    """The names of the scenarios that come with the package."""
    folder = resources.files(SHIPPED) / "scenarios"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load(ref: str) -> Scenario:
    """Read a scenario: a shipped name (``onboarding``) or a path to a YAML file."""
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is a dependency of the testing extra
        raise ScenarioError("Scenarios need PyYAML: install flask-okta-scim[testing].") from None
    if os.sep in ref or ref.endswith((".yaml", ".yml")):
        try:
            with open(ref, encoding="utf-8") as f:
                text, name = f.read(), ref
        except OSError as e:
            raise ScenarioError(f"Cannot read the scenario {ref}: {e.strerror}") from None
    else:
        path = resources.files(SHIPPED) / "scenarios" / f"{ref}.yaml"
        if not path.is_file():
            raise ScenarioError(
                f"No shipped scenario {ref!r}; there are: {', '.join(shipped())} "
                "(or give a path to a .yaml file)."
            )
        text, name = path.read_text(encoding="utf-8"), ref
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ScenarioError(f"{name} is not valid YAML: {e}") from None
    return parse(data, name)


def parse(data: t.Any, name: str) -> Scenario:
    """Check a scenario's structure (loaded YAML) and return it; :class:`ScenarioError` if bad."""
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise ScenarioError(f"{name}: a scenario is a mapping with a list of 'steps'.")
    unknown = set(data) - {"title", "description", "people", "steps", "expect"}
    if unknown:
        raise ScenarioError(f"{name}: unknown key(s) {', '.join(sorted(unknown))}.")
    people = data.get("people") or {}
    if not isinstance(people, dict):
        raise ScenarioError(f"{name}: 'people' maps set names to {{count, email}}.")
    for set_name, spec in people.items():
        if not (
            isinstance(spec, dict)
            and set(spec) == {"count", "email"}
            and isinstance(spec["count"], int)
            and 0 < spec["count"] <= 10_000
            and isinstance(spec["email"], str)
            and "{n" in spec["email"]
        ):
            raise ScenarioError(
                f"{name}: people set {set_name!r} needs count (1-10000) and an email with {{n}}."
            )
    steps: list[tuple[str, t.Any]] = []
    for number, step in enumerate(data["steps"], 1):
        if not (isinstance(step, dict) and len(step) == 1):
            raise ScenarioError(f"{name}, step {number}: one action per step, as 'action: ...'.")
        ((action, args),) = step.items()
        if action not in _ACTIONS:
            raise ScenarioError(
                f"{name}, step {number}: unknown action {action!r}; "
                f"the actions are {', '.join(sorted(_ACTIONS))}."
            )
        if isinstance(args, dict):
            extra = set(args) - _KEYS.get(action, set())
            missing = _REQUIRED.get(action, set()) - set(args)
            if extra or missing:
                raise ScenarioError(
                    f"{name}, step {number} ({action}): "
                    + "; ".join(
                        part
                        for part in (
                            extra and f"unknown key(s) {', '.join(sorted(extra))}",
                            missing and f"missing {', '.join(sorted(missing))}",
                        )
                        if part
                    )
                )
        elif action in _REQUIRED or args is None:
            raise ScenarioError(f"{name}, step {number} ({action}): give its keys as a mapping.")
        steps.append((action, args))
    expect = data.get("expect") or {}
    if not isinstance(expect, dict) or set(expect) - _EXPECT:
        raise ScenarioError(f"{name}: 'expect' takes {', '.join(sorted(_EXPECT))}.")
    referenced = {ref[1:] for ref in _strings([steps, expect]) if ref.startswith("@")} - set(people)
    if referenced:
        raise ScenarioError(
            f"{name}: no people set {', '.join('@' + r for r in sorted(referenced))}."
        )
    return Scenario(
        name=name,
        title=str(data.get("title") or name),
        description=str(data.get("description") or "").strip(),
        people=people,
        steps=steps,
        expect=expect,
    )


def _strings(value: t.Any) -> t.Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def check_expectations(
    scenario: Scenario, directory: t.Any, organization: t.Any, domain: str
) -> list[str]:
    """What differs from the scenario's ``expect``, one sentence each (empty: all as expected).

    Reads ``directory`` (the application's own state, not its SCIM API).
    """
    problems: list[str] = []
    expect = scenario.expect
    teams = {team.name: team for team in directory.teams(organization)}
    for team_name, members in (expect.get("teams") or {}).items():
        team = teams.get(team_name)
        if team is None:
            problems.append(f"There is no team {team_name!r}.")
            continue
        got = {a.email.lower() for a in directory.team_members(team)}
        want = {e.lower() for e in scenario.emails(members or [], domain)}
        if got != want:
            detail = []
            if want - got:
                detail.append(f"missing {', '.join(sorted(want - got))}")
            if got - want:
                detail.append(f"unexpected {', '.join(sorted(got - want))}")
            problems.append(f"Team {team_name!r}: {'; '.join(detail)}.")
    for team_name in expect.get("no_teams") or []:
        if team_name in teams:
            problems.append(f"The team {team_name!r} should not exist.")
    members = {account.email.lower(): account for account, _role in directory.members(organization)}
    for email in scenario.emails(expect.get("members") or [], domain):
        account = members.get(email.lower())
        if account is None:
            problems.append(f"{email} should be a member of the organization.")
        elif directory.is_disabled(account):
            problems.append(f"{email} should not be disabled.")
    for email in scenario.emails(expect.get("not_members") or [], domain):
        if email.lower() in members:
            problems.append(f"{email} should not be a member of the organization.")
    if "held" in expect and bool(expect["held"]) != directory.is_held(organization):
        problems.append(
            "The guard should hold destructive changes."
            if expect["held"]
            else "The guard should not hold destructive changes."
        )
    return problems
