"""What the compiler cache does in this run: build-matrix.toml [ccache], then the
environment (INFERCORE_CCACHE, INFERCORE_CCACHE_REMOTE), which wins."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..config import BuildMatrix
from ..config.ccache import REMOTE
from ..errors import UsageError

OFF = ("0", "off", "false", "no")
ON = ("1", "on", "true", "yes")
ENV_SWITCH = "INFERCORE_CCACHE"
ENV_REMOTE = "INFERCORE_CCACHE_REMOTE"


@dataclass(frozen=True)
class Settings:
    enabled: bool
    remote: str  # ccache's remote_storage URL, without attributes; "" = local only
    max_size: str
    connect_timeout_ms: int
    operation_timeout_ms: int
    remote_from: str  # where the remote URL came from, for messages

    @property
    def remote_storage(self) -> str:
        """The remote_storage value ccache reads: the URL with its timeouts attached
        (attributes already in the URL win, since ccache takes the last one given)."""
        if not self.remote:
            return ""
        url, _, attrs = self.remote.partition("|")
        ours = (
            f"connect-timeout={self.connect_timeout_ms}"
            f"|operation-timeout={self.operation_timeout_ms}"
        )
        return f"{url}|{ours}" + (f"|{attrs}" if attrs else "")

    @property
    def remote_display(self) -> str:
        """The URL without a password, for logs and summaries."""
        url = self.remote.partition("|")[0]
        return re.sub(r"//[^@/]*@", "//***@", url)


def resolve(matrix: BuildMatrix, env: Mapping[str, str]) -> Settings:
    table = matrix.ccache
    switch = env.get(ENV_SWITCH, "").strip().lower()
    if switch and switch not in OFF + ON:
        raise UsageError(
            f"{ENV_SWITCH}={env[ENV_SWITCH]!r} is neither on nor off",
            fix=f"set {ENV_SWITCH}=off to compile without the cache, or unset it",
        )
    enabled = table.enabled if not switch else switch in ON
    remote, remote_from = table.remote_storage, "build-matrix.toml [ccache] remote-storage"
    if ENV_REMOTE in env:
        remote, remote_from = env[ENV_REMOTE].strip(), f"${ENV_REMOTE}"
        if not re.match(REMOTE, remote):
            raise UsageError(
                f"{ENV_REMOTE}={remote!r} is not a ccache remote storage URL",
                why="ccache takes redis://HOST[:PORT][/DB] or http(s)://HOST[:PORT]/PATH, "
                "optionally followed by |attribute=value options",
                fix=f"e.g. {ENV_REMOTE}=redis://127.0.0.1:6379, or {ENV_REMOTE}= (empty) "
                "for the local cache only",
            )
    return Settings(
        enabled=enabled,
        remote=remote,
        max_size=table.max_size,
        connect_timeout_ms=table.connect_timeout_ms,
        operation_timeout_ms=table.operation_timeout_ms,
        remote_from=remote_from,
    )
