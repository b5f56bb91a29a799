"""Evaluation and figures: they take plain arrays, and of numgan import only numgan.fileio.

metrics.py  Parzen window log-likelihood, mode coverage, nearest neighbours, 1-D checks
plots.py    sample grids, nearest-neighbour grids, loss curves, Figure 1, 2-D scatter
_checks.py  the array checks both share
"""
