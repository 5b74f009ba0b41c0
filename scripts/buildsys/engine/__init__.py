"""The engine core's own builds: the core library (once per target) and the C++ tests."""
