"""Start-up benchmark: whole `provenance` commands from the shell, beside a bare interpreter.

    .venv/bin/python bench/startup.py             # best of 5 of each command
    .venv/bin/python bench/startup.py --repeat 9
    .venv/bin/python bench/startup.py --imports   # also list the slowest imports of `show`

Publish hooks and farm scripts call the command once per file, so what a command costs before
it does anything is paid every time. In a work folder (bench/_work/startup, git-ignored), a
small ledger is made (a 10-frame plate sequence, a comp made from it, a second claim), then
each command is run as a user runs it, the installed `provenance` script in a new process,
in the workspace (the ledger found from the current folder):

  --version, --help           no command module, no ledger
  show, history, lineage      of the comp's file: one command module, the ledger opened and read

The package's bytecode is compiled first, as `pip install` of a wheel does: in a checkout (an
editable install) under PYTHONDONTWRITEBYTECODE, every run would otherwise compile the
package from source (30 ms here).

The reference is `python -c pass` with the same interpreter, run in the same rounds: the floor
any Python command pays. Runs are interleaved (one of each command a round) and the best of
--repeat counts, as the machine is shared. Nothing here asserts wall-clock times: the table says
PASS or MISS against the targets of the issue (--strict exits 1 on a MISS).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import Row, log, report

DEFAULT_WORK = Path(__file__).resolve().parent / "_work"
# (arguments, target in seconds): the targets, best of 5.
COMMANDS: tuple[tuple[tuple[str, ...], float], ...] = (
    (("--version",), 0.15),
    (("--help",), 0.15),
    (("show", "comp/sh010_comp_v001.png"), 0.35),
    (("history", "comp/sh010_comp_v001.png"), 0.35),
    (("lineage", "comp/sh010_comp_v001.png"), 0.35),
)


def provenance_command() -> list[str]:
    """The installed console script beside this interpreter (what a shell runs)."""
    script = Path(sys.executable).with_name("provenance")
    return [str(script)] if script.exists() else [sys.executable, "-m", "provenance"]


def clean_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PROVENANCE_DB", "DATABASE_URL")}
    env["XDG_CONFIG_HOME"] = str(work / "config")
    return env


def make_workspace(work: Path, env: dict[str, str]) -> Path:
    """A small ledger: a plate sequence, a comp made from it, and a second claim."""
    from PIL import Image

    shutil.rmtree(work, ignore_errors=True)
    workspace = work / "workspace"
    (workspace / "plates").mkdir(parents=True)
    (workspace / "comp").mkdir()
    for frame in range(1001, 1011):
        Image.new("RGB", (16, 16), (frame % 256, 40, 80)).save(
            workspace / "plates" / f"sh010_plate.{frame}.png"
        )
    Image.new("RGB", (16, 16), (10, 200, 30)).save(workspace / "comp" / "sh010_comp_v001.png")
    steps = (
        ("init",),
        ("ingest", "plates", "--origin", "capture", "--by", "alice"),
        (
            "ingest",
            "comp",
            "--origin",
            "human",
            "--by",
            "bob",
            "--from",
            "plates/sh010_plate.####.png",
        ),
        ("tag", "comp/sh010_comp_v001.png", "--origin", "human", "--note", "checked"),
    )
    for step in steps:
        subprocess.run(
            [*provenance_command(), *step],
            cwd=workspace,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return workspace


def compile_package() -> None:
    """Write the bytecode of the installed package (library, CLI, migrations), as a wheel's install does."""
    import compileall
    import importlib

    for name in ("provenance", "provenance.cli", "provenance.migrations"):
        folder = Path(importlib.import_module(name).__file__ or "").parent
        compileall.compile_dir(folder, quiet=1)


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.decode()}")
    return seconds


def slowest_imports(workspace: Path, env: dict[str, str], count: int = 15) -> None:
    """`-X importtime` of `provenance show`: the modules that cost the most, with their imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "provenance", *COMMANDS[2][0]],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[0].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    log("slowest imports of `provenance show` (cumulative microseconds):")
    for cumulative, name in sorted(rows, reverse=True)[:count]:
        print(f"    {cumulative:>8,}  {name}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (best)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="work folder")
    parser.add_argument("--imports", action="store_true", help="list the slowest imports of show")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    work: Path = args.work.resolve() / "startup"
    env = clean_env(work)
    load_before = os.getloadavg()[0]
    try:
        compile_package()
        workspace = make_workspace(work, env)
        base = provenance_command()
        bare = [sys.executable, "-c", "pass"]
        times: dict[tuple[str, ...], list[float]] = {c: [] for c, _ in COMMANDS}
        floor: list[float] = []
        for _ in range(args.repeat):
            floor.append(timed(bare, workspace, env))
            for arguments, _target in COMMANDS:
                times[arguments].append(timed([*base, *arguments], workspace, env))
        if args.imports:
            slowest_imports(workspace, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    python = min(floor)
    rows = [
        Row(
            "python -c pass (the floor)",
            f"{python:.3f} s",
            "-",
            "-",
            "-",
            None,
        )
    ]
    for arguments, target in COMMANDS:
        best = min(times[arguments])
        rows.append(
            Row(
                f"provenance {' '.join(arguments)}",
                f"{best:.3f} s",
                f"python -c pass {python:.3f} s",
                f"{best / python:.1f}x time",
                f"<= {target:.2f} s",
                best <= target,
            )
        )
    return report(rows, args, load_before)


if __name__ == "__main__":
    sys.exit(main())
