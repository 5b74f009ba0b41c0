"""docker/Dockerfile as an engine can read it.

The Dockerfile writes its RUN steps as heredocs (the project's convention). Docker
(BuildKit) and podman >= 5 read them; podman 4 (Debian 12's 4.3.1, Ubuntu 24.04's
4.9.3) does not. For those, each `RUN [flags] <<EOT ... EOT` becomes
`RUN [flags] --mount=type=bind,...  sh /run/infercore-heredoc/<sha>.sh`: the body is
written, unchanged, to a script named by its own sha256 in the build context, and
bind-mounted for that one step (never copied into a layer). The command line names the
hash, so a changed body is a changed step and the layer cache cannot serve a stale one.
"""

from __future__ import annotations

import hashlib
import re

# RUN's flags, then the heredoc marker: `<<EOT`, `<<-EOT`, `<<"EOT"` or `<<'EOT'`.
_HEREDOC = re.compile(r"^(?P<head>RUN\b.*?)\s*<<(?P<dash>-?)(?P<q>['\"]?)(?P<word>\w+)(?P=q)\s*$")
HEREDOC_DIR = ".heredoc"  # in the build context
MOUNT_POINT = "/run/infercore-heredoc"


def _instructions(text: str) -> list[tuple[str, list[str], bool]]:
    """(instruction with its backslash continuations joined, heredoc body lines, dash)
    per instruction; a heredoc's body is taken verbatim, never joined."""
    out: list[tuple[str, list[str], bool]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        logical = lines[i]
        while logical.endswith("\\") and i + 1 < len(lines):
            i += 1
            nxt = lines[i]
            if nxt.lstrip().startswith("#"):
                logical += "\\"  # Docker drops comments inside a continued instruction
                continue
            logical = logical[:-1].rstrip() + " " + nxt.strip()
        i += 1
        m = _HEREDOC.match(logical)
        if not m:
            out.append((logical, [], False))
            continue
        body: list[str] = []
        while i < len(lines) and lines[i].strip() != m["word"]:
            body.append(lines[i].lstrip("\t") if m["dash"] else lines[i])
            i += 1
        if i == len(lines):
            raise ValueError(f"unterminated heredoc <<{m['word']} in: {m['head']}")
        i += 1  # the terminator
        out.append((logical, body, True))
    return out


def has_heredocs(text: str) -> bool:
    return any(is_heredoc for _, _, is_heredoc in _instructions(text))


def lower_heredocs(text: str) -> tuple[str, dict[str, str]]:
    """(the Dockerfile without heredocs, {script file name: body}) for old engines."""
    out: list[str] = []
    scripts: dict[str, str] = {}
    for logical, body, is_heredoc in _instructions(text):
        if not is_heredoc:
            out.append(logical)
            continue
        m = _HEREDOC.match(logical)
        assert m is not None
        script = "\n".join(body) + "\n"
        name = hashlib.sha256(script.encode()).hexdigest()[:16] + ".sh"
        scripts[name] = script
        mount = f"--mount=type=bind,source={HEREDOC_DIR},target={MOUNT_POINT}"
        out.append(f"{m['head']} {mount} sh {MOUNT_POINT}/{name}")
    return "\n".join(out) + "\n", scripts
