"""CI: the matrix of cells (matrix.py) that .github/workflows fan out over."""
