"""gmmlib: Gaussian mixtures and the EM algorithm, for the course book.

A small numpy/scipy library that follows scikit-learn's estimator conventions
and is validated against scikit-learn.
"""

from .gaussian_mixture import GaussianMixture

__all__ = ["GaussianMixture"]
__version__ = "0.1.0"
