"""The delivery gate: sweep, finalize, verify; approvals, consent and policy."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from provenance.cli import EXIT_FINDINGS, Context, json_option, pass_context
from provenance.cli.audit import CHECKPOINTS_OPTION, KEY_OPTION
from provenance.cli.render import consent_json, echo, emit_json, shown
from provenance.cli.render_delivery import (
    approval_json,
    finalize_json,
    manifest_json,
    manifest_text,
    policy_json,
    policy_text,
    sweep_json,
    sweep_text,
    verify_json,
    verify_text,
)
from provenance.cli.write import ProgressLine

from provenance import schemas
from provenance.policy import load_policy

__all__ = [
    "POLICY_OPTION",
    "approve",
    "consent",
    "finalize",
    "manifest",
    "policy",
    "sweep",
    "verify",
]


STRONG_OPTION = click.option(
    "--strong",
    type=click.Choice(["sha256", "blake3"]),
    help="Also record a collision-resistant digest (SHA-256, or BLAKE3), computed in the same "
    "read as xxh3-128 (docs/auditor.md says what each protects against).",
)
POLICY_OPTION = click.option(
    "--policy",
    "policy_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A TOML file that changes rule severities (default: the netflix-2025 policy).",
)


@click.command()
@click.argument("delivery", type=click.Path(path_type=str))
@POLICY_OPTION
@json_option
@pass_context
def sweep(obj: Context, delivery: str, policy_file: Path | None, as_json: bool) -> None:
    """Every finding about a delivery, for TDs before they finalize; records nothing.

    DELIVERY is a folder, a path list (.txt), a CSV pull list (only FINAL rows), an .otio
    timeline, or one media file. Exit 0 when clean, 3 when there are findings.
    """
    policy = load_policy(policy_file)
    progress = ProgressLine(enabled=not as_json and sys.stderr.isatty())
    with obj.open() as ledger:
        try:
            report = ledger.sweep(delivery, policy=policy, progress=progress)
        finally:
            progress.finish()
    if as_json:
        emit_json(schemas.SWEEP_REPORT, sweep_json(report))
    else:
        for line in sweep_text(report):
            echo(line)
    if not report.verdict.clean:
        sys.exit(EXIT_FINDINGS)


def _deliverable_name(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """A usage error (exit 2), not a refusal: `--name ''` or `--name ' '` names nothing."""
    if not value.strip():
        raise click.BadParameter("give the deliverable a name, e.g. --name EP101_VFX_v003.")
    return value


@click.command()
@click.argument("delivery", type=click.Path(path_type=str))
@click.option(
    "--name",
    required=True,
    callback=_deliverable_name,
    help="The deliverable's name, e.g. EP101_VFX_v003.",
)
@POLICY_OPTION
@KEY_OPTION
@CHECKPOINTS_OPTION
@STRONG_OPTION
@json_option
@pass_context
def finalize(
    obj: Context,
    delivery: str,
    name: str,
    policy_file: Path | None,
    key: Path | None,
    checkpoints: Path | None,
    strong: str | None,
    as_json: bool,
) -> None:
    """Mark a delivery final, only if nothing blocks; write provenance-manifest.json beside it.

    Refused while `provenance audit verify` fails. The manifest carries a signed checkpoint
    of the log at that moment. The same checks as `sweep`. A refusal records only the refusal (exit 3); a success records
    every file with its digest and asset, the verdict and the policy, in one transaction.
    """
    policy = load_policy(policy_file)
    progress = ProgressLine(enabled=not as_json and sys.stderr.isatty())
    with obj.open() as ledger:
        try:
            report = ledger.finalize(
                delivery,
                name,
                policy=policy,
                progress=progress,
                key=key,
                checkpoints=checkpoints,
                strong=strong,
            )
        finally:
            progress.finish()
    if as_json:
        emit_json(schemas.FINALIZE_REPORT, finalize_json(report))
    else:
        for line in sweep_text(report):
            echo(line)
    if not report.finalized:
        sys.exit(EXIT_FINDINGS)


@click.command()
@click.argument("name")
@click.argument("delivery", required=False, type=click.Path(path_type=str))
@click.option(
    "--quick",
    is_flag=True,
    help="Trust the stat cache: a file whose size, times and inode have not moved since it "
    "was last read is taken as unchanged, unread (and the report says so).",
)
@json_option
@pass_context
def verify(obj: Context, name: str, delivery: str | None, quick: bool, as_json: bool) -> None:
    """Does a delivery still match what was finalized as NAME? Exit 3 if anything moved.

    DELIVERY defaults to the folder or list that was finalized. Every file is read (the stat
    cache is a cache that any writer of the ledger could forge), unless --quick. A missing
    manifest (a finalize killed after its commit) is a difference too: `provenance manifest
    write NAME` writes it again.
    """
    with obj.open() as ledger:
        report = ledger.verify(name, delivery, quick=quick)
    if as_json:
        emit_json(schemas.VERIFY_REPORT, verify_json(report))
    else:
        for line in verify_text(report):
            echo(line)
    if not report.ok:
        sys.exit(EXIT_FINDINGS)


@click.group()
def manifest() -> None:
    """The manifest beside a finalized delivery."""


@manifest.command("write")
@click.argument("name")
@click.argument("delivery", required=False, type=click.Path(path_type=str))
@CHECKPOINTS_OPTION
@json_option
@pass_context
def manifest_write(
    obj: Context, name: str, delivery: str | None, checkpoints: Path | None, as_json: bool
) -> None:
    """Write NAME's manifest again, byte for byte as finalized, and keep its checkpoint again.

    For a finalize that was killed (or failed) after it marked NAME final: `finalize` again
    says "already final", `verify` says the manifest is missing. DELIVERY defaults to the
    folder or list that was finalized (give a copy to write the manifest into it). Records
    nothing; removes the leftovers of interrupted finalizes.
    """
    with obj.open() as ledger:
        report = ledger.write_manifest(name, delivery, checkpoints=checkpoints)
    if as_json:
        emit_json(schemas.MANIFEST_WRITE, manifest_json(report))
        return
    for line in manifest_text(report):
        echo(line)


@click.command()
@click.argument("target")
@click.option("--ref", required=True, help='Where it is on record: "NFX-1234 email 2026-11-20".')
@click.option("--by", required=True, help='Who approved it: "jane (Netflix VFX)".')
@click.option("--note", help="What the approval covers, in its own words.")
@click.option(
    "--covers-tool-risk",
    is_flag=True,
    help="The approval explicitly accepts a generative tool that trains on inputs or is not "
    "in a secured environment.",
)
@STRONG_OPTION
@json_option
@pass_context
def approve(
    obj: Context,
    target: str,
    ref: str,
    by: str,
    note: str | None,
    covers_tool_risk: bool,
    strong: str | None,
    as_json: bool,
) -> None:
    """Record a written approval for exactly TARGET's current bytes (new bytes need a new one).

    With --strong, TARGET's files are read where they were recorded and the approval also
    binds their SHA-256 (or BLAKE3): `finalize --strong` then refuses a delivered file that
    shares the approved bytes' xxh3-128 but not their strong digest."""
    with obj.open() as ledger:
        approval = ledger.approve(
            target, ref, by, note=note, covers_tool_risk=covers_tool_risk, strong=strong
        )
    if as_json:
        emit_json(schemas.APPROVAL, approval_json(approval))
        return
    scope = " (covers tool risk)" if approval.covers_tool_risk else ""
    echo(
        f"Approved {shown(approval.asset.name)} v{approval.asset.version} ({approval.asset.digest}): "
        f"{approval.ref}, by {approval.approved_by}{scope}"
    )
    if approval.strong_digest:
        echo(f"  bound to {approval.strong_digest}")


@click.group()
def consent() -> None:
    """Performer consent records (digital doubles, likeness, altered performances)."""


@consent.command("add")
@click.argument("performer")
@click.option("--scope", required=True, help='What it covers: "S01 digital double, ep 1-3".')
@click.option("--ref", required=True, help='Where it is on record: "SAG consent form 88".')
@json_option
@pass_context
def consent_add(obj: Context, performer: str, scope: str, ref: str, as_json: bool) -> None:
    """Record a performer's consent."""
    with obj.open() as ledger:
        record = ledger.add_consent(performer, scope, ref)
    if as_json:
        emit_json(schemas.CONSENT, consent_json(record))
        return
    echo(f"Consent recorded for {record.performer}: {record.scope} ({record.ref})")


@consent.command("list")
@json_option
@pass_context
def consent_list(obj: Context, as_json: bool) -> None:
    """Every consent on record."""
    with obj.open() as ledger:
        records = ledger.consents()
    if as_json:
        emit_json(schemas.CONSENTS, {"consents": [consent_json(c) for c in records]})
        return
    if not records:
        echo('No consents recorded. Add one with `provenance consent add "NAME" ...`.')
    for record in records:
        echo(f"{record.performer}: {record.scope} ({record.ref})")


@click.group()
def policy() -> None:
    """The delivery policy: rules, their ids and severities."""


@policy.command("show")
@POLICY_OPTION
@json_option
def policy_show(policy_file: Path | None, as_json: bool) -> None:
    """The rules in force, their ids, severities and the guideline each comes from."""
    loaded = load_policy(policy_file)
    if as_json:
        emit_json(schemas.POLICY, policy_json(loaded))
        return
    for line in policy_text(loaded):
        echo(line)
