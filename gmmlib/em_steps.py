r"""The E-step and M-step of EM for a Gaussian mixture.

One E-step pass over the data computes, block of rows by block of rows, the
log-densities :math:`\log w_k + \log \mathcal{N}(x_n \mid \mu_k, \Sigma_k)`, normalises
them into responsibilities

.. math:: r_{nk} = \frac{w_k \mathcal{N}(x_n \mid \mu_k, \Sigma_k)}
                        {\sum_j w_j \mathcal{N}(x_n \mid \mu_j, \Sigma_j)},

and adds up the sufficient statistics :math:`N_k, S_k, T_k` (see
:mod:`gmmlib.covariance`) and the log-likelihood. The responsibilities of a block
are dropped once its statistics are added, so memory grows with the block, not
with the data. The M-step turns the statistics into new parameters.

The data are centred on a fixed ``shift`` (usually the data mean) before the
sums are taken, which keeps :math:`T_k / N_k - \mu_k \mu_k^\top` accurate for
data far from the origin.
"""

from dataclasses import dataclass

import numpy as np

from .covariance import (covariances_from_statistics, log_det_cholesky,
                         precision_cholesky_from_covariances)

LOG_2PI = np.log(2.0 * np.pi)

#: Number of matrix entries (rows x components x features) a block of rows may use.
BLOCK_ENTRIES = 2**17


@dataclass
class MixtureParameters:
    """The parameters of a Gaussian mixture, in the layout scikit-learn uses.

    Attributes
    ----------
    weights : ndarray of shape (n_components,)
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray or None
        Shape by covariance type; None when only precisions were given.
    precisions_cholesky : ndarray
        Upper-triangular factors :math:`P_k`, :math:`P_k P_k^\\top = \\Sigma_k^{-1}`.
    covariance_type : str
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray
    covariance_type: str


@dataclass
class SufficientStatistics:
    """Weighted sums gathered by one E-step pass (of data centred on ``shift``).

    Attributes
    ----------
    nk : ndarray of shape (n_components,)
        :math:`N_k = \\sum_n w_n r_{nk}`.
    first_moments : ndarray of shape (n_components, n_features)
        :math:`S_k = \\sum_n w_n r_{nk} (x_n - c)`.
    second_moments : ndarray
        :math:`T_k = \\sum_n w_n r_{nk} (x_n - c)(x_n - c)^\\top`, stored by covariance
        type as in :func:`gmmlib.covariance.covariances_from_statistics`.
    log_likelihood : float
        :math:`\\sum_n w_n \\log p(x_n)` under the parameters of the E-step.
    total_weight : float
        :math:`\\sum_n w_n`.
    shift : ndarray of shape (n_features,)
        The centre :math:`c` subtracted from the data.
    """

    nk: np.ndarray
    first_moments: np.ndarray
    second_moments: np.ndarray
    log_likelihood: float
    total_weight: float
    shift: np.ndarray

    @property
    def mean_log_likelihood(self):
        """Weighted mean log-likelihood per sample."""
        return self.log_likelihood / self.total_weight


def block_size(n_components, n_features):
    """Rows per block so that an (rows, n_components * n_features) buffer stays small."""
    return max(256, BLOCK_ENTRIES // (n_components * max(n_features, 2)))


def estimate_log_gaussian_prob(X, means, precisions_cholesky, covariance_type):
    r"""Log-density of every sample under every component.

    .. math:: \log \mathcal{N}(x_n \mid \mu_k, \Sigma_k) = -\tfrac12 \left(d \log 2\pi
              + \lVert P_k^\top (x_n - \mu_k) \rVert^2 \right) + \log |P_k|

    For 'full' all components are handled by one matrix product of X with the
    factors :math:`P_1, \dots, P_K` placed side by side.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    means : ndarray of shape (n_components, n_features)
    precisions_cholesky : ndarray
        Factors in scikit-learn's layout for the covariance type.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    log_prob : ndarray of shape (n_samples, n_components)
    """
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    if covariance_type == "full":
        factors = precisions_cholesky.transpose(1, 0, 2).reshape(n_features, -1)
        projected_means = np.einsum("kd,kde->ke", means, precisions_cholesky).ravel()
        y = X @ factors
        y -= projected_means
        np.square(y, out=y)
        mahalanobis = y.reshape(n_samples, n_components, n_features).sum(axis=2)
    elif covariance_type == "tied":
        y = X @ precisions_cholesky
        projected_means = means @ precisions_cholesky
        mahalanobis = -2.0 * (y @ projected_means.T)
        mahalanobis += np.einsum("nd,nd->n", y, y)[:, None]
        mahalanobis += np.einsum("kd,kd->k", projected_means, projected_means)
    else:
        precisions = precisions_cholesky**2
        if covariance_type == "spherical":
            precisions = np.repeat(precisions[:, None], n_features, axis=1)
        mahalanobis = -2.0 * (X @ (means * precisions).T)
        mahalanobis += (X * X) @ precisions.T
        mahalanobis += np.sum(means**2 * precisions, axis=1)
    log_det = log_det_cholesky(precisions_cholesky, covariance_type, n_features)
    mahalanobis += n_features * LOG_2PI
    mahalanobis *= -0.5
    mahalanobis += log_det
    return mahalanobis


def normalize_log_prob(weighted_log_prob):
    r"""Turn :math:`\log w_k p_k(x_n)` into responsibilities, in place.

    A stable log-sum-exp with one exponential per entry:
    :math:`\log p(x_n) = m_n + \log \sum_k e^{a_{nk} - m_n}`, :math:`m_n = \max_k a_{nk}`.

    Parameters
    ----------
    weighted_log_prob : ndarray of shape (n_samples, n_components)
        Overwritten with the responsibilities.

    Returns
    -------
    log_prob_norm : ndarray of shape (n_samples,)
        :math:`\log p(x_n)`.
    """
    row_max = weighted_log_prob.max(axis=1, keepdims=True)
    row_max[~np.isfinite(row_max)] = 0.0
    weighted_log_prob -= row_max
    np.exp(weighted_log_prob, out=weighted_log_prob)
    total = weighted_log_prob.sum(axis=1, keepdims=True)
    weighted_log_prob /= total
    with np.errstate(divide="ignore"):
        return (np.log(total) + row_max)[:, 0]


def estimate_log_prob_resp(X, params, shift=None, log_weights=None):
    """Log-likelihood of each sample and the responsibilities, block by block.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    params : MixtureParameters
    shift : ndarray of shape (n_features,), optional
        Centre subtracted from X and the means (it does not change the result).
    log_weights : ndarray of shape (n_components,), optional
        Added to the log-densities instead of ``log(params.weights)`` (the
        variational E-step of :mod:`gmmlib.bayesian_mixture` adds expectations).

    Returns
    -------
    log_prob_norm : ndarray of shape (n_samples,)
    resp : ndarray of shape (n_samples, n_components)
    """
    n_samples, n_features = X.shape
    n_components = len(params.weights)
    shift = np.zeros(n_features) if shift is None else shift
    means = params.means - shift
    if log_weights is None:
        log_weights = np.log(params.weights)
    resp = np.empty((n_samples, n_components), dtype=X.dtype)
    log_prob_norm = np.empty(n_samples, dtype=X.dtype)
    step = block_size(n_components, n_features)
    for start in range(0, n_samples, step):
        rows = slice(start, start + step)
        block = estimate_log_gaussian_prob(X[rows] - shift, means,
                                           params.precisions_cholesky,
                                           params.covariance_type)
        block += log_weights
        log_prob_norm[rows] = normalize_log_prob(block)
        resp[rows] = block
    return log_prob_norm, resp


def statistics_from_resp(X, resp, covariance_type, sample_weight=None, shift=None):
    """Sufficient statistics of centred data for given responsibilities.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data, already centred on ``shift`` if one is used.
    resp : ndarray of shape (n_samples, n_components)
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    sample_weight : ndarray of shape (n_samples,), optional

    Returns
    -------
    nk, first_moments, second_moments : ndarray
        As in :class:`SufficientStatistics`.
    """
    n_samples, n_features = X.shape
    n_components = resp.shape[1]
    weighted = resp if sample_weight is None else resp * sample_weight[:, None]
    nk = weighted.sum(axis=0, dtype=np.float64)
    first = (weighted.T @ X).astype(np.float64)
    if covariance_type == "full":
        scaled = weighted[:, :, None] * X[:, None, :]
        second = (scaled.reshape(n_samples, -1).T @ X).astype(np.float64)
        second = second.reshape(n_components, n_features, n_features)
    elif covariance_type == "tied":
        row_weights = weighted.sum(axis=1)
        second = ((X * row_weights[:, None]).T @ X).astype(np.float64)
    else:
        second = (weighted.T @ (X * X)).astype(np.float64)
    return nk, first, second


def e_step(X, params, sample_weight=None, shift=None, log_weights=None):
    """One E-step pass: the log-likelihood and the sufficient statistics.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    params : MixtureParameters
    sample_weight : ndarray of shape (n_samples,), optional
    shift : ndarray of shape (n_features,), optional
        Centre of the data used for the sums (default: zero).
    log_weights : ndarray of shape (n_components,), optional
        Added to the log-densities instead of ``log(params.weights)`` (the
        variational E-step of :mod:`gmmlib.bayesian_mixture` adds expectations).

    Returns
    -------
    SufficientStatistics
    """
    n_samples, n_features = X.shape
    n_components = len(params.weights)
    shift = np.zeros(n_features) if shift is None else np.asarray(shift, dtype=np.float64)
    means = (params.means - shift).astype(X.dtype)
    precisions_cholesky = params.precisions_cholesky.astype(X.dtype)
    log_weights = (np.log(params.weights) if log_weights is None
                   else log_weights).astype(X.dtype)
    nk = np.zeros(n_components)
    first = np.zeros((n_components, n_features))
    second = 0.0
    log_likelihood = 0.0
    step = block_size(n_components, n_features)
    for start in range(0, n_samples, step):
        rows = slice(start, start + step)
        block = X[rows] - shift.astype(X.dtype)
        weights = None if sample_weight is None else sample_weight[rows]
        resp = estimate_log_gaussian_prob(block, means, precisions_cholesky,
                                          params.covariance_type)
        resp += log_weights
        log_prob_norm = normalize_log_prob(resp)
        log_likelihood += float(log_prob_norm.sum(dtype=np.float64) if weights is None
                                else log_prob_norm @ weights)
        block_nk, block_first, block_second = statistics_from_resp(
            block, resp, params.covariance_type, weights)
        nk += block_nk
        first += block_first
        second = second + block_second
    total_weight = float(n_samples if sample_weight is None else sample_weight.sum())
    return SufficientStatistics(nk, first, second, log_likelihood, total_weight, shift)


def m_step(stats, covariance_type, reg_covar):
    r"""New parameters from the sufficient statistics.

    .. math:: w_k = \frac{N_k}{\sum_j N_j}, \quad \mu_k = \frac{S_k}{N_k}, \quad
              \Sigma_k = \frac{T_k}{N_k} - \mu_k \mu_k^\top + \epsilon I

    :math:`N_k` gets ``10 * eps`` added, as in scikit-learn, so an empty
    component does not divide by zero.

    Parameters
    ----------
    stats : SufficientStatistics
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    reg_covar : float

    Returns
    -------
    MixtureParameters
    """
    nk = stats.nk + 10 * np.finfo(np.float64).eps
    centred_means = stats.first_moments / nk[:, None]
    covariances = covariances_from_statistics(nk, centred_means, stats.second_moments,
                                              covariance_type, reg_covar)
    return MixtureParameters(
        weights=nk / nk.sum(),
        means=centred_means + stats.shift,
        covariances=covariances,
        precisions_cholesky=precision_cholesky_from_covariances(covariances,
                                                                covariance_type),
        covariance_type=covariance_type,
    )
