"""`python -m provenance` in a real process: help, version, and the documented exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from provenance import __version__


def python_m_provenance(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PROVENANCE_DB", "DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "-m", "provenance", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_lists_the_commands_and_exit_codes(tmp_path: Path) -> None:
    result = python_m_provenance("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: provenance ")
    for command in ("init", "ingest", "show", "lineage", "history", "db"):
        assert f"  {command} " in result.stdout, command
    assert "0 ok, 1 error, 2 usage, 3 refused or findings" in result.stdout
    assert result.stderr == ""
    assert python_m_provenance("-h", cwd=tmp_path).stdout == result.stdout


def test_version(tmp_path: Path) -> None:
    result = python_m_provenance("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"provenance, version {__version__}\n"


def test_unknown_option_is_a_usage_error(tmp_path: Path) -> None:
    result = python_m_provenance("--no-such-option", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "No such option" in result.stderr and "--no-such-option" in result.stderr
    assert "Usage: provenance " in result.stderr


def test_unknown_command_and_missing_argument_are_usage_errors(tmp_path: Path) -> None:
    unknown = python_m_provenance("frobnicate", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "No such command 'frobnicate'" in unknown.stderr
    missing = python_m_provenance("show", cwd=tmp_path)
    assert missing.returncode == 2
    assert "Missing argument 'TARGET'" in missing.stderr


def test_library_error_is_one_line_on_stderr_and_exit_1(tmp_path: Path) -> None:
    result = python_m_provenance("show", "plate.exr", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: No ledger found in ")
    assert "provenance init" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_entry_point_module_imports_no_cli_until_it_runs(tmp_path: Path) -> None:
    # Hashing workers import the main module of the process that starts them: the command's
    # entry point (and `python -m provenance`) must not pull in click or SQLAlchemy until the
    # command runs, or every worker pool starts half a second later.
    probe = (
        "import sys, provenance.__main__\n"
        "print(sorted(m for m in ('click', 'sqlalchemy', 'provenance.cli') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
    assert python_m_provenance("--version", cwd=tmp_path).stdout.strip().endswith(__version__)
