"""Running `provenance` without the power to ignore file permissions.

Root reads and writes any file, so EACCES and read-only cases would never happen in CI (which
runs as root). As root, the command runs with the DAC-override capabilities dropped from its
bounding set (setpriv): still uid 0, but bound by the permission bits like anyone else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

AS_ROOT = os.geteuid() == 0
DROP_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def provenance(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m provenance ARGS`, bound by file permissions."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")}
    prefix: list[str] = []
    if AS_ROOT:
        if shutil.which("setpriv") is None:
            raise RuntimeError("setpriv (util-linux) is needed to test permissions as root")
        prefix = DROP_DAC
    return subprocess.run(
        [*prefix, sys.executable, "-m", "provenance", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
