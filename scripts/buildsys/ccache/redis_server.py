"""A throw-away redis-server on 127.0.0.1, for the shared-cache benchmark and tests.

Debian's redis-server (apt-get install redis-server) on a free port, in a directory
of its own, with an append-only file fsynced per write so that a server killed mid-
build and started again holds exactly what it had acknowledged: what the tests check
ccache never leaves half-written. Production caches are the user's own server.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BuildError, ToolMissing
from . import remote


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary() -> str:
    found = shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if Path(p).exists()), None
    )
    if not found:
        raise ToolMissing(
            "redis-server is not installed",
            why="the shared-cache benchmark and tests run a real Redis on 127.0.0.1",
            fix="apt-get install redis-server (Debian's package; .ci/run installs it)",
        )
    return found


@dataclass
class RedisServer:
    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [
            binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            argv,
            stdout=(self.directory / "redis.log").open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C is ours to forward, not its
        )
        deadline = time.monotonic() + timeout
        while problem := remote.problem(self.url, timeout=0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BuildError(
                    f"redis-server did not come up on port {self.port}: {problem}",
                    fix=f"read {self.directory / 'redis.log'}",
                )
            time.sleep(0.05)

    def kill(self) -> None:
        """Gone at once, as a crashed server or a lost network is (SIGKILL)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def keys(self) -> int:
        """How many entries the server holds (DBSIZE)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(remote.resp("DBSIZE"))
            reply = sock.recv(64)
        return int(reply[1:].split(b"\r\n")[0])


@contextmanager
def running(directory: Path) -> Iterator[RedisServer]:
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
