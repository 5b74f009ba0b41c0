"""SIGKILL at random points of `buildsys sources` never leaves a corrupt file in the cache,
and the next run removes the dead runs' temporaries and finishes the job.

The source is served slowly by a local HTTP server (a few MB in small chunks), so the
kills land while the download streams, while it is hashed, renamed or unpacked.
"""

import hashlib
import http.server
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KILLS = 10


def _payload() -> bytes:
    buf = io.BytesIO()
    rng = random.Random(2026)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for i in range(40):
            zf.writestr(f"pkg/blob{i}.bin", rng.randbytes(100_000))
    return buf.getvalue()


PAYLOAD = _payload()
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        for i in range(0, len(PAYLOAD), 64 * 1024):
            self.wfile.write(PAYLOAD[i : i + 64 * 1024])
            time.sleep(0.01)

    def log_message(self, *args):
        pass


@pytest.fixture
def root(tmp_path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    tree = tmp_path / "root"
    tree.mkdir()
    for name in ("build-matrix.toml", "pyproject.toml"):
        shutil.copyfile(ROOT / name, tree / name)
    (tree / "sources.lock.toml").write_text(
        "[[source]]\n"
        'name = "pkg"\nversion = "1.0"\nkind = "wheel"\n'
        'filename = "pkg-1.0-py3-none-any.whl"\n'
        f'sha256 = "{SHA}"\n'
        f'urls = ["http://127.0.0.1:{httpd.server_address[1]}/pkg-1.0-py3-none-any.whl"]\n'
        'root = "pkg"\n'
    )
    yield tree
    httpd.shutdown()
    httpd.server_close()


SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from buildsys import cli
from buildsys.util import runner
from buildsys.util.paths import Paths
runner.install_signal_handlers()
paths = Paths(root=Path(sys.argv[2]), build=Path(sys.argv[3]), source_cache=Path(sys.argv[4]))
sys.exit(cli.run(["sources"], paths))
"""


def _start(root: Path, tmp: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            SCRIPT,
            str(ROOT / "scripts"),
            str(root),
            str(tmp / "build"),
            str(tmp / "cache"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_sigkill_at_random_points_leaves_nothing_corrupt(root, tmp_path):
    rng = random.Random(7)
    cached = tmp_path / "cache" / "sha256" / SHA
    mid_download = 0
    for _ in range(KILLS):
        proc = _start(root, tmp_path)
        time.sleep(rng.uniform(0.2, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        # Whatever the moment, the cache holds the verified file or nothing under its name.
        if cached.exists():
            assert hashlib.sha256(cached.read_bytes()).hexdigest() == SHA
        else:
            mid_download += bool(list(cached.parent.glob(f".{SHA[:12]}.*")))
        for done in (tmp_path / "build" / "sources").glob("pkg-*/.infercore-unpacked"):
            assert len(list(done.parent.joinpath("pkg").iterdir())) == 40
        if rng.random() < 0.5:  # start over: the next kill lands in a download again
            shutil.rmtree(tmp_path / "cache" / "sha256", ignore_errors=True)
    assert mid_download, "no kill landed during a download: the test proves nothing"
    proc = _start(root, tmp_path)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == SHA
    leftovers = [
        p
        for d in (tmp_path / "cache" / "sha256", tmp_path / "build" / "sources")
        for p in d.glob(".*")
        if p.suffix != ".lock"
    ]
    assert leftovers == [], "temporaries of the killed runs were left behind"
    assert os.listdir(tmp_path / "build" / "sources")
