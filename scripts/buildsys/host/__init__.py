"""This machine: its Python interpreters, its CUDA compiler, its memory."""
