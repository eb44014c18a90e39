"""gmmlib: Gaussian mixtures and the EM algorithm, for the course book.

A small numpy/scipy library that follows scikit-learn's estimator conventions
and is validated against scikit-learn.
"""

from .gaussian_mixture import GaussianMixture
from .free_energy import (entropy, expected_complete_log_likelihood, free_energy,
                          kl_gap, log_likelihood)
from .incremental import incremental_em

__all__ = ["GaussianMixture"]
__all__ += ["entropy", "expected_complete_log_likelihood", "free_energy", "kl_gap",
            "log_likelihood", "incremental_em"]
__version__ = "0.1.0"
