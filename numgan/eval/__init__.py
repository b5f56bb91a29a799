"""Evaluation and figures: leaves that take arrays and import nothing of the rest of numgan.

    metrics.py  Parzen window log-likelihood, mode coverage, nearest neighbours, 1-D checks
    plots.py    sample grids, nearest-neighbour grids, loss curves, Figure 1, 2-D scatter
"""
