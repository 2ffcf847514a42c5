"""Check a finalized deliverable's checkpoint against the ledger's exported events.

Needs only Python 3.10+ and `cryptography`, not provenance. Give it the events
(`provenance audit export -o events.jsonl`), the deliverable's manifest, and the studio's
checkpoint key: the PEM file, or its public key as 64 hex digits.

    python verify_export.py events.jsonl provenance-manifest.json checkpoint-ed25519.pem

Exit 0 when everything holds, 3 when something does not (each problem is printed).
It also shows how to rebuild the ledger's state from the events alone (`rebuild`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import posixpath
import sys
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

GENESIS = "sha256:" + "0" * 64


def compact(value: Any, ascii_only: bool = False) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=ascii_only)


def event_hash(event: dict[str, Any]) -> str:
    """SHA-256 of the canonical form that provenance/store/events.py hashes."""
    at = dt.datetime.fromisoformat(event["at"]).astimezone(dt.timezone.utc)
    canonical = {
        "kind": event["kind"],
        "actor": event["actor"],
        "host": event["host"],
        "at": at.isoformat(),
        "payload": compact(event["payload"]),  # the payload is hashed as this JSON text
        "prev": event["prev_hash"],
    }
    return "sha256:" + hashlib.sha256(compact(canonical).encode("utf-8")).hexdigest()


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 2.1.1: the Merkle Tree Hash over leaf hashes."""
    if not leaves:
        return hashlib.sha256().digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)  # the largest power of two below the size
    return hashlib.sha256(b"\x01" + merkle_root(leaves[:k]) + merkle_root(leaves[k:])).digest()


def rows_digest(rows: list[list[Any]]) -> str:
    return "sha256:" + hashlib.sha256(compact(rows).encode("utf-8")).hexdigest()


def rebuild(events: list[dict[str, Any]], found: list[str]) -> dict[str, list[list[Any]]]:
    """The history tables as the events record them (`Rows.1` and `Rows.2`, see
    docs/auditor.md): each row with the id of its event first. A tool's or a root's row is the
    last one recorded for its id. A table an event committed to by count and digest is taken
    from the rows exported beside it, which must match them."""
    state: dict[str, list[list[Any]]] = {}
    latest: dict[str, dict[int, list[Any]]] = {"tools": {}, "roots": {}}
    for event in events:
        for table, rows in event["payload"].get("rows", {}).items():
            if isinstance(rows, dict):  # {"rows": count, "sha256": digest}
                committed = rows
                rows = event.get("digested_rows", {}).get(table, [])
                if [len(rows), rows_digest(rows)] != [committed["rows"], committed["sha256"]]:
                    found.append(
                        f"the {table} exported with event #{event['id']} do not match its digest"
                    )
            if table in latest:  # rows that change: filed under the event that took them
                latest[table].update((row[0], [row[1], *row]) for row in rows)
            elif isinstance(rows, list):  # not "schema", nor a digest of child rows
                state.setdefault(table, []).extend([event["id"], *row] for row in rows)
    state.update((table, list(rows.values())) for table, rows in latest.items())
    return state


def trusted_key(key: str) -> Ed25519PublicKey:
    """The studio's checkpoint key: a PEM file (private or public) or 64 hex digits."""
    if not Path(key).is_file():
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(key))
    pem = Path(key).read_bytes()
    if b"PRIVATE KEY" in pem:
        loaded: Any = serialization.load_pem_private_key(pem, password=None).public_key()
    else:
        loaded = serialization.load_pem_public_key(pem)
    assert isinstance(loaded, Ed25519PublicKey), f"{key} is not an Ed25519 key"
    return loaded


def problems(events_file: str, manifest_file: str, key: str) -> list[str]:
    found = []
    manifest = json.loads(Path(manifest_file).read_text(encoding="utf-8"))
    checkpoint = manifest["checkpoint"]
    # 1. The checkpoint is signed by the studio's key (not just by the key it names).
    public = trusted_key(key)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if checkpoint["public_key"] != raw.hex():
        found.append("the checkpoint names another public key than the studio's")
    signed = {name: value for name, value in checkpoint.items() if name != "signature"}
    try:
        public.verify(bytes.fromhex(checkpoint["signature"]), compact(signed, True).encode())
    except (InvalidSignature, ValueError):
        found.append("the checkpoint's signature does not verify with the studio's key")
    # 2. Every exported event matches its hash and follows the one before it.
    lines = Path(events_file).read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines if line.strip()]
    previous = GENESIS
    for event in events:
        if event["prev_hash"] != previous:
            found.append(f"event #{event['id']} does not follow the event before it")
        if event_hash(event) != event["hash"]:
            found.append(f"event #{event['id']} ({event['kind']}) does not match its hash")
        previous = event["hash"]
    # 3. The first `size` events (by position: ids may skip numbers) give the signed root.
    size = checkpoint["size"]
    first = events[:size]
    if len(first) < size:
        found.append(f"the export holds {len(events)} events, the checkpoint signed {size}")
    elif first[0]["hash"] != checkpoint["ledger"]:
        found.append("the export's first event is not the ledger the checkpoint names")
    leaves = [hashlib.sha256(b"\x00" + e["hash"].encode("utf-8")).digest() for e in first]
    if merkle_root(leaves).hex() != checkpoint["root"]:
        found.append(f"the Merkle root of the first {size} events is not the signed root")
    # 4. The finalize event the manifest names is one of them.
    named = manifest["ledger_event"]
    matches = [e for e in first if e["id"] == named["id"] and e["hash"] == named["hash"]]
    if not matches or matches[0]["payload"].get("name") != manifest["name"]:
        found.append(f"event #{named['id']} is not the finalize of {manifest['name']}")
        return found
    # 5. That event recorded exactly the manifest's files: the SHA-256 of its deliverable's file
    #    rows [deliverable id, position, path, digest, size, asset version id, frame].
    recorded = matches[0]["payload"].get("rows", {})
    if "deliverables" not in recorded:
        return found  # written before row commitments: the event names no files
    deliverable_id, name, *_, policy_digest, file_count, _warnings = recorded["deliverables"][0]
    tables = rebuild(first, found)
    versions = {
        (posixpath.join(root, pattern), number): version_id
        for _event, version_id, root, pattern, _kind, number, *_ in tables["asset_versions"]
    }
    files = [
        [deliverable_id, position, f["path"], f["digest"], f["size"],
         versions.get((f["asset"], f["version"])), f["frame"]]
        for position, f in enumerate(manifest["files"])
    ]  # fmt: skip
    if (name, policy_digest, file_count) != (
        manifest["name"], manifest["policy"]["digest"], len(manifest["files"])
    ) or rows_digest(files) != recorded["deliverable_files"]:  # fmt: skip
        found.append(f"event #{named['id']} did not record the files the manifest lists")
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__)
        return 2
    found = problems(*argv)
    for problem in found:
        print(f"FAILED {problem}")
    if not found:
        print(f"OK: {argv[1]} is in the history its checkpoint signed, and that history holds")
    return 3 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
