"""infercore's build system: the logic behind the nox sessions.

noxfile.py stays a table of contents; each session calls one function here.
Everything is importable and unit-tested (tests/buildsys).
"""
