"""How much of a wheel is GPU code, per arch: the summary table's size breakdown.

cuobjdump extracts every cubin and PTX file of the wheel's extension modules; their sizes
are summed by arch (sm_80, sm_90, sm_90a, ...; PTX as "ptx"). A CPU wheel has none. The
sizes are uncompressed, as the driver loads them (the wheel's zip compresses them).
"""

from __future__ import annotations

import re
import tempfile
from collections import defaultdict
from pathlib import Path

from ..errors import ToolMissing
from ..kernels.verify import nvidia_tool
from ..util import runner
from . import repair

ARCH = re.compile(r"\.(sm_\w+?)\.(cubin|ptx)$")


def breakdown(wheel: Path) -> dict[str, int]:
    """{arch: bytes} of the device code in `wheel`; {} for none (or no cuobjdump)."""
    try:
        cuobjdump = nvidia_tool("cuobjdump")
    except ToolMissing:
        return {}
    sizes: dict[str, int] = defaultdict(int)
    with tempfile.TemporaryDirectory(prefix="infercore-devicecode-") as tmp:
        for so in repair.extension_modules(wheel, Path(tmp) / "unpacked"):
            out = Path(tmp) / "extracted" / so.name
            out.mkdir(parents=True)
            # Exit status 255 for a module without device code: nothing to count.
            runner.call(
                [cuobjdump, "-xelf", "all", "-xptx", "all", so],
                what=f"cuobjdump of {so.name}",
                cwd=out,
                capture=True,
                check=False,
                echo=False,
            )
            for file in out.iterdir():
                if m := ARCH.search(file.name):
                    key = "ptx" if m.group(2) == "ptx" else m.group(1)
                    sizes[key] += file.stat().st_size
    return dict(sorted(sizes.items()))


def describe(sizes: dict[str, int]) -> str:
    """'sm_80 0.41, sm_90 0.52, ptx 0.10 MiB' (empty for a CPU wheel)."""
    if not sizes:
        return ""
    return ", ".join(f"{arch} {size / 2**20:.2f}" for arch, size in sizes.items()) + " MiB"
