r"""``BayesianGaussianMixture``: variational inference for a Gaussian mixture.

Derived in chapter "How many components?" (``chapters/09_number_of_components.md``),
following Bishop (2006, section 10.2) for the Dirichlet-distribution weight prior
and Blei and Jordan (2006) for the truncated Dirichlet-process (stick-breaking) prior.
The conventions (parameters, attributes, initialisation, order of the updates and
the lower bound up to its constant) are scikit-learn's
``sklearn.mixture.BayesianGaussianMixture``.

The model puts priors on every parameter of the mixture,

.. math::

    w \sim \mathrm{Dir}(\alpha_0, \dots, \alpha_0)
    \quad\text{or}\quad
    w_k = v_k \prod_{j<k} (1 - v_j),\; v_k \sim \mathrm{Beta}(1, \gamma_0),

    \Lambda_k \sim \mathcal{W}(W_0, \nu_0), \quad
    \mu_k \mid \Lambda_k \sim \mathcal{N}(m_0, (\beta_0 \Lambda_k)^{-1}),

and approximates the posterior by :math:`q(z)\, q(w) \prod_k q(\mu_k, \Lambda_k)`.
Each iteration is one pass of coordinate ascent:

* **E-step** (responsibilities): :math:`r_{nk} \propto \exp(\mathbb{E}[\log w_k]
  + \mathbb{E}[\log \mathcal{N}(x_n \mid \mu_k, \Lambda_k^{-1})])`, which is EM's
  E-step with :math:`\log w_k` replaced by a per-component constant, so
  :func:`gmmlib.em_steps.e_step` computes it block by block together with the
  sufficient statistics :math:`N_k, \bar x_k, S_k` (from which
  :func:`gmmlib.free_energy.entropy_from_statistics` also gets the entropy the
  bound needs);
* **M-step** (posterior of the parameters, conjugate updates):
  :math:`\alpha_k = \alpha_0 + N_k` (or :math:`a_k = 1 + N_k`,
  :math:`b_k = \gamma_0 + \sum_{j>k} N_j`), :math:`\beta_k = \beta_0 + N_k`,
  :math:`m_k = (\beta_0 m_0 + N_k \bar x_k) / \beta_k`, :math:`\nu_k = \nu_0 + N_k`,
  :math:`W_k^{-1} = W_0^{-1} + N_k S_k + \frac{\beta_0 N_k}{\beta_k}
  (\bar x_k - m_0)(\bar x_k - m_0)^\top`.

As in scikit-learn, ``covariances_`` holds :math:`W_k^{-1} / \nu_k` (the inverse of
the posterior mean precision :math:`\nu_k W_k`), ``covariance_prior`` is
:math:`W_0^{-1}` and ``reg_covar`` is added to :math:`S_k`.
"""

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np
from scipy.special import betaln, digamma, gammaln
from sklearn.utils._param_validation import Interval, StrOptions

from .covariance import (
    covariances_from_statistics,
    log_det_cholesky,
    nonzero_counts,
    precision_cholesky_from_covariances,
    precisions_from_cholesky,
)
from .em_steps import MixtureParameters
from .free_energy import entropy_from_statistics
from .mixture import BaseMixture
from .validation import (
    check_covariance_prior,
    check_degrees_of_freedom_prior,
    check_mean_prior,
)

WEIGHT_PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")


@dataclass
class Priors:
    """The hyper-parameters of the prior (scikit-learn's ``*_prior_`` attributes).

    Attributes
    ----------
    weight_concentration_type : {'dirichlet_process', 'dirichlet_distribution'}
    weight_concentration : float
        :math:`\\gamma_0` (stick-breaking) or :math:`\\alpha_0` (Dirichlet).
    mean_precision : float
        :math:`\\beta_0`.
    mean : ndarray of shape (n_features,)
        :math:`m_0`.
    degrees_of_freedom : float
        :math:`\\nu_0`.
    covariance : ndarray or float
        :math:`W_0^{-1}`: shape (n_features, n_features) for 'full' and 'tied',
        (n_features,) for 'diag', a float for 'spherical'.
    """

    weight_concentration_type: str
    weight_concentration: float
    mean_precision: float
    mean: np.ndarray
    degrees_of_freedom: float
    covariance: object


@dataclass
class VariationalPosterior:
    """The factors :math:`q(w)` and :math:`q(\\mu_k, \\Lambda_k)`, in scikit-learn's layout.

    Attributes
    ----------
    weight_concentration : ndarray of shape (n_components,) or tuple of two
        :math:`\\alpha_k` (Dirichlet) or the Beta parameters :math:`(a_k, b_k)`
        of the sticks (Dirichlet process).
    mean_precision : ndarray of shape (n_components,)
        :math:`\\beta_k`.
    means : ndarray of shape (n_components, n_features)
        :math:`m_k`.
    degrees_of_freedom : ndarray of shape (n_components,) or float for 'tied'
        :math:`\\nu_k`.
    covariances : ndarray
        :math:`W_k^{-1} / \\nu_k`, shape by covariance type.
    precisions_cholesky : ndarray
        Cholesky factors of :math:`\\nu_k W_k`.
    """

    weight_concentration: object
    mean_precision: np.ndarray
    means: np.ndarray
    degrees_of_freedom: object
    covariances: np.ndarray
    precisions_cholesky: np.ndarray


# ------------------------------------------------------------------ weights
def update_weight_concentration(nk, priors):
    r"""Posterior of the weights from the counts :math:`N_k`.

    Dirichlet: :math:`\alpha_k = \alpha_0 + N_k` (Bishop 10.58). Dirichlet process
    (stick-breaking, Blei and Jordan 2006): :math:`a_k = 1 + N_k`,
    :math:`b_k = \gamma_0 + \sum_{j > k} N_j`.

    Parameters
    ----------
    nk : ndarray of shape (n_components,)
    priors : Priors

    Returns
    -------
    weight_concentration : ndarray of shape (n_components,) or tuple of two
    """
    if priors.weight_concentration_type == "dirichlet_process":
        tail = np.cumsum(nk[::-1])[::-1]
        later = np.append(tail[1:], 0.0)
        return 1.0 + nk, priors.weight_concentration + later
    return priors.weight_concentration + nk


def expected_log_weights(weight_concentration, weight_concentration_type):
    r""":math:`\mathbb{E}_q[\log w_k]`.

    Dirichlet: :math:`\psi(\alpha_k) - \psi(\sum_j \alpha_j)` (Bishop 10.66).
    Dirichlet process: :math:`\mathbb{E}[\log v_k] + \sum_{j<k} \mathbb{E}[\log(1 - v_j)]`
    with :math:`\mathbb{E}[\log v_k] = \psi(a_k) - \psi(a_k + b_k)` and
    :math:`\mathbb{E}[\log(1 - v_k)] = \psi(b_k) - \psi(a_k + b_k)`.

    Returns
    -------
    log_weights : ndarray of shape (n_components,)
    """
    if weight_concentration_type == "dirichlet_process":
        a, b = weight_concentration
        digamma_sum = digamma(a + b)
        log_stick = digamma(a) - digamma_sum
        log_rest = digamma(b) - digamma_sum
        return log_stick + np.concatenate(([0.0], np.cumsum(log_rest)[:-1]))
    return digamma(weight_concentration) - digamma(np.sum(weight_concentration))


def weights_from_concentration(weight_concentration, weight_concentration_type):
    r"""Point estimate of the weights (scikit-learn's ``weights_``).

    Dirichlet: the posterior mean :math:`\alpha_k / \sum_j \alpha_j`. Dirichlet
    process: :math:`\mathbb{E}[v_k] \prod_{j<k} (1 - \mathbb{E}[v_j])`, normalised
    over the truncation.

    Returns
    -------
    weights : ndarray of shape (n_components,)
    """
    if weight_concentration_type == "dirichlet_process":
        a, b = weight_concentration
        stick = a / (a + b)
        rest = np.concatenate(([1.0], np.cumprod(b / (a + b))[:-1]))
        weights = stick * rest
    else:
        weights = np.asarray(weight_concentration, dtype=np.float64)
    return weights / weights.sum()


# ------------------------------------------------- means and precisions
def _wishart_scale(nk, diff, mean_precision, priors, sk, covariance_type):
    r""":math:`W_k^{-1}` for each covariance type, batched over components."""
    shrink = priors.mean_precision * nk / mean_precision
    if covariance_type == "full":
        return (
            priors.covariance
            + nk[:, None, None] * sk
            + shrink[:, None, None] * diff[:, :, None] * diff[:, None, :]
        )
    n_components = len(nk)
    if covariance_type == "tied":
        # One Wishart for all components; each holds a 1/K share of the data.
        return (
            priors.covariance
            + sk * nk.sum() / n_components
            + (shrink[:, None] * diff).T @ diff / n_components
        )
    if covariance_type == "diag":
        return priors.covariance + nk[:, None] * sk + shrink[:, None] * diff**2
    return priors.covariance + nk * sk + shrink * np.mean(diff**2, axis=1)


def update_posterior(stats, priors, covariance_type, reg_covar):
    r"""The variational M-step: conjugate updates from the sufficient statistics.

    With :math:`N_k` (plus ``10 * eps`` as in scikit-learn,
    :func:`gmmlib.covariance.nonzero_counts`), the component means
    :math:`\bar x_k` and covariances :math:`S_k` (``reg_covar`` on the diagonal)
    of :func:`gmmlib.covariance.covariances_from_statistics`:
    :math:`\beta_k = \beta_0 + N_k`, :math:`m_k = (\beta_0 m_0 + N_k \bar x_k)/\beta_k`,
    :math:`\nu_k = \nu_0 + N_k` and
    :math:`W_k^{-1} = W_0^{-1} + N_k S_k + \frac{\beta_0 N_k}{\beta_k}
    (\bar x_k - m_0)(\bar x_k - m_0)^\top` (Bishop 10.58-10.63). For 'tied' one
    Wishart is shared: :math:`\nu = \nu_0 + N / K` and
    :math:`W^{-1} = W_0^{-1} + \frac{N}{K} S + \frac{1}{K}\sum_k \frac{\beta_0 N_k}{\beta_k}
    (\bar x_k - m_0)(\bar x_k - m_0)^\top`.

    Parameters
    ----------
    stats : SufficientStatistics
    priors : Priors
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    reg_covar : float

    Returns
    -------
    VariationalPosterior
    """
    nk = nonzero_counts(stats.nk)
    centred_means = stats.first_moments / nk[:, None]
    sk = covariances_from_statistics(
        nk, centred_means, stats.second_moments, covariance_type, reg_covar
    )
    diff = centred_means - (priors.mean - stats.shift)
    mean_precision = priors.mean_precision + nk
    means = priors.mean + nk[:, None] * diff / mean_precision[:, None]
    if covariance_type == "tied":
        degrees_of_freedom = priors.degrees_of_freedom + nk.sum() / len(nk)
    else:
        degrees_of_freedom = priors.degrees_of_freedom + nk
    scale = _wishart_scale(nk, diff, mean_precision, priors, sk, covariance_type)
    covariances = scale / np.reshape(
        degrees_of_freedom,
        np.shape(degrees_of_freedom)
        + (1,) * (scale.ndim - np.ndim(degrees_of_freedom)),
    )
    return VariationalPosterior(
        weight_concentration=update_weight_concentration(nk, priors),
        mean_precision=mean_precision,
        means=means,
        degrees_of_freedom=degrees_of_freedom,
        covariances=covariances,
        precisions_cholesky=precision_cholesky_from_covariances(
            covariances, covariance_type
        ),
    )


def expected_log_gaussian_offset(posterior, n_features):
    r"""Per-component constant that turns the Gaussian log-density into its expectation.

    :math:`\mathbb{E}_q[\log \mathcal{N}(x \mid \mu_k, \Lambda_k^{-1})] =
    \log \mathcal{N}(x \mid m_k, (\nu_k W_k)^{-1}) + c_k` with (Bishop 10.64-10.65)

    .. math:: c_k = \tfrac12 \Big( \sum_{i=0}^{d-1} \psi\big(\tfrac{\nu_k - i}{2}\big)
              + d \log 2 - d \log \nu_k - \frac{d}{\beta_k} \Big).

    Returns
    -------
    offset : ndarray of shape (n_components,)
    """
    nu = np.asarray(posterior.degrees_of_freedom, dtype=np.float64)
    log_lambda = n_features * math.log(2.0) + digamma(
        0.5 * (nu[..., None] - np.arange(n_features))
    ).sum(axis=-1)
    return 0.5 * (
        log_lambda - n_features * np.log(nu) - n_features / posterior.mean_precision
    )


def variational_log_weights(posterior, priors, n_features):
    r"""What the E-step adds to :math:`\log \mathcal{N}(x_n \mid m_k, (\nu_k W_k)^{-1})`.

    :math:`\mathbb{E}[\log w_k] + c_k` (see :func:`expected_log_weights` and
    :func:`expected_log_gaussian_offset`).

    Returns
    -------
    log_weights : ndarray of shape (n_components,)
    """
    return expected_log_weights(
        posterior.weight_concentration, priors.weight_concentration_type
    ) + expected_log_gaussian_offset(posterior, n_features)


def lower_bound(posterior, priors, entropy, covariance_type):
    r"""The evidence lower bound right after the M-step, up to a constant.

    Right after the conjugate updates the expected log-joint and the entropy of
    :math:`q(w, \mu, \Lambda)` reduce to the log-normalisers of the posterior
    factors, so (scikit-learn's convention, constants dropped)

    .. math:: \mathcal{L} = -\sum_{n,k} r_{nk} \log r_{nk}
              - \sum_k \log B(W_k, \nu_k) - \log C(\alpha)
              - \frac{d}{2} \sum_k \log \beta_k,

    with :math:`\log B(W, \nu) = -\frac{\nu}{2}\log|W| - \frac{\nu d}{2}\log 2
    - \sum_{i=0}^{d-1} \log\Gamma(\frac{\nu - i}{2})` (Bishop B.79 without its
    :math:`\pi` term), :math:`\log C(\alpha) = \log\Gamma(\sum_k \alpha_k)
    - \sum_k \log\Gamma(\alpha_k)` for the Dirichlet and
    :math:`-\sum_k \log \mathrm{B}(a_k, b_k)` for the sticks.

    Parameters
    ----------
    posterior : VariationalPosterior
    priors : Priors
    entropy : float
        :math:`-\sum_{n,k} r_{nk} \log r_{nk}` of the E-step before the update.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    lower_bound : float
    """
    n_components, n_features = posterior.means.shape
    nu = posterior.degrees_of_freedom
    # 0.5 log|W_k| = log|P_k| - 0.5 d log nu_k, since P_k P_k^T = nu_k W_k.
    half_log_det_w = log_det_cholesky(
        posterior.precisions_cholesky, covariance_type, n_features
    ) - 0.5 * n_features * np.log(nu)
    log_wishart_norm = -(
        nu * half_log_det_w
        + nu * n_features * 0.5 * math.log(2.0)
        + gammaln(0.5 * (np.asarray(nu)[..., None] - np.arange(n_features))).sum(
            axis=-1
        )
    )
    if covariance_type == "tied":
        log_wishart_norm = n_components * log_wishart_norm
    if priors.weight_concentration_type == "dirichlet_process":
        log_weight_norm = -np.sum(betaln(*posterior.weight_concentration))
    else:
        alpha = posterior.weight_concentration
        log_weight_norm = gammaln(np.sum(alpha)) - np.sum(gammaln(alpha))
    return float(
        entropy
        - np.sum(log_wishart_norm)
        - log_weight_norm
        - 0.5 * n_features * np.sum(np.log(posterior.mean_precision))
    )


class BayesianGaussianMixture(BaseMixture):
    """Variational Bayesian estimation of a Gaussian mixture.

    Same parameters, attributes and methods as scikit-learn's
    ``sklearn.mixture.BayesianGaussianMixture``; derived in chapter
    "How many components?". With a small ``weight_concentration_prior`` the
    posterior leaves unneeded components with weights near zero, so
    ``n_components`` is an upper bound on the number of components used.

    Parameters
    ----------
    n_components : int, default=1
        Number of components (the truncation level for the Dirichlet process).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    tol : float, default=1e-3
        Iterations stop when the lower bound changes by less than ``tol``.
    reg_covar : float, default=1e-6
        Added to the diagonal of the component covariances :math:`S_k`.
    max_iter : int, default=100
    n_init : int, default=1
        Number of initialisations; the one with the highest lower bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', \
'hierarchical'}, default='kmeans'
        As in :class:`gmmlib.GaussianMixture`: 'kmeans' on more than 10,000
        rows runs k-means on 10,000 of them
        (:func:`gmmlib.data_sources.kmeans_labels`); 'hierarchical' is R
        mclust's default start (:mod:`gmmlib.hierarchical`).
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}, \
default='dirichlet_process'
    weight_concentration_prior : float or None, default=None
        :math:`\\gamma_0` or :math:`\\alpha_0`; ``1 / n_components`` if None.
    mean_precision_prior : float or None, default=None
        :math:`\\beta_0`; 1 if None.
    mean_prior : array-like of shape (n_features,), default=None
        :math:`m_0`; the mean of X if None.
    degrees_of_freedom_prior : float or None, default=None
        :math:`\\nu_0 > d - 1`; ``n_features`` if None.
    covariance_prior : float or array-like, default=None
        :math:`W_0^{-1}`; the empirical covariance of X if None (shape by type:
        (d, d) for 'full' and 'tied', (d,) for 'diag', float for 'spherical').
    random_state : int, RandomState instance or None, default=None
    warm_start : bool, default=False
        Start a new ``fit`` from the last posterior.
    verbose : int, default=0
    verbose_interval : int, default=10
    missing_values : {'error', 'marginalize'}, default='error'
        As in :class:`gmmlib.GaussianMixture`: 'marginalize' treats NaN as
        missing at random. The variational E-step then scores each sample's
        observed coordinates and gives the missing ones their conditional
        Gaussian under :math:`\\mathcal{N}(m_k, (\\nu_k W_k)^{-1})`, which is the
        optimal factor :math:`q(x_{n,m} \\mid z_n = k)`; the entropy of that
        factor enters the bound (:func:`gmmlib.free_energy.entropy_from_statistics`).
        The default priors use the data with each NaN replaced by its column mean.
    stopping : {'change', 'aitken'}, default='change'
        As in :class:`gmmlib.GaussianMixture`, applied to the lower bound.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_, precisions_, precisions_cholesky_ : ndarray
        :math:`W_k^{-1}/\\nu_k`, its inverse and the inverse's Cholesky factor.
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Lower bound (up to a constant) of the best initialisation.
    lower_bounds_ : list of float
        Lower bound after each iteration of the best initialisation.
    weight_concentration_prior_, mean_precision_prior_, mean_prior_, \
degrees_of_freedom_prior_, covariance_prior_
        The priors used.
    weight_concentration_ : ndarray or tuple of two ndarrays
    mean_precision_ : ndarray of shape (n_components,)
    degrees_of_freedom_ : ndarray of shape (n_components,) or float for 'tied'
    history_ : structured ndarray of shape (n_iter_,)
        As in :class:`gmmlib.GaussianMixture`, but the two fields hold the mean
        of :meth:`score_samples` (not a log-likelihood) before and after each
        update; the objective is ``lower_bounds_``.
    n_features_in_ : int

    Notes
    -----
    :meth:`score_samples` returns scikit-learn's per-sample score
    :math:`\\log \\sum_k \\exp(\\log \\rho_{nk})`, with
    :math:`\\log \\rho_{nk} = \\mathbb{E}[\\log w_k] + \\mathbb{E}[\\log
    \\mathcal{N}(x_n \\mid \\mu_k, \\Lambda_k^{-1})]` the unnormalised log
    responsibilities. It is a lower bound on the log predictive density
    (Jensen), not the density itself.
    """

    _parameter_constraints = BaseMixture._parameter_constraints | {
        "weight_concentration_prior_type": [StrOptions(set(WEIGHT_PRIOR_TYPES))],
        "weight_concentration_prior": [
            None,
            Interval(Real, 0.0, None, closed="neither"),
        ],
        "mean_precision_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "mean_prior": [None, "array-like"],
        "degrees_of_freedom_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "covariance_prior": [
            None,
            "array-like",
            Interval(Real, 0.0, None, closed="neither"),
        ],
    }

    def __init__(
        self,
        *,
        n_components=1,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=None,
        mean_precision_prior=None,
        mean_prior=None,
        degrees_of_freedom_prior=None,
        covariance_prior=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        missing_values="error",
        stopping="change",
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.missing_values = missing_values
        self.stopping = stopping

    # ------------------------------------------------- what BaseMixture asks for
    def _prepare_fit(self, data):
        """The priors, with scikit-learn's defaults taken from the data (set as attributes)."""
        n_features = data.n_features
        if self.degrees_of_freedom_prior is not None:
            check_degrees_of_freedom_prior(self.degrees_of_freedom_prior, n_features)
        if self.mean_prior is None:
            mean = data.mean
        else:
            mean = check_mean_prior(self.mean_prior, n_features)
        if self.covariance_prior is None:
            covariance = data.column_covariance()
            covariance = {
                "full": covariance,
                "tied": covariance,
                "diag": np.diag(covariance).copy(),
                "spherical": float(np.diag(covariance).mean()),
            }[self.covariance_type]
        else:
            covariance = check_covariance_prior(
                self.covariance_prior, self.covariance_type, n_features
            )
        self.weight_concentration_prior_ = (
            1.0 / self.n_components
            if self.weight_concentration_prior is None
            else self.weight_concentration_prior
        )
        self.mean_precision_prior_ = (
            1.0 if self.mean_precision_prior is None else self.mean_precision_prior
        )
        self.mean_prior_ = np.asarray(mean, dtype=np.float64)
        self.degrees_of_freedom_prior_ = (
            n_features
            if self.degrees_of_freedom_prior is None
            else self.degrees_of_freedom_prior
        )
        self.covariance_prior_ = (
            covariance
            if self.covariance_type == "spherical"
            else np.asarray(covariance, dtype=np.float64)
        )

    def _priors(self):
        """The prior attributes as :class:`Priors`."""
        return Priors(
            self.weight_concentration_prior_type,
            self.weight_concentration_prior_,
            self.mean_precision_prior_,
            self.mean_prior_,
            self.degrees_of_freedom_prior_,
            self.covariance_prior_,
        )

    def _initial_state(self, data, random_state):
        """Posterior from the starting responsibilities (one M-step, as scikit-learn)."""
        return update_posterior(
            self._starting_statistics(data, random_state),
            self._priors(),
            self.covariance_type,
            self.reg_covar,
        )

    def _fitted_state(self):
        return VariationalPosterior(
            self.weight_concentration_,
            self.mean_precision_,
            self.means_.astype(np.float64),
            self.degrees_of_freedom_,
            self.covariances_.astype(np.float64),
            self.precisions_cholesky_.astype(np.float64),
        )

    def _parameters(self, posterior):
        r""":math:`\mathcal{N}(m_k, (\nu_k W_k)^{-1})` and :func:`variational_log_weights`."""
        weights = weights_from_concentration(
            posterior.weight_concentration, self.weight_concentration_prior_type
        )
        params = MixtureParameters(
            weights,
            posterior.means,
            posterior.covariances,
            posterior.precisions_cholesky,
            self.covariance_type,
        )
        n_features = posterior.means.shape[1]
        return params, variational_log_weights(posterior, self._priors(), n_features)

    def _m_step(self, stats, posterior):
        return update_posterior(
            stats, self._priors(), self.covariance_type, self.reg_covar
        )

    def _lower_bound(self, stats, posterior, new_posterior):
        """:func:`lower_bound` after the update, with the entropy of the E-step before it."""
        entropy = entropy_from_statistics(stats, *self._parameters(posterior))
        return lower_bound(new_posterior, self._priors(), entropy, self.covariance_type)

    def _set_state(self, posterior, dtype):
        self.weight_concentration_ = posterior.weight_concentration
        self.mean_precision_ = posterior.mean_precision
        self.degrees_of_freedom_ = posterior.degrees_of_freedom
        self.weights_ = weights_from_concentration(
            posterior.weight_concentration, self.weight_concentration_prior_type
        ).astype(dtype)
        self.means_ = posterior.means.astype(dtype)
        self.covariances_ = posterior.covariances.astype(dtype)
        self.precisions_cholesky_ = posterior.precisions_cholesky.astype(dtype)
        self.precisions_ = precisions_from_cholesky(
            self.precisions_cholesky_, self.covariance_type
        )
