"""A throwaway PostgreSQL server for the test run: initdb in a temp folder, a Unix socket, no TCP.

PostgreSQL refuses to run as root, so as root the server runs as `nobody`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def find_bindir() -> Path | None:
    """Where initdb and pg_ctl live: PATH, then `pg_config --bindir`, then Debian's folders."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    return None


@dataclass
class PostgresServer:
    bindir: Path
    base: Path
    user: str | None

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base / "socket"

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql+psycopg://{user}@/{database}?host={self.socket_dir}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=False,
            user=self.user,
            cwd=self.base,
        )

    def start(self) -> None:
        init = self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-instructions",
        )  # fmt: skip
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr.strip()}")
        options = (
            f"-c listen_addresses='' -c unix_socket_directories='{self.socket_dir}' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        started = self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.base / "server.log"),
            "-w", "-t", "60", "start",
        )  # fmt: skip
        if started.returncode != 0:
            log = (self.base / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pg_ctl start failed: {started.stderr.strip()}\n{log}")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


def start_server() -> PostgresServer:
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError(
            "PostgreSQL's server programs (initdb, pg_ctl) were not found. Install them "
            "(Debian: apt-get install postgresql) or set PROVENANCE_TEST_PG_URL."
        )
    base = Path(tempfile.mkdtemp(prefix="provenance-pg-"))
    (base / "socket").mkdir()
    user = None
    if os.geteuid() == 0:
        user = "nobody"
        for path in (base, base / "socket"):
            shutil.chown(path, user=user)
        # The temp folder's parents must be traversable by the server's user.
        os.chmod(base, 0o700)
    server = PostgresServer(bindir, base, user)
    try:
        server.start()
    except Exception:
        shutil.rmtree(base, ignore_errors=True)
        raise
    deadline = time.monotonic() + 30
    while not any(server.socket_dir.glob(".s.PGSQL.*")):
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError("PostgreSQL started but its socket never appeared")
        time.sleep(0.05)
    return server
