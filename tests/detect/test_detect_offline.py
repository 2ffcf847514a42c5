"""Reading never touches the network: ingest and sweep of files whose credentials point at hosts
(a CAWG identity assertion naming a did:web issuer, a remote manifest) give the same result, as
quickly, in a network namespace without network, and resolve no host name there.

The jail (tests/netjail.py) answers DNS on its loopback and records every query; a first run
with the C2PA SDK's default settings proves it sees the lookups a reader makes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from .. import netjail
from ..c2pa_fixtures import (
    ThrowawayCA,
    make_test_ca,
    write_cawg_identity,
    write_remote_manifest,
)
from ..netjail import Jail, command_env, offline_runs, run_command

DID_HOST = "identity.cawg-test.example"
REMOTE = "https://manifests.cawg-test.example/{name}.c2pa"

# What a reader with the SDK's own defaults does with the identity file: its DID is resolved.
_DEFAULT_READER = """
import io, sys, c2pa
with open(sys.argv[1], "rb") as f, c2pa.Reader("image/jpeg", f) as reader:
    reader.json()
"""


@pytest.fixture(scope="module")
def ca() -> ThrowawayCA:
    return make_test_ca()


@pytest.fixture(scope="module")
def show(tmp_path_factory: pytest.TempPathFactory, ca: ThrowawayCA) -> Path:
    """elements/ (to ingest) and delivery/ (never ingested: the sweep reads it) each hold a
    file with a CAWG identity assertion and a file whose only manifest is remote."""
    root = tmp_path_factory.mktemp("offline")
    for folder, version in (("elements", 1), ("delivery", 2)):
        write_cawg_identity(root / folder / f"sky_gen_v00{version}.jpg", ca, DID_HOST)
        name = f"matte_v00{version}"
        write_remote_manifest(root / folder / f"{name}.jpg", ca, REMOTE.format(name=name))
    return root


def _commands(db: Path) -> list[list[str]]:
    provenance = [sys.executable, "-m", "provenance", "--db", str(db)]
    return [
        [*provenance, "init"],
        [*provenance, "ingest", "elements", "--origin", "human", "--by", "vendor", "--json"],
        [*provenance, "sweep", ".", "--json"],
        [*provenance, "show", "elements/sky_gen_v001.jpg", "--json"],
        [*provenance, "show", "elements/matte_v001.jpg", "--json"],
    ]


def _outcome(jail: Jail) -> dict[str, Any]:
    """What the runs said, without times, event numbers or the ledger's own path."""
    init, ingest, sweep, *shows = jail.runs
    assert init.returncode == 0, init.stderr
    assert ingest.returncode == 0, ingest.stderr
    assert sweep.returncode == 3, sweep.stderr
    swept = json.loads(sweep.stdout)
    ingested = json.loads(ingest.stdout)
    return {
        "ingest": {k: ingested[k] for k in ("assets", "claims_added", "signals")},
        "findings": [
            {k: f[k] for k in ("rule", "severity", "asset", "files", "message")}
            for f in swept["findings"]
        ],
        "signals": [
            [
                {k: s[k] for k in ("source", "origin", "evidence", "summary", "detail")}
                for s in json.loads(show.stdout)["signals"]
            ]
            for show in shows
        ],
    }


def test_ingest_and_sweep_are_the_same_and_as_quick_without_network(
    show: Path, tmp_path: Path
) -> None:
    env = command_env(tmp_path)
    with_network = [run_command(c, show, env) for c in _commands(tmp_path / "online.db")]
    without = offline_runs(_commands(tmp_path / "offline.db"), show, env, tmp_path / "jail")

    assert _outcome(without) == _outcome(Jail(with_network, None, isolated=False))
    for online, offline in zip(with_network, without.runs, strict=True):
        # Nothing waits on a lookup or a connection that cannot succeed.
        assert offline.seconds < online.seconds + 3, (offline.args, offline.seconds)
    if without.isolated:
        assert without.queries == [], f"host names looked up while reading: {without.queries}"
        # ...and the jail does see them: a reader with the SDK's defaults resolves the DID.
        script = tmp_path / "default_reader.py"
        script.write_text(_DEFAULT_READER)
        identity = str(show / "elements" / "sky_gen_v001.jpg")
        control = offline_runs([[sys.executable, str(script), identity]], show, env, tmp_path / "c")
        assert control.runs[0].returncode == 0, control.runs[0].stderr
        assert DID_HOST in (control.queries or []), control.queries

    outcome = _outcome(without)
    rules = {(f["rule"], f["files"][0].rsplit("/", 1)[-1]) for f in outcome["findings"]}
    assert {
        ("origin-disputed", "sky_gen_v001.jpg"),
        ("credentials-unreadable", "matte_v001.jpg"),
        ("untracked", "sky_gen_v002.jpg"),
        ("embedded-ai", "sky_gen_v002.jpg"),
        ("credentials-unreadable", "matte_v002.jpg"),
    } <= rules
    identity_signal, remote_signal = (signals[0] for signals in outcome["signals"])
    # The identity assertion is not decoded, so the manifest validates offline as online.
    assert identity_signal["detail"]["validation_state"] == "Valid"
    assert remote_signal["detail"]["remote_url"] == REMOTE.format(name="matte_v001")


def test_where_unshare_cannot_run_python_sockets_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fallback the offline test takes without unshare, checked on every machine.
    monkeypatch.setattr(netjail, "unshare_works", lambda: False)
    probe = [
        sys.executable,
        "-c",
        "import socket\ntry:\n    socket.create_connection(('192.0.2.1', 9), 1)\n"
        "except OSError as e:\n    print('refused' if 'refused for this test' in str(e) else e)",
    ]
    jail = netjail.offline_runs([probe], tmp_path, command_env(tmp_path), tmp_path / "j")
    assert (jail.isolated, jail.queries) == (False, None)
    assert jail.runs[0].stdout.strip() == "refused"
