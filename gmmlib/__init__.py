"""gmmlib: Gaussian mixtures and the EM algorithm, for the course book.

A small numpy/scipy library that follows scikit-learn's estimator conventions
and is validated against scikit-learn.
"""

from .anomaly import density_threshold, flag_anomalies
from .bayesian_mixture import BayesianGaussianMixture
from .bootstrap import bootstrap_lrt, bootstrap_standard_errors
from .covariance import DegenerateCovarianceError
from .free_energy import (
    entropy,
    expected_complete_log_likelihood,
    free_energy,
    kl_gap,
    log_likelihood,
)
from .gaussian_mixture import GaussianMixture
from .gem import conditional_m_step, ecm_m_step, gradient_m_step
from .gibbs import GibbsGaussianMixture, relabel_by_ordering, relabel_stephens
from .hard_em import (
    LloydKMeans,
    classification_em,
    fixed_variance_em,
    harden,
    isotropic_parameters,
)
from .incremental import incremental_em
from .information import (
    complete_information,
    em_convergence_rate,
    louis_standard_errors,
    missing_information,
    missing_information_fraction,
    observed_information,
)
from .missing_values import impute_conditional_means
from .mixture import DegenerateStartWarning
from .model_selection import ModelGrid, fit_grid, information_criteria
from .plotting import plot_gaussian_ellipses
from .standard_errors import standard_errors
from .two_gaussians import (
    TwoGaussianParameters,
    TwoGaussianTrace,
    e_step_two_gaussians,
    em_two_gaussians,
    expected_complete_log_likelihood_two_gaussians,
    log_joint_two_gaussians,
    log_likelihood_two_gaussians,
    m_step_two_gaussians,
)

__all__ = ["GaussianMixture"]
__all__ += [
    "TwoGaussianParameters",
    "TwoGaussianTrace",
    "e_step_two_gaussians",
    "em_two_gaussians",
    "expected_complete_log_likelihood_two_gaussians",
    "log_joint_two_gaussians",
    "log_likelihood_two_gaussians",
    "m_step_two_gaussians",
]
__all__ += ["conditional_m_step", "ecm_m_step", "gradient_m_step"]
__all__ += ["BayesianGaussianMixture"]
__all__ += ["ModelGrid", "fit_grid", "information_criteria"]
__all__ += ["DegenerateCovarianceError", "DegenerateStartWarning"]
__all__ += [
    "LloydKMeans",
    "classification_em",
    "fixed_variance_em",
    "harden",
    "isotropic_parameters",
]
__all__ += ["GibbsGaussianMixture", "relabel_by_ordering", "relabel_stephens"]
__all__ += ["plot_gaussian_ellipses"]
__all__ += ["density_threshold", "flag_anomalies"]
__all__ += ["impute_conditional_means"]
__all__ += [
    "entropy",
    "expected_complete_log_likelihood",
    "free_energy",
    "incremental_em",
    "kl_gap",
    "log_likelihood",
]
__all__ += [
    "complete_information",
    "em_convergence_rate",
    "louis_standard_errors",
    "missing_information",
    "missing_information_fraction",
    "observed_information",
]
__all__ += ["bootstrap_lrt", "bootstrap_standard_errors", "standard_errors"]
__version__ = "0.1.0"
