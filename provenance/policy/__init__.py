"""The delivery policy: facts about delivered files in, findings out (rule id, severity, why, fix).

Pure: no database, no terminal. The default policy, `netflix-2025`, encodes Netflix's 2025
guidance for production partners using generative AI; a TOML file can change severities.

This module is the policy's public home; its parts are:

- `rules`: the rule table (`RULES`: each `Rule` with its guideline and default `Severity`);
- `policies`: the built-in policy and custom ones (`Policy`, `DEFAULT_POLICY`, `load_policy`
  reading a TOML policy file, policy names, `policy_changes`);
- `findings`: what applying it gives (`Finding`, `Verdict`);
- `evaluation`: `evaluate`, and the builders that word each rule's findings.
"""

from __future__ import annotations

from provenance.policy.evaluation import evaluate
from provenance.policy.findings import Finding, Verdict
from provenance.policy.policies import (
    DEFAULT_POLICY,
    Policy,
    PolicyChange,
    load_policy,
    policy_changes,
)
from provenance.policy.rules import RULES, Rule, Severity

__all__ = [
    "DEFAULT_POLICY",
    "RULES",
    "Finding",
    "Policy",
    "PolicyChange",
    "Rule",
    "Severity",
    "Verdict",
    "evaluate",
    "load_policy",
    "policy_changes",
]
