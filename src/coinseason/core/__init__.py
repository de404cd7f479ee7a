"""Pure computations: numpy arrays in, numpy arrays out. No I/O, no clock, no settings.

Matrices are ``(n_days, n_coins)``, one row a UTC day, one column a coin; missing cells are NaN.
"""
