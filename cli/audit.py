"""`provenance audit checkpoint|verify|export|keys`: the tamper-evident log, for auditors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from provenance.cli import EXIT_FINDINGS, Context, json_option, pass_context
from provenance.cli.render import count, echo, emit_json, human_bytes
from provenance.cli.render_audit import audit_difference_json, audit_problem_text

from provenance import schemas

if TYPE_CHECKING:
    # (cryptography is loaded by the commands that sign or check, not by every command that
    # shares these options: see tests/cli/test_startup.py)
    from provenance.keys import KeyChange, TrustedKey, TrustedKeys

__all__ = ["CHECKPOINTS_OPTION", "KEY_OPTION", "audit"]


KEY_OPTION = click.option(
    "--key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Ed25519 checkpoint key to sign with (PEM), one the ledger trusts (`audit keys`). "
    "Default: $PROVENANCE_CHECKPOINT_KEY, else checkpoint-ed25519.pem in your config folder "
    "(~/.config/provenance), made there on first use only for a ledger that trusts no key yet.",
)
CHECKPOINTS_OPTION = click.option(
    "--checkpoints",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder of checkpoints. Default: $PROVENANCE_CHECKPOINTS, else .provenance/checkpoints "
    "beside a SQLite ledger, else ~/.local/share/provenance/checkpoints/DATABASE.",
)


@click.group()
def audit() -> None:
    """Prove that nobody rewrote the ledger's history."""


@audit.command()
@KEY_OPTION
@CHECKPOINTS_OPTION
@json_option
@pass_context
def checkpoint(obj: Context, key: Path | None, checkpoints: Path | None, as_json: bool) -> None:
    """Sign the log's size and Merkle root (RFC 9162) and keep it outside the database.

    Keep checkpoints (or copies) where the database's owner cannot rewrite them: a later log
    that does not extend a checkpoint is caught by `audit verify`.
    """
    with obj.open() as ledger:
        path, document = ledger.checkpoint(key, checkpoints)
    if as_json:
        emit_json(schemas.CHECKPOINT_WRITTEN, {"path": str(path), "checkpoint": document})
        return
    echo(f"checkpoint of {document['size']} events, root {document['root']}")
    echo(f"  written to {path}")


@audit.command()
@click.option(
    "--key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Trust only this checkpoint key (PEM, either half), as the studio's pin: the ledger's "
    "own trusted keys must agree. Default: $PROVENANCE_TRUSTED_KEYS, else the keys the ledger "
    "pins in its history.",
)
@CHECKPOINTS_OPTION
@json_option
@pass_context
def verify(obj: Context, key: Path | None, checkpoints: Path | None, as_json: bool) -> None:
    """Recompute the hash chain, compare the state rebuilt from the events with the tables,
    check the key events, and prove each stored checkpoint consistent with the log and signed
    by a key the ledger trusts.

    Exit 0 when history verifies, 3 when it was edited, truncated or rewritten, or a
    checkpoint is not one, or not signed by a trusted key.
    """
    from provenance.audit.differences import differing_rows

    with obj.open() as ledger:
        report = ledger.audit_verify(key, checkpoints)
    if as_json:
        emit_json(
            schemas.AUDIT_REPORT,
            {
                "ok": report.ok,
                "events": report.size,
                "root": report.root,
                "ledger": report.ledger_id,
                "seconds": round(report.seconds, 3),
                "problems": [audit_problem_text(problem) for problem in report.problems],
                "differences": [
                    audit_difference_json(difference)
                    for difference in differing_rows(report.problems)
                ],
                "notes": report.notes,
                "keys": [_key_json(k) for k in report.keys.keys.values()],
                "checkpoints": [
                    {
                        "path": str(c.path),
                        "size": c.size,
                        "at": c.at,
                        "checked": c.checked,
                        "key": c.key,
                        "problem": c.problem,
                    }
                    for c in report.checkpoints
                ],
            },
        )
    else:
        for problem in report.problems:
            echo(f"TAMPERED {audit_problem_text(problem)}")
        for note in report.notes:
            echo(f"note: {note}")
        good = sum(1 for c in report.checkpoints if c.problem is None)
        state = "verifies" if report.ok else "DOES NOT verify"
        echo(
            f"{report.size} events, root {report.root}: history {state} "
            f"({good} of {len(report.checkpoints)} checkpoints consistent, {report.seconds:.2f} s)"
        )
        if not report.checkpoints:
            echo("No checkpoints yet: `provenance audit checkpoint` makes one.")
    if not report.ok:
        sys.exit(EXIT_FINDINGS)


@audit.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file instead of standard output.",
)
@pass_context
def export(obj: Context, output: Path | None) -> None:
    """Every event as JSON Lines ("schema": "Event.1"), oldest first, for an auditor's tools.

    Each event's payload carries the rows it wrote ("rows"); of a table of more than 1,000 rows,
    their count and digest, with the rows beside the payload ("digested_rows"): the ledger's
    state can be rebuilt from the export alone.
    """
    events = written = 0
    with obj.open() as ledger:
        stream = output.open("w", encoding="utf-8") if output else sys.stdout
        try:
            for document in ledger.export_events():
                line = json.dumps(document, ensure_ascii=False) + "\n"
                stream.write(line)
                events += 1
                written += len(line.encode("utf-8"))
        finally:
            if output:
                stream.close()
    # What was written, where a person sees it: beside the file, or on stderr when the events
    # themselves go to standard output.
    where = str(output) if output else "standard output"
    echo(f"Exported {count(events, 'event')} ({human_bytes(written)}) to {where}.", err=not output)


SIGNER_OPTION = click.option(
    "--key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The private key (PEM) that signs the change: one the ledger trusts (for the first "
    "key, the key itself). Default: $PROVENANCE_CHECKPOINT_KEY, else checkpoint-ed25519.pem in "
    "your config folder.",
)


@audit.group(invoke_without_command=True)
@click.option(
    "--key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The key to check against the trusted ones. Default: $PROVENANCE_CHECKPOINT_KEY, else "
    "checkpoint-ed25519.pem in your config folder.",
)
@json_option
@pass_context
@click.pass_context
def keys(ctx: click.Context, obj: Context, key: Path | None, as_json: bool) -> None:
    """The checkpoint keys the ledger trusts (without a subcommand: list them).

    Only checkpoints signed by a trusted key vouch for history; a checkpoint by any other key
    is a problem for `audit verify` and refuses `finalize`. The first key is pinned by the first
    `audit checkpoint` or `finalize` (or `audit keys add`); every later change is an event signed
    by a key already trusted. Exit 3 when a key event does not hold.
    """
    if ctx.invoked_subcommand is not None:
        return
    with obj.open() as ledger:
        found = ledger.keys(key)
    if as_json:
        emit_json(
            schemas.TRUSTED_KEYS,
            {
                "keys": [_key_json(k) for k in found.keys],
                "problems": found.problems,
                "pins": (
                    {"source": found.pins.source, "keys": sorted(found.pins.keys)}
                    if found.pins
                    else None
                ),
                "signing_key": {
                    "path": str(found.signing_path),
                    "public_key": found.signing_key,
                    "problem": found.signing_problem,
                },
            },
        )
    else:
        for line in keys_text(found):
            echo(line)
    if found.problems:
        sys.exit(EXIT_FINDINGS)


@keys.command("add")
@click.argument("public_key", required=False)
@SIGNER_OPTION
@json_option
@pass_context
def keys_add(obj: Context, public_key: str | None, key: Path | None, as_json: bool) -> None:
    """Trust another checkpoint key, on the signature of a trusted one (--key).

    PUBLIC_KEY is 64 hex digits (as `audit keys` lists keys) or a PEM file of either half. On
    a ledger that trusts no key yet, leave it out: the --key itself is pinned as the first.
    """
    with obj.open() as ledger:
        change = ledger.trust_key(public_key, key)
    _show_change(change, as_json)


@keys.command("retire")
@click.argument("fingerprint")
@SIGNER_OPTION
@json_option
@pass_context
def keys_retire(obj: Context, fingerprint: str, key: Path | None, as_json: bool) -> None:
    """Stop trusting a key (FINGERPRINT: 8 or more of its hex digits) from now on.

    Its checkpoints of the history before this change keep counting; any it signs later does
    not. Signed by a trusted key (--key); the last trusted key cannot be retired.
    """
    with obj.open() as ledger:
        change = ledger.retire_key(fingerprint, key)
    _show_change(change, as_json)


@keys.command("rotate")
@click.argument("public_key")
@SIGNER_OPTION
@json_option
@pass_context
def keys_rotate(obj: Context, public_key: str, key: Path | None, as_json: bool) -> None:
    """Trust PUBLIC_KEY and retire the key that signs (--key), in one event.

    PUBLIC_KEY is 64 hex digits or a PEM file of either half. Install the new private key where
    finalizes and checkpoints look for it ($PROVENANCE_CHECKPOINT_KEY) right after.
    """
    with obj.open() as ledger:
        change = ledger.rotate_key(public_key, key)
    _show_change(change, as_json)


def keys_text(found: TrustedKeys) -> list[str]:
    from provenance.keys import fingerprint

    lines = []
    for key in found.keys:
        state = "retired" if key.retired_by is not None else "trusted"
        origin = (
            "pinned first, signed by itself"
            if key.signed_by == key.public_key
            else f"added on the signature of {fingerprint(key.signed_by)}"
        )
        since = f"since event #{key.added_by} ({origin})"
        if key.retired_by is not None:
            since += (
                f", retired by event #{key.retired_by}: vouches for checkpoints of fewer than "
                f"{key.retired_at} events"
            )
        lines.append(f"{state}  {key.public_key}  {since}")
    if not found.keys:
        lines.append(
            "This ledger trusts no checkpoint key yet: the first `provenance audit checkpoint` "
            "or `finalize` pins its key (or `provenance audit keys add --key KEY`)."
        )
    if found.pins is not None:
        listed = ", ".join(fingerprint(k) for k in sorted(found.pins.keys))
        lines.append(f"studio's pin, {found.pins.source}: {listed}")
    signing = found.signing_key
    shown = fingerprint(signing) if signing else "-"
    verdict = found.signing_problem or "trusted: it signs checkpoints here"
    lines.append(f"your key {found.signing_path}: {shown}, {verdict}")
    lines += [f"PROBLEM {problem}" for problem in found.problems]
    return lines


def _key_json(key: TrustedKey) -> dict[str, object]:
    return {
        "public_key": key.public_key,
        "fingerprint": key.fingerprint,
        "added_by_event": key.added_by,
        "signed_by": key.signed_by,
        "retired_by_event": key.retired_by,
        "retired_at": key.retired_at,
    }


def _show_change(change: KeyChange, as_json: bool) -> None:
    from provenance.keys import fingerprint

    if as_json:
        emit_json(
            schemas.KEY_CHANGE_REPORT,
            {
                "kind": change.kind,
                "event": {"id": change.event_id, "hash": change.event_hash},
                "trusted": change.trusted,
                "retired": change.retired,
                "signed_by": change.signed_by,
            },
        )
        return
    for public in change.trusted:
        echo(f"trusted {public}")
    for public in change.retired:
        echo(f"retired {public}")
    echo(f"  event #{change.event_id} ({change.kind}), signed by {fingerprint(change.signed_by)}")
