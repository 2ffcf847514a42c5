"""What applying the policy gives: a `Finding` (rule, severity, asset, files, why, fix) and the
`Verdict` on a delivery (its findings, and what each delivered version answers for).

Pure: no database, no terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from provenance.obligations import Judged
from provenance.policy.policies import Policy
from provenance.policy.rules import Severity

__all__ = ["Finding", "Verdict"]


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    asset: str | None
    files: tuple[str, ...]
    message: str
    fix: str
    details: Mapping[str, Any] = field(default_factory=dict)
    """What the message says, as fields for scripts (`--json`): matched assets, versions,
    distances. Rule-specific; documented with each rule in docs/delivery.md."""

    @property
    def blocks(self) -> bool:
        return self.severity is Severity.BLOCK


@dataclass
class Verdict:
    policy: Policy
    files: int
    assets: int
    findings: list[Finding] = field(default_factory=list)
    judged: dict[int, Judged] = field(default_factory=dict)
    """What each delivered version answers for (what a manifest records of it)."""

    @property
    def blocked(self) -> bool:
        return any(f.blocks for f in self.findings)

    @property
    def clean(self) -> bool:
        return not any(f.severity is not Severity.OFF for f in self.findings)
