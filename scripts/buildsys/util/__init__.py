"""Shared plumbing: the one subprocess runner, console output, files, paths, CMake."""
