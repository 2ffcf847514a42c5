"""Running commands with no network at all, and seeing every host name they try to resolve.

As root, `offline_runs` runs the commands in a network namespace of their own (`unshare --net
--mount`): no interface but a loopback, on which this module answers DNS itself (every query
recorded, each answered NXDOMAIN at once) with the namespace's /etc/resolv.conf bind-mounted to
point there. A reader that tried to fetch anything would first resolve its host: the query is
recorded, and nothing leaves the machine. Without unshare (not root, or no util-linux), the
commands run with Python's sockets refused in every interpreter they start (a sitecustomize on
PYTHONPATH): that catches Python code only, not the Rust reader, and `Jail.isolated` says so.

Run as a script (`python netjail.py SPEC`), it is the part that runs inside the namespace.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# ioctl requests and flag of linux/sockios.h and linux/if.h.
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1

_REFUSE_SOCKETS = """
import os, socket
if os.environ.get("NETJAIL_REFUSE_SOCKETS"):
    _Socket = socket.socket
    class _NoNetwork(_Socket):
        def __init__(self, family=-1, *args, **kwargs):
            if family in (socket.AF_INET, socket.AF_INET6, -1):
                raise OSError("network refused for this test")
            super().__init__(family, *args, **kwargs)
    def _refuse(*args, **kwargs):
        raise OSError("network refused for this test")
    socket.socket = _NoNetwork
    socket.getaddrinfo = _refuse
    socket.create_connection = _refuse
"""


@dataclass
class Run:
    """One command's outcome."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class Jail:
    """What ran, and the host names looked up while it ran (None: nobody could see them)."""

    runs: list[Run]
    queries: list[str] | None
    isolated: bool
    """True when the commands ran in a namespace without network (unshare), False when only
    Python's sockets were refused."""
    notes: list[str] = field(default_factory=list)


def command_env(home: Path, *path: Path) -> dict[str, str]:
    """The environment for a `provenance` subprocess: no PROVENANCE_ settings of the caller's,
    config and data under `home`, and `path` (folders of installed plug-ins) on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")}
    env["XDG_CONFIG_HOME"] = str(home / "config")
    env["XDG_DATA_HOME"] = str(home / "data")
    if path:
        env["PYTHONPATH"] = os.pathsep.join(
            [*map(str, path), *filter(None, [env.get("PYTHONPATH")])]
        )
    return env


def unshare_works() -> bool:
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--net", "--mount", "true"], capture_output=True, check=False, timeout=30
    )
    return probe.returncode == 0


def offline_runs(commands: list[list[str]], cwd: Path, env: dict[str, str], scratch: Path) -> Jail:
    """Run `commands` one after the other with no network, in `cwd` with `env`."""
    scratch.mkdir(parents=True, exist_ok=True)
    if unshare_works():
        resolv = scratch / "resolv.conf"
        resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        spec = scratch / "jail.json"
        spec.write_text(
            json.dumps({"commands": commands, "cwd": str(cwd), "env": env, "resolv": str(resolv)})
        )
        done = subprocess.run(
            ["unshare", "--net", "--mount", sys.executable, __file__, str(spec)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the network jail failed:\n{done.stdout}\n{done.stderr}")
        report = json.loads(done.stdout)
        return Jail([Run(**r) for r in report["runs"]], report["queries"], isolated=True)
    site = scratch / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(_REFUSE_SOCKETS)
    refused = dict(env)
    refused["NETJAIL_REFUSE_SOCKETS"] = "1"
    refused["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    runs = [run_command(command, cwd, refused) for command in commands]
    return Jail(runs, None, isolated=False, notes=["unshare unavailable: Python sockets refused"])


def run_command(command: list[str], cwd: Path, env: dict[str, str]) -> Run:
    """Run one command (with whatever network the caller has), timed."""
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    return Run(command, done.returncode, done.stdout, done.stderr, time.monotonic() - started)


# --- inside the namespace -------------------------------------------------------------------


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as handle:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(handle, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(handle, _SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | _IFF_UP))


def _query_name(packet: bytes) -> str:
    labels, offset = [], 12
    while offset < len(packet) and packet[offset]:
        length = packet[offset]
        labels.append(packet[offset + 1 : offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
    return ".".join(labels)


def _answer_dns(server: socket.socket, queries: list[str]) -> None:
    while True:
        try:
            packet, client = server.recvfrom(4096)
        except OSError:
            return
        if len(packet) < 12:
            continue
        queries.append(_query_name(packet))
        # The same header and question, flagged as a response with NXDOMAIN and no answers.
        reply = packet[:2] + b"\x81\x83" + packet[4:6] + b"\x00\x00\x00\x00\x00\x00" + packet[12:]
        server.sendto(reply, client)


def _inside(spec_path: str) -> None:
    spec: dict[str, Any] = json.loads(Path(spec_path).read_text())
    subprocess.run(["mount", "--bind", spec["resolv"], "/etc/resolv.conf"], check=True)
    _loopback_up()
    queries: list[str] = []
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 53))
    threading.Thread(target=_answer_dns, args=(server, queries), daemon=True).start()
    runs = [run_command(command, Path(spec["cwd"]), spec["env"]) for command in spec["commands"]]
    time.sleep(0.2)  # a query sent as the last command ended is still recorded
    server.close()
    print(json.dumps({"runs": [vars(run) for run in runs], "queries": queries}))


if __name__ == "__main__":
    _inside(sys.argv[1])
