"""The policies: the built-in one (`netflix-2025`, every rule at its default severity) and the
custom ones a TOML policy file makes by changing its severities; their names, what they changed,
and the digest a finalized deliverable records.

Pure: no database, no terminal.
"""

from __future__ import annotations

import hashlib
import json
import sys
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from provenance.errors import ProvenanceError
from provenance.paths import PathArg, as_path
from provenance.policy.rules import RULES, Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "BUILT_IN_NAME",
    "DEFAULT_POLICY",
    "POLICY_KEYS",
    "POLICY_NAME_CHARS",
    "Policy",
    "PolicyChange",
    "load_policy",
    "name_problem",
    "policy_changes",
]


BUILT_IN_NAME = "netflix-2025"
"""The one built-in policy: every rule at its default severity."""

POLICY_NAME_CHARS = 100
"""Longest name a policy file may give itself."""

POLICY_KEYS = ("name", "extends", "rules")
"""What a policy file may hold at its top level."""


class PolicyChange(NamedTuple):
    """A rule whose severity a custom policy changed from the built-in it extends."""

    rule: str
    built_in: Severity
    severity: Severity

    @property
    def relaxed(self) -> bool:
        """It blocks less than the built-in (block to warn or off, warn to off)."""
        return _STRICTNESS[self.severity] < _STRICTNESS[self.built_in]


_STRICTNESS = {Severity.OFF: 0, Severity.WARN: 1, Severity.BLOCK: 2}


@dataclass(frozen=True)
class Policy:
    """The severities in force: the built-in policy, or a custom one that `extends` it.

    A custom policy can never pass as the built-in one: built-in names are reserved, and it is
    shown everywhere (sweep, finalize, manifest, `policy show`, the deliverable's record) as
    custom, with the built-in it derives from and every rule it changed."""

    name: str
    severities: Mapping[str, Severity]
    source: str = "built-in"
    extends: str | None = None
    """The built-in policy a custom one derives from; None for the built-in policy itself."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.severities) - set(RULES))
        if unknown:
            raise ProvenanceError(f"{', '.join(unknown)}: not a rule of this version.")
        if self.extends is None:
            if self.name != BUILT_IN_NAME or self.changes:
                raise ProvenanceError(
                    f"Only the built-in policy is named without `extends`: a policy that "
                    f"changes severities extends {BUILT_IN_NAME!r} under a name of its own."
                )
            return
        if self.extends != BUILT_IN_NAME:
            raise ProvenanceError(
                f"A policy extends a built-in policy; the only one is {BUILT_IN_NAME!r}, not "
                f"{self.extends!r}."
            )
        problem = name_problem(self.name)
        if problem is not None:
            raise ProvenanceError(f"The policy's name {self.name!r} {problem}.")

    def severity(self, rule_id: str) -> Severity:
        return self.severities.get(rule_id, RULES[rule_id].default)

    @property
    def custom(self) -> bool:
        return self.extends is not None

    @property
    def changes(self) -> tuple[PolicyChange, ...]:
        """The rules whose severity differs from the built-in's, in rule order."""
        return tuple(
            PolicyChange(rule_id, rule.default, self.severity(rule_id))
            for rule_id, rule in RULES.items()
            if self.severity(rule_id) is not rule.default
        )

    @property
    def label(self) -> str:
        """The policy as people read it: a custom one says so, and what it changed."""
        if not self.custom:
            return self.name
        changed = ", ".join(f"{c.rule} {c.severity.value}" for c in self.changes)
        return f"{self.name} (custom, from {self.extends}: {changed or 'no rule changed'})"

    @property
    def record_name(self) -> str:
        """The name a finalized deliverable records (at most 200 characters)."""
        return self.name if not self.custom else f"{self.name} (custom, from {self.extends})"

    @property
    def digest(self) -> str:
        """Identifies the exact rules in force, for the record of a finalized deliverable."""
        body: dict[str, Any] = {
            "name": self.name,
            "rules": {r: self.severity(r).value for r in sorted(RULES)},
        }
        if self.custom:
            body["extends"] = self.extends
        body_text = json.dumps(body, sort_keys=True)
        return "sha256:" + hashlib.sha256(body_text.encode()).hexdigest()

    def document(self) -> dict[str, Any]:
        """What a manifest, a finalize event and `--json` say about the policy."""
        return {
            "name": self.name,
            "digest": self.digest,
            "custom": self.custom,
            "extends": self.extends,
            "changes": [
                {"rule": c.rule, "severity": c.severity.value, "built_in": c.built_in.value}
                for c in self.changes
            ],
        }


DEFAULT_POLICY = Policy(BUILT_IN_NAME, {rule_id: rule.default for rule_id, rule in RULES.items()})


def _reserved_key(name: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKC", name).casefold() if c.isalnum())


def name_problem(name: object) -> str | None:
    """Why `name` cannot name a custom policy, or None."""
    if not isinstance(name, str):
        return f"must be a string, not {_toml_type(name)}"
    if not name.strip():
        return "is empty"
    if name != name.strip() or any(not c.isprintable() for c in name):
        return "holds spaces at its ends or characters that do not print"
    if len(name) > POLICY_NAME_CHARS:
        return f"is longer than {POLICY_NAME_CHARS} characters"
    if _reserved_key(name) == _reserved_key(BUILT_IN_NAME):
        return "is reserved for the built-in policy (a policy file makes a custom policy)"
    return None


def _toml_type(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "a table"}
    return names.get(type(value), f"a {type(value).__name__}")


def policy_changes(policy: Policy) -> dict[str, Severity]:
    """Where a policy differs from the built-in one: rule id -> its severity there (empty for
    the built-in policy). What a report and a finalize record say of a custom policy."""
    return {
        rule_id: policy.severity(rule_id)
        for rule_id in RULES
        if policy.severity(rule_id) is not DEFAULT_POLICY.severity(rule_id)
    }


def load_policy(path: PathArg | None) -> Policy:
    """The built-in policy (`path` None), or a TOML file that changes its severities: a custom
    policy, named apart from the built-in one.

    ```toml
    name = "studio-x"
    extends = "netflix-2025"   # optional: the only built-in policy
    [rules]
    origin-disputed = "warn"
    frames-missing = "off"
    ```
    """
    if path is None:
        return DEFAULT_POLICY
    path = as_path(path, "the policy file")
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProvenanceError(f"Policy file {path} does not exist. Check the path.") from None
    except OSError as exc:
        raise ProvenanceError(f"Cannot read the policy file {path} ({exc.strerror}).") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProvenanceError(
            f"Policy file {path} is not valid TOML ({exc}). Fix the file."
        ) from None
    settings = [key for key in document if key not in POLICY_KEYS]
    if settings:
        misplaced = [k for k in settings if k in RULES]
        hint = f" Rules go under [rules] ({', '.join(misplaced)})." if misplaced else ""
        raise ProvenanceError(
            f"In {path}, {', '.join(map(repr, settings))}: not a policy setting; a policy file "
            f"holds {', '.join(POLICY_KEYS)}.{hint}"
        )
    base = document.get("extends", BUILT_IN_NAME)
    if base != BUILT_IN_NAME:
        what = repr(base) if isinstance(base, str) else _toml_type(base)
        raise ProvenanceError(
            f"In {path}, extends = {what}: a policy extends a built-in policy, and the only "
            f"built-in policy is {BUILT_IN_NAME!r} (extends = {BUILT_IN_NAME!r}, or leave it out)."
        )
    rules = document.get("rules", {})
    if not isinstance(rules, dict):
        raise ProvenanceError(f"In {path}, [rules] must be a table of rule = severity.")
    severities = dict(DEFAULT_POLICY.severities)
    for rule_id, value in rules.items():
        if rule_id not in RULES:
            raise ProvenanceError(
                f"In {path}, {rule_id!r} is not a rule. Rules: {', '.join(sorted(RULES))} "
                "(`provenance policy show` lists them)."
            )
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            severities[rule_id] = Severity(value.lower())
        except ValueError:
            raise ProvenanceError(
                f"In {path}, {rule_id} = {value!r}: a severity is block, warn or off, as a "
                f'quoted string ({rule_id} = "warn").'
            ) from None
    name = document.get("name", path.stem)
    problem = name_problem(name)
    if problem is not None:
        if "name" not in document:
            where = f"the policy is named for the file, {name!r}, which"
        elif isinstance(name, str):
            where = f"name = {name!r}"
        else:
            where = "name"
        raise ProvenanceError(
            f'In {path}, {where} {problem}. Give the policy a name of its own: name = "studio-x".'
        )
    return Policy(name, severities, source=str(path), extends=BUILT_IN_NAME)
