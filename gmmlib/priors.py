r"""MAP EM: a conjugate prior on the means and covariances, as in R's mclust.

Fraley and Raftery (2007, "Bayesian regularization for normal mixture
estimation and model-based clustering", *Journal of Classification* 24,
155-181) replace the maximum-likelihood M-step by the posterior mode under a
conjugate prior; mclust's ``priorControl()`` turns it on. EM then climbs the
log-posterior :math:`\ell(\Theta) + \log p(\Theta)` instead of
:math:`\ell(\Theta)` (the proof of chapter "General EM and why it climbs" goes
through with :math:`Q + \log p` in place of :math:`Q`), and a component can no
longer collapse onto a few observations: the prior's scale matrix keeps every
covariance away from singular. The mixing weights get no prior (their M-step is
:math:`w_k = N_k / N`, as in mclust).

The prior, with hyperparameters :math:`\kappa` (``shrinkage``), :math:`\mu_p`
(``mean``), :math:`\nu` (``degrees_of_freedom``) and :math:`\Lambda_p`
(``scale``), is for each component

- 'full': :math:`\Sigma_k \sim \mathcal{W}^{-1}(\nu, \Lambda_p)` and
  :math:`\mu_k \mid \Sigma_k \sim \mathcal{N}(\mu_p, \Sigma_k / \kappa)`
  (normal-inverse-Wishart; the inverse Wishart density is
  :math:`\propto |\Sigma|^{-(\nu + d + 1)/2} e^{-\operatorname{tr}(\Lambda_p
  \Sigma^{-1})/2}`);
- 'tied': one :math:`\Sigma \sim \mathcal{W}^{-1}(\nu, \Lambda_p)` and each
  :math:`\mu_k \mid \Sigma \sim \mathcal{N}(\mu_p, \Sigma / \kappa)`;
- 'diag': each variance :math:`\sigma_{kj}^2 \sim \text{Inv-Gamma}(\nu/2,
  \varsigma_j / 2)` and :math:`\mu_{kj} \mid \sigma_{kj}^2 \sim
  \mathcal{N}(\mu_{p,j}, \sigma_{kj}^2 / \kappa)`;
- 'spherical': :math:`\sigma_k^2 \sim \text{Inv-Gamma}(\nu/2, \varsigma/2)` and
  :math:`\mu_k \mid \sigma_k^2 \sim \mathcal{N}(\mu_p, \sigma_k^2 I / \kappa)`.

With :math:`N_k`, :math:`\bar x_k = S_k / N_k` and the scatter :math:`W_k =
\sum_n r_{nk} (x_n - \bar x_k)(x_n - \bar x_k)^\top` of one E-step, and
:math:`B_k = W_k + \frac{\kappa N_k}{N_k + \kappa} (\bar x_k - \mu_p)(\bar x_k -
\mu_p)^\top`, the posterior mode is (:func:`map_m_step`)

.. math::

    \begin{aligned}
    \mu_k &= \frac{N_k \bar x_k + \kappa \mu_p}{N_k + \kappa}, \qquad
    w_k = \frac{N_k}{N}, \\
    \Sigma_k &= \frac{\Lambda_p + B_k}{\nu + N_k + d + 2}
        \quad\text{('full')}, \qquad
    \Sigma = \frac{\Lambda_p + \sum_k B_k}{\nu + N + d + 1 + K}
        \quad\text{('tied')}, \\
    \sigma_{kj}^2 &= \frac{\varsigma_j + (B_k)_{jj}}{\nu + N_k + 3}
        \quad\text{('diag')}, \qquad
    \sigma_k^2 = \frac{\varsigma + \operatorname{tr} B_k}{\nu + d N_k + d + 2}
        \quad\text{('spherical')}.
    \end{aligned}

These are the formulas of mclust's Fortran M-steps ``msvvvp``, ``mseeep``,
``msvvip`` and ``msviip`` (models VVV, EEE, VVI and VII). With :math:`\kappa =
0` the mean has a flat prior: :math:`\mu_k = \bar x_k`, :math:`B_k = W_k`, and
each denominator loses the term the mean's prior brought (1, :math:`K`, 1 and
:math:`d`), as in mclust.

mclust's defaults (``defaultPrior``), scaled to the data and to :math:`K`
(:func:`default_prior`): :math:`\kappa = 0.01`, :math:`\mu_p` the column means,
:math:`\nu = d + 2`, and :math:`\Lambda_p = \hat\Sigma / K^{2/d}` for 'full' and
'tied' (:math:`\hat\Sigma` the column covariance of the data, divisor
:math:`n - 1`; its diagonal when :math:`n \le d`), :math:`\varsigma =
\operatorname{tr} \hat\Sigma / (d K^{2/d})` for 'diag' and 'spherical'.
"""

from dataclasses import dataclass, fields
from numbers import Real

import numpy as np
from scipy.special import gammaln, multigammaln

from .covariance import (
    covariances_from_statistics,
    log_det_cholesky,
    nonzero_counts,
    precisions_from_cholesky,
)
from .em_steps import parameters_from_m_step

LOG_2PI = np.log(2.0 * np.pi)

#: mclust's default shrinkage :math:`\kappa` (``defaultPrior``).
DEFAULT_SHRINKAGE = 0.01


@dataclass(frozen=True)
class ConjugatePrior:
    r"""Hyperparameters of the conjugate prior of :mod:`gmmlib.priors`.

    Attributes
    ----------
    shrinkage : float
        :math:`\kappa \ge 0`: the prior mean counts as :math:`\kappa`
        observations. 0 gives the mean a flat prior.
    mean : ndarray of shape (n_features,)
        :math:`\mu_p`.
    degrees_of_freedom : float
        :math:`\nu`: above :math:`d - 1` for 'full' and 'tied', above 0 for
        'diag' and 'spherical'.
    scale : ndarray or float
        :math:`\Lambda_p`, shape (n_features, n_features) and positive
        definite for 'full' and 'tied'; :math:`\varsigma`, a positive float
        (or for 'diag' a positive vector of shape (n_features,)) for 'diag'
        and 'spherical'.
    """

    shrinkage: float
    mean: np.ndarray
    degrees_of_freedom: float
    scale: object


#: The names a ``prior`` dict may use (those of :class:`ConjugatePrior`).
PRIOR_KEYS = tuple(field.name for field in fields(ConjugatePrior))


def default_prior(mean, covariance, n_samples, n_components, covariance_type):
    r"""mclust's default hyperparameters (``defaultPrior``) for data and :math:`K`.

    Parameters
    ----------
    mean : ndarray of shape (n_features,)
        Column means of the data.
    covariance : ndarray of shape (n_features, n_features)
        Column covariance of the data (divisor :math:`n - 1`, as R's ``var``).
    n_samples : int
    n_components : int
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    ConjugatePrior
        :math:`\kappa = 0.01`, :math:`\mu_p` = ``mean``, :math:`\nu = d + 2`,
        :math:`\Lambda_p = \hat\Sigma / K^{2/d}` ('full', 'tied'; the diagonal
        of :math:`\hat\Sigma` when :math:`n \le d`) or
        :math:`\varsigma = \operatorname{tr}\hat\Sigma / (d K^{2/d})`
        ('diag', 'spherical').
    """
    mean = np.asarray(mean, dtype=np.float64)
    covariance = np.asarray(covariance, dtype=np.float64)
    n_features = len(mean)
    factor = (1.0 / n_components) ** (2.0 / n_features)
    if covariance_type in ("full", "tied"):
        if n_samples <= n_features:
            covariance = np.diag(np.diag(covariance))
        scale = factor * covariance
    else:
        scale = factor * float(np.trace(covariance)) / n_features
    return ConjugatePrior(DEFAULT_SHRINKAGE, mean, n_features + 2.0, scale)


def check_prior(prior, covariance_type, n_features):
    """Validate a :class:`ConjugatePrior` for a covariance type and dimension.

    Returns
    -------
    ConjugatePrior
        With float64 arrays (a float scale for 'spherical').

    Raises
    ------
    ValueError
        Naming the hyperparameter that is out of range or of the wrong shape.
    """
    shrinkage = prior.shrinkage
    if not (isinstance(shrinkage, Real) and 0 <= shrinkage < np.inf):
        raise ValueError(
            f"The prior's shrinkage must be a finite number >= 0, got {shrinkage!r}."
        )
    mean = np.asarray(prior.mean, dtype=np.float64)
    if mean.shape != (n_features,) or not np.all(np.isfinite(mean)):
        raise ValueError(
            f"The prior's mean must be a finite vector of shape ({n_features},), "
            f"got shape {mean.shape}."
        )
    dof = prior.degrees_of_freedom
    lowest = n_features - 1 if covariance_type in ("full", "tied") else 0
    if not (isinstance(dof, Real) and lowest < dof < np.inf):
        raise ValueError(
            f"The prior's degrees_of_freedom must be a finite number > {lowest} "
            f"for covariance_type={covariance_type!r}, got {dof!r}."
        )
    scale = np.asarray(prior.scale, dtype=np.float64)
    if covariance_type in ("full", "tied"):
        if scale.shape != (n_features, n_features):
            raise ValueError(
                f"The prior's scale must be of shape ({n_features}, {n_features}) "
                f"for covariance_type={covariance_type!r}, got {scale.shape}."
            )
        if not (
            np.allclose(scale, scale.T, rtol=0, atol=0)
            and np.all(np.linalg.eigvalsh(scale) > 0)
        ):
            raise ValueError("The prior's scale must be symmetric positive definite.")
    else:
        shapes = [()] + ([(n_features,)] if covariance_type == "diag" else [])
        if scale.shape not in shapes or not np.all(scale > 0):
            expected = "a positive number" + (
                f" or a positive vector of shape ({n_features},)"
                if covariance_type == "diag"
                else ""
            )
            raise ValueError(
                f"The prior's scale must be {expected} for "
                f"covariance_type={covariance_type!r}, got {prior.scale!r}."
            )
        if covariance_type == "spherical":
            scale = float(scale)
    return ConjugatePrior(float(shrinkage), mean, float(dof), scale)


def resolve_prior(prior, data, n_components, covariance_type):
    """The :class:`ConjugatePrior` that ``GaussianMixture(prior=...)`` asks for.

    Parameters
    ----------
    prior : None, 'default', dict or ConjugatePrior
        None: no prior (maximum likelihood). 'default': :func:`default_prior`
        for the data. A dict: the default with the hyperparameters it names
        replaced (keys from :data:`PRIOR_KEYS`), as mclust's
        ``priorControl(...)``. A :class:`ConjugatePrior`: used as given.
    data : data source
        With ``mean``, ``column_covariance()``, ``n_samples`` and
        ``n_features`` (:mod:`gmmlib.data_sources`).
    n_components : int
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    ConjugatePrior or None
    """
    if prior is None:
        return None
    if not isinstance(prior, ConjugatePrior):
        given = {} if isinstance(prior, str) else dict(prior)
        unknown = sorted(set(given) - set(PRIOR_KEYS))
        if unknown:
            raise ValueError(
                f"Unknown prior hyperparameters {unknown}; the keys are {PRIOR_KEYS}."
            )
        if len(given) < len(PRIOR_KEYS):
            default = default_prior(
                data.mean,
                data.column_covariance(),
                data.n_samples,
                n_components,
                covariance_type,
            )
            given = {key: getattr(default, key) for key in PRIOR_KEYS} | given
        prior = ConjugatePrior(**given)
    return check_prior(prior, covariance_type, data.n_features)


def _denominators(nk, prior, covariance_type, n_features):
    """The divisors of the posterior mode's covariances (see the module docstring)."""
    has_mean_prior = prior.shrinkage > 0
    dof = prior.degrees_of_freedom
    if covariance_type == "full":
        return dof + nk + n_features + 1 + has_mean_prior
    if covariance_type == "tied":
        return dof + nk.sum() + n_features + 1 + len(nk) * has_mean_prior
    if covariance_type == "diag":
        return dof + nk + 2 + has_mean_prior
    return dof + n_features * nk + 2 + n_features * has_mean_prior


def map_m_step(stats, prior, covariance_type, reg_covar=0.0):
    r"""The posterior mode given the statistics of an E-step: MAP EM's M-step.

    The formulas of the module docstring, computed from :math:`N_k, S_k, T_k`
    centred on ``stats.shift``: the scatters :math:`W_k` are
    :func:`gmmlib.covariance.covariances_from_statistics` (without
    ``reg_covar``) times the counts, and ``reg_covar`` is added to the
    diagonal of the result, as in :func:`gmmlib.em_steps.m_step` (with
    ``reg_covar=0`` the step is the exact maximiser of :math:`Q + \log p`).

    Parameters
    ----------
    stats : SufficientStatistics
    prior : ConjugatePrior
        Validated (:func:`check_prior`).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    reg_covar : float, default=0.0

    Returns
    -------
    MixtureParameters
    """
    nk = nonzero_counts(stats.nk)
    n_features = stats.first_moments.shape[1]
    kappa = prior.shrinkage
    centred_means = stats.first_moments / nk[:, None]
    spread = covariances_from_statistics(
        nk, centred_means, stats.second_moments, covariance_type, 0.0
    )
    offsets = centred_means - (prior.mean - stats.shift)
    pull = kappa * nk / (nk + kappa)
    if covariance_type == "full":
        scatter = spread * nk[:, None, None]
        scatter += pull[:, None, None] * offsets[:, :, None] * offsets[:, None, :]
        scatter += prior.scale
    elif covariance_type == "tied":
        scatter = spread * nk.sum() + (pull[:, None] * offsets).T @ offsets
        scatter += prior.scale
    elif covariance_type == "diag":
        scatter = spread * nk[:, None] + pull[:, None] * offsets**2 + prior.scale
    else:
        scatter = (
            spread * (n_features * nk) + pull * np.sum(offsets**2, axis=1) + prior.scale
        )
    denominators = _denominators(nk, prior, covariance_type, n_features)
    if covariance_type == "full":
        covariances = scatter / denominators[:, None, None]
        covariances[:, np.arange(n_features), np.arange(n_features)] += reg_covar
    elif covariance_type == "tied":
        covariances = scatter / denominators
        covariances.flat[:: n_features + 1] += reg_covar
    elif covariance_type == "diag":
        covariances = scatter / denominators[:, None] + reg_covar
    else:
        covariances = scatter / denominators + reg_covar
    means = (nk[:, None] * centred_means + kappa * (prior.mean - stats.shift)) / (
        nk + kappa
    )[:, None]
    return parameters_from_m_step(
        nk, means + stats.shift, covariances, stats, covariance_type
    )


def log_prior(params, prior):
    r"""Log-density of the prior at the parameters, :math:`\log p(\Theta)`.

    The sum over components of :math:`\log \mathcal{N}(\mu_k \mid \mu_p,
    \Sigma_k / \kappa)` (dropped when :math:`\kappa = 0`: a flat prior) and
    of the inverse-Wishart (inverse-gamma for 'diag' and 'spherical') log-density
    of the covariances, normalising constants included; the weights have a flat
    prior. For 'tied' the one covariance counts once.

    Parameters
    ----------
    params : MixtureParameters
    prior : ConjugatePrior
        Validated (:func:`check_prior`).

    Returns
    -------
    log_density : float
    """
    covariance_type = params.covariance_type
    n_components, n_features = params.means.shape
    factors = params.precisions_cholesky
    kappa, dof = prior.shrinkage, prior.degrees_of_freedom
    log_det = log_det_cholesky(factors, covariance_type, n_features)  # log|P_k|
    offsets = params.means - prior.mean
    total = 0.0
    if covariance_type in ("full", "tied"):
        if kappa > 0:
            stack = factors if covariance_type == "full" else factors[None]
            projected = np.einsum(
                "kd,kde->ke",
                offsets,
                np.broadcast_to(stack, (n_components, n_features, n_features)),
            )
            total += np.sum(
                0.5 * n_features * (np.log(kappa) - LOG_2PI)
                + log_det
                - 0.5 * kappa * np.sum(projected**2, axis=1)
            )
        precisions = precisions_from_cholesky(factors, covariance_type)
        _, log_det_scale = np.linalg.slogdet(prior.scale)
        traces = np.sum(prior.scale * precisions, axis=(-2, -1))
        total += np.sum(
            0.5 * dof * log_det_scale
            - 0.5 * dof * n_features * np.log(2.0)
            - multigammaln(0.5 * dof, n_features)
            + (dof + n_features + 1) * np.atleast_1d(log_det)
            - 0.5 * np.atleast_1d(traces)
        )
        return float(total)
    precisions = factors**2
    if covariance_type == "spherical":
        precisions = np.repeat(precisions[:, None], n_features, axis=1)
    # One normal and one inverse gamma per variance ('diag'), or one normal
    # in d dimensions and one inverse gamma per component ('spherical').
    if kappa > 0:
        total += np.sum(
            0.5 * (np.log(kappa) - LOG_2PI)
            + 0.5 * np.log(precisions)
            - 0.5 * kappa * offsets**2 * precisions
        )
    half_scale = 0.5 * np.broadcast_to(prior.scale, (n_features,))
    variances_precisions = (
        precisions if covariance_type == "diag" else precisions[:, :1]
    )
    half_scale = half_scale if covariance_type == "diag" else half_scale[:1]
    half_dof = 0.5 * dof
    total += np.sum(
        half_dof * np.log(half_scale)
        - gammaln(half_dof)
        + (half_dof + 1) * np.log(variances_precisions)
        - half_scale * variances_precisions
    )
    return float(total)
