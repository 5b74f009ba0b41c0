"""The release path: cibuildwheel builds each [release] cell's wheels in its image.

cells.py picks the cell and its image, export.py the tree cibuildwheel copies in,
cibw.py writes cibuildwheel's configuration from the data, prepare.py is its before-all
(the core and kernels, once per cell, inside the container) and run.py drives it all
on the host, publishing into dist/ only wheels that passed everything.
"""
