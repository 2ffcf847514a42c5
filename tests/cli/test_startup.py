"""Commands start at once: what `provenance --version`, `--help` and the read commands import.

Publish hooks and farm scripts run the command once per file. Each command's module is
imported when the command runs (the lazy group of cli/__init__.py), alembic only to move a
schema, cryptography only to sign or check a checkpoint. These tests pin it in a real process,
by the modules loaded when the command has finished; bench/startup.py measures the seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from provenance.cli import COMMANDS, cli, load_command

from provenance import Ledger

from ..builders import write_image, write_sequence

# Third-party packages no command that only reads may load: alembic (with mako and pygments),
# cryptography, the image and detection stack, and the hashing pools.
HEAVY = (
    "alembic",
    "mako",
    "pygments",
    "cryptography",
    "numpy",
    "PIL",
    "c2pa",
    "fileseq",
    "multiprocessing",
    "opentimelineio",
)
# Library modules that write, hash, read scenes or sign: none of them is needed to read the
# ledger. (The pure judging modules, obligations, policy, deliveries and store.ledger_facts, are: a
# card, a history and a lineage name the deliverables that hold the asset, through lineage,
# as the gate judges it. Together they cost about 25 ms of a command's start.)
WRITERS = (
    "provenance.audit",
    "provenance.finalizer",
    "provenance.fingerprint",
    "provenance.ingest",
    "provenance.unseen",
    "provenance.scene_lineage",
    "provenance.scenes",
    "provenance.store.seals",
    "provenance.store.roles",
    "provenance.store.perceptual",
    "provenance.detect.perceptual",
    "provenance.detect.c2pa",
    "provenance.detect.c2pa_manifest_store",
    "provenance.detect.metadata",
    "provenance.detect.metadata_containers",
    "provenance.detect.metadata_limits",
    "provenance.detect.generator_signatures",
)
COMMAND_MODULES = sorted({f"provenance.cli.{entry.target.split(':')[0]}" for entry in COMMANDS})

PROBE = """
import json, os, sys
sys.argv = ["provenance", *json.loads(os.environ["PROBE_ARGS"])]
from provenance.__main__ import main
try:
    main()
except SystemExit as exit:
    code = exit.code
else:
    code = 0
with open(os.environ["PROBE_OUT"], "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""


def loaded_modules(args: list[str], cwd: Path, tmp_path: Path) -> list[str]:
    """The modules loaded once `provenance ARGS` has run in a new process (which must succeed)."""
    out = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if k not in ("PROVENANCE_DB", "DATABASE_URL")}
    env.update(PROBE_ARGS=json.dumps(args), PROBE_OUT=str(out))
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["code"] in (0, None), done.stderr
    return list(result["modules"])


def under(modules: list[str], packages: tuple[str, ...] | list[str]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_load_no_command_and_no_database_layer(flag: str, tmp_path: Path) -> None:
    modules = loaded_modules([flag], tmp_path, tmp_path)
    assert under(modules, [*HEAVY, "sqlalchemy", "provenance.ledger", "provenance.store"]) == []
    assert under(modules, COMMAND_MODULES) == []


@pytest.fixture
def small_ledger(workspace: Path) -> Path:
    write_sequence(workspace / "plates", "sh010_plate", range(1001, 1004), ext="png", seed="p")
    write_image(workspace / "comp" / "sh010_comp_v001.png", seed="comp")
    with Ledger.create(str(workspace / ".provenance" / "ledger.db"), cwd=workspace) as ledger:
        ledger.ingest(["plates"], origin="capture", by="alice")
        ledger.ingest(["comp"], origin="human", by="bob", contains=["plates/sh010_plate.####.png"])
    return workspace


@pytest.mark.parametrize("command", ["show", "history", "lineage"])
def test_reading_commands_load_their_module_only_and_nothing_that_writes(
    command: str, small_ledger: Path, tmp_path: Path
) -> None:
    modules = loaded_modules([command, "comp/sh010_comp_v001.png"], small_ledger, tmp_path)
    assert "sqlalchemy" in modules and "provenance.ledger" in modules  # the ledger was read
    assert under(modules, HEAVY) == []
    assert under(modules, WRITERS) == []
    assert under(modules, COMMAND_MODULES) == ["provenance.cli.read"]


SIGNING = ("cryptography", "alembic", "mako", "pygments")


@pytest.mark.parametrize(
    "args",
    [
        ["ingest", "comp", "--origin", "human"],
        ["sweep", "comp"],
        ["tag", "comp/sh010_comp_v001.png", "--origin", "human"],
    ],
)
def test_commands_that_sign_nothing_load_no_cryptography_and_no_alembic(
    args: list[str], small_ledger: Path, tmp_path: Path
) -> None:
    modules = loaded_modules(args, small_ledger, tmp_path)
    assert "provenance.ledger" in modules
    assert under(modules, SIGNING) == []


def test_checking_the_log_loads_cryptography_only_then(small_ledger: Path, tmp_path: Path) -> None:
    modules = loaded_modules(["audit", "verify"], small_ledger, tmp_path)
    assert under(modules, ["cryptography"]) != []
    assert under(modules, ["alembic"]) == []


def test_registered_short_help_is_each_commands_own() -> None:
    for entry in COMMANDS:
        command = load_command(entry)
        assert entry.short_help == command.get_short_help_str(limit=1_000), entry.name


def test_help_lists_every_command_as_click_would_with_all_of_them_loaded() -> None:
    eager = click.Group(
        "provenance",
        params=cli.params,
        help=cli.help,
        context_settings=cli.context_settings,
        commands={entry.name: load_command(entry) for entry in COMMANDS},
    )
    for width in (60, 80, 120):
        settings = {"info_name": "provenance", "terminal_width": width, **cli.context_settings}
        lazy_ctx = click.Context(cli, **settings)
        eager_ctx = click.Context(eager, **settings)
        lazy_help = cli.get_help(lazy_ctx)
        assert lazy_help == eager.get_help(eager_ctx)
        for entry in COMMANDS:
            assert f"\n  {entry.name} " in lazy_help


def test_every_registered_command_has_a_unique_name_and_loads() -> None:
    names = [entry.name for entry in COMMANDS]
    assert len(names) == len(set(names))
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(names)
    for name in names:
        assert isinstance(cli.get_command(ctx, name), click.Command)
    assert cli.get_command(ctx, "no-such-command") is None
