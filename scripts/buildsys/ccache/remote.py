"""Does a ccache remote storage answer? (nox -s doctor, the cache tests.)

A compile never waits on this: ccache itself goes on without a remote that fails.
This is the up-front check that says so before a long build, in one line.
"""

from __future__ import annotations

import http.client
import socket
from urllib.parse import urlsplit


def resp(*words: str) -> bytes:
    """A Redis command in RESP, the protocol's own framing."""
    out = f"*{len(words)}\r\n"
    for w in words:
        out += f"${len(w.encode())}\r\n{w}\r\n"
    return out.encode()


def _redis(host: str, port: int, user: str | None, password: str | None, timeout: float) -> str:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        if password is not None:
            sock.sendall(resp("AUTH", *([user] if user else []), password))
            if not sock.recv(256).startswith(b"+OK"):
                return "refused the password in the URL"
        sock.sendall(resp("PING"))
        reply = sock.recv(256)
    if reply.startswith(b"+PONG"):
        return ""
    if reply.startswith(b"-NOAUTH"):
        return "wants a password (redis://:PASSWORD@HOST:PORT)"
    return f"answered PING with {reply[:60]!r}"


def _http(url: str, timeout: float) -> str:
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "", parts.port, timeout=timeout)
    try:
        conn.request("HEAD", parts.path or "/")
        status = conn.getresponse().status
    finally:
        conn.close()
    # Any HTTP answer means the server is there; ccache's own GETs of missing keys 404.
    return "" if status < 500 else f"answered HTTP {status}"


def problem(url: str, *, timeout: float = 2.0) -> str:
    """ "" when the remote answers; otherwise what is wrong, in words."""
    url = url.partition("|")[0]
    parts = urlsplit(url)
    try:
        if parts.scheme == "redis":
            return _redis(
                parts.hostname or "localhost",
                parts.port or 6379,
                parts.username or None,
                parts.password,
                timeout,
            )
        if parts.scheme in ("http", "https"):
            return _http(url, timeout)
    except (OSError, http.client.HTTPException) as err:
        return f"cannot be reached: {err}"
    return f"has a scheme ccache cannot use ({parts.scheme}://)"
