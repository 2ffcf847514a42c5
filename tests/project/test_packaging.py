"""The wheel: what it holds, and that a clean venv with only the wheel runs the whole loop."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from provenance import __version__

from ..builders import write_image, write_sequence

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent.parent
# What the build reads (pyproject's package-dir); the rest of the checkout (tests, benchmarks,
# the developer's build/ leftovers) must not leak into it.
BUILD_INPUTS = ("pyproject.toml", "README.md", "LICENSE", "provenance", "cli", "migrations")


def run(
    command: list[str | Path], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PROVENANCE_DB", "DATABASE_URL")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"{command} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in BUILD_INPUTS:
        if (REPO / name).is_dir():
            shutil.copytree(
                REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        elif (REPO / name).exists():
            shutil.copy2(REPO / name, source / name)
    outdir = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--wheel", "--outdir", outdir, source], cwd=source)
    (built,) = outdir.glob("provenance-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel and its dependencies from the package index, nothing else."""
    folder = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", folder], cwd=folder)
    run([folder / "bin" / "python", "-m", "pip", "install", "--quiet", wheel], cwd=folder)
    return folder


def test_wheel_holds_the_cli_the_migrations_and_the_type_marker(wheel: Path) -> None:
    assert wheel.name == f"provenance-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for required in (
        "provenance/__init__.py",
        "provenance/__main__.py",
        "provenance/py.typed",
        "provenance/cli/__init__.py",
        "provenance/store/schema.py",
        "provenance/migrations/env.py",
        "provenance/migrations/script.py.mako",
    ):
        assert required in names, required
    assert any(
        name.startswith("provenance/migrations/versions/0001_") and name.endswith(".py")
        for name in names
    )
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"provenance", f"provenance-{__version__}.dist-info"}
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)


def test_wheel_ships_every_revision_of_the_checkout(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        shipped = {
            Path(name).name
            for name in archive.namelist()
            if name.startswith("provenance/migrations/versions/") and name.endswith(".py")
        }
    assert shipped == {path.name for path in (REPO / "migrations" / "versions").glob("*.py")}


def test_installed_wheel_runs_init_ingest_and_show(venv: Path, tmp_path: Path) -> None:
    show = tmp_path / "show"
    show.mkdir()
    provenance = venv / "bin" / "provenance"
    python = venv / "bin" / "python"

    located = run([python, "-c", "import provenance; print(provenance.__file__)"], cwd=show)
    assert Path(located.stdout.strip()).is_relative_to(venv)

    init = json.loads(run([provenance, "init", "--json"], cwd=show).stdout)
    assert init["schema"] == "Ledger.1"
    assert init["schema_revision"] is not None
    assert (show / ".provenance" / "ledger.db").is_file()
    assert "up to date" in run([provenance, "db", "current"], cwd=show).stdout

    write_sequence(show / "plates", "sh010_plate", range(1001, 1004), ext="png", seed="plate")
    write_image(show / "concept" / "moodboard.jpg", seed="mood")
    report = json.loads(run([provenance, "ingest", ".", "--json"], cwd=show).stdout)
    assert report["schema"] == "IngestReport.1"
    assert report["ok"]
    recorded = [asset["path"] for asset in report["recorded"]]
    assert not [path for path in recorded if "/.provenance/" in path], "it recorded its own ledger"
    assert report["assets"]["new"] == 2
    assert report["files"]["new"] == 4

    card = json.loads(run([provenance, "show", "concept/moodboard.jpg", "--json"], cwd=show).stdout)
    assert card["schema"] == "AssetCard.1"
    assert card["asset"]["kind"] == "file"
    assert card["asset"]["digest"].startswith("xxh3-128:")
    sequence = json.loads(
        run([provenance, "show", "plates/sh010_plate.1002.png", "--json"], cwd=show).stdout
    )
    assert sequence["asset"]["kind"] == "sequence"
    assert sequence["members"] == 3

    version = run([python, "-m", "provenance", "--version"], cwd=show)
    assert version.stdout.strip() == f"provenance, version {__version__}"
