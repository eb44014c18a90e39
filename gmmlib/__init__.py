"""gmmlib: Gaussian mixtures and the EM algorithm, for the course book.

A small numpy/scipy library that follows scikit-learn's estimator conventions
and is validated against scikit-learn.
"""

from .gaussian_mixture import GaussianMixture
from .two_gaussians import (TwoGaussianParameters, TwoGaussianTrace, e_step_two_gaussians,
                            em_two_gaussians, expected_complete_log_likelihood_two_gaussians,
                            log_joint_two_gaussians, log_likelihood_two_gaussians,
                            m_step_two_gaussians)
from .plotting import plot_gaussian_ellipses
from .anomaly import density_threshold, flag_anomalies
from .missing_values import impute_conditional_means

__all__ = ["GaussianMixture"]
__all__ += ["TwoGaussianParameters", "TwoGaussianTrace", "e_step_two_gaussians",
            "em_two_gaussians", "expected_complete_log_likelihood_two_gaussians",
            "log_joint_two_gaussians", "log_likelihood_two_gaussians",
            "m_step_two_gaussians"]
__all__ += ["plot_gaussian_ellipses"]
__all__ += ["density_threshold", "flag_anomalies"]
__all__ += ["impute_conditional_means"]
__version__ = "0.1.0"
