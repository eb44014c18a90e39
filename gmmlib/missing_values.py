r"""EM for a Gaussian mixture when some coordinates of X are missing (NaN).

Chapter "EM with missing values" (``chapters/11_missing_values.md``) derives
the algorithm; it is the setting EM was named for (Dempster, Laird and Rubin
1977; Ghahramani and Jordan 1994; Little and Rubin 2019). Values are assumed
missing at random: whether a value is missing may depend on what was observed,
not on the missing value itself.

Split each sample into its observed part :math:`x_o` and missing part
:math:`x_m` (the split differs from sample to sample). The marginal of a Gaussian
is the Gaussian of the sub-vector and sub-matrix, so the E-step evaluates

.. math:: r_{nk} \propto w_k\, \mathcal{N}(x_{n,o} \mid \mu_{k,o}, \Sigma_{k,oo}),

and the observed-data log-likelihood is
:math:`\sum_n \log \sum_k w_k \mathcal{N}(x_{n,o} \mid \mu_{k,o}, \Sigma_{k,oo})`.
Given :math:`z_n = k` the missing part is Gaussian with

.. math::

    \hat x_{nk,m} = \mu_{k,m} + \Sigma_{k,mo} \Sigma_{k,oo}^{-1} (x_{n,o} - \mu_{k,o}),
    \qquad C_{k,mm} = \Sigma_{k,mm} - \Sigma_{k,mo} \Sigma_{k,oo}^{-1} \Sigma_{k,om},

so the expected sufficient statistics of the M-step are

.. math::

    N_k = \sum_n r_{nk}, \quad S_k = \sum_n r_{nk} \hat x_{nk}, \quad
    T_k = \sum_n r_{nk} \bigl(\hat x_{nk} \hat x_{nk}^\top + \hat C_{nk}\bigr),

where :math:`\hat x_{nk}` is :math:`x_n` with its missing coordinates replaced
by :math:`\hat x_{nk,m}`, and :math:`\hat C_{nk}` is zero except for the block
:math:`C_{k,mm}` on the missing coordinates. The M-step itself is the ordinary
one (:func:`gmmlib.em_steps.m_step`).

Samples are grouped by their pattern of missing coordinates, so each pattern
needs one Cholesky factorisation of :math:`\Sigma_{k,oo}` per component and
iteration, and each group is processed with matrix products. All four
covariance types are supported exactly: the E-step works with the full
matrices (:func:`gmmlib.covariance.full_covariances`), and the constrained
M-steps need only the sum over components ('tied') or the diagonals ('diag',
'spherical') of the expected second moments :math:`T_k`.

Computations run in float64 whatever the dtype of X.
"""

from dataclasses import dataclass

import numpy as np

from .covariance import full_covariances
from .em_steps import (
    LOG_2PI,
    SufficientStatistics,
    covariances_of,
    normalize_log_prob,
    parameters_from_model,
)
from .runtime import block_size

MISSING_VALUES_OPTIONS = ("error", "marginalize")


@dataclass
class MissingnessPatterns:
    """The distinct patterns of observed coordinates and the rows that have each.

    Attributes
    ----------
    observed : ndarray of shape (n_patterns, n_features), dtype bool
        ``observed[p, j]`` is True when coordinate ``j`` is observed in pattern ``p``.
    rows : list of ndarray
        ``rows[p]`` holds the indices of the samples with pattern ``p``.
    """

    observed: np.ndarray
    rows: list


def missingness_patterns(X):
    """Group the rows of X by which coordinates are NaN.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data with NaN for the missing values.

    Returns
    -------
    MissingnessPatterns

    Raises
    ------
    ValueError
        If a row has no observed coordinate: it carries no information about the
        mixture, and its "density" would be the empty product.
    """
    missing = np.isnan(X)
    empty = np.flatnonzero(missing.all(axis=1))
    if empty.size:
        raise ValueError(
            f"Input X has {empty.size} sample(s) whose values are all missing "
            f"(NaN), the first at row {empty[0]}. Each sample needs at least one "
            "observed value; remove such samples before calling this method."
        )
    observed, inverse = np.unique(~missing, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    rows = np.split(
        order, np.cumsum(np.bincount(inverse, minlength=len(observed)))[:-1]
    )
    return MissingnessPatterns(observed, rows)


def fill_with_column_means(X, sample_weight=None):
    """Replace each NaN by the (weighted) mean of the observed values of its column.

    Mean imputation: the baseline the chapter compares EM against, and the data
    :class:`gmmlib.GaussianMixture` computes its starting parameters from when
    ``missing_values='marginalize'``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,), optional

    Returns
    -------
    X_filled : ndarray of shape (n_samples, n_features)
        X itself when nothing is missing, otherwise a filled copy.

    Raises
    ------
    ValueError
        If a column has no observed value (with positive weight).
    """
    missing = np.isnan(X)
    if not missing.any():
        return X
    weights = np.ones(len(X)) if sample_weight is None else sample_weight
    observed_weight = (weights[:, None] * ~missing).sum(axis=0)
    empty = np.flatnonzero(observed_weight == 0)
    if empty.size:
        raise ValueError(
            f"Input X has {empty.size} feature(s) with no observed value (NaN in every "
            f"sample with positive weight), the first is feature {empty[0]}. Remove "
            "such features before calling this method."
        )
    column_means = np.where(missing, 0.0, X).T @ weights / observed_weight
    return np.where(missing, column_means.astype(X.dtype), X)


def _pattern_blocks(X, params, patterns, shift, log_weights=None):
    r"""Marginal log-densities and conditional moments, one block of one pattern at a time.

    ``log_weights`` replaces :math:`\log w_k` when given (the variational
    E-step of :mod:`gmmlib.bayesian_mixture` adds expectations there).

    Yields
    ------
    rows : ndarray of shape (n_block,)
        Indices of the samples in the block.
    log_prob : ndarray of shape (n_block, n_components)
        :math:`\log w_k + \log \mathcal{N}(x_{n,o} \mid \mu_{k,o}, \Sigma_{k,oo})`.
    completed : ndarray of shape (n_components, n_block, n_features)
        :math:`\hat x_{nk} - c`: the sample, centred on ``shift``, with its missing
        coordinates replaced by their conditional means under component k.
    correction : ndarray of shape (n_components, n_features, n_features)
        :math:`\hat C_{nk}`: the conditional covariances :math:`C_{k,mm}` placed
        on the missing coordinates, zero elsewhere (the same for every row of
        the pattern).
    """
    n_components, n_features = params.means.shape
    means = params.means - shift
    covariances = full_covariances(
        covariances_of(params), params.covariance_type, n_components, n_features
    )
    if log_weights is None:
        log_weights = np.log(params.weights)
    step = block_size(n_components, n_features)
    for observed, pattern_rows in zip(patterns.observed, patterns.rows, strict=True):
        o, m = np.flatnonzero(observed), np.flatnonzero(~observed)
        lower = np.linalg.cholesky(covariances[:, o[:, None], o])
        # Tiny inverses with numpy rather than scipy's triangular solver:
        # scipy calls its own copy of OpenBLAS, a second BLAS library next to
        # numpy's. Measured on 2 cores with 2 BLAS threads, a numpy matrix
        # product followed by three 4 x 4 triangular inverses took 0.13 ms
        # with scipy and 0.02 ms with np.linalg.inv; this runs once per
        # pattern and iteration (see also covariance._triangular_inverse).
        inverse_lower = np.linalg.inv(lower)
        # W_k = L_k^{-1} Sigma_{k,om}, so Sigma_mo Sigma_oo^{-1} v = W_k^T L_k^{-1} v.
        regression = inverse_lower @ covariances[:, o[:, None], m]
        correction = np.zeros((n_components, n_features, n_features))
        correction[:, m[:, None], m] = (
            covariances[:, m[:, None], m] - regression.transpose(0, 2, 1) @ regression
        )
        log_det = np.log(np.diagonal(lower, axis1=1, axis2=2)).sum(axis=1)
        for start in range(0, len(pattern_rows), step):
            rows = pattern_rows[start : start + step]
            observed_values = X[np.ix_(rows, o)].astype(np.float64) - shift[o]
            # whitened[k] = (x_o - mu_{k,o}) L_k^{-T}, shape (n_components, n_block, n_o)
            whitened = (
                observed_values[None] - means[:, None, o]
            ) @ inverse_lower.transpose(0, 2, 1)
            log_prob = (
                -0.5 * (len(o) * LOG_2PI + np.sum(whitened**2, axis=2)).T
                - log_det
                + log_weights
            )
            completed = np.empty((n_components, len(rows), n_features))
            completed[:, :, o] = observed_values
            completed[:, :, m] = means[:, None, m] + whitened @ regression
            yield rows, log_prob, completed, correction


def estimate_log_prob_resp_missing(X, params, patterns=None, log_weights=None):
    r"""Observed-data log-density of each sample and the responsibilities.

    The counterpart of :func:`gmmlib.em_steps.estimate_log_prob_resp` for data
    with NaN: each sample is scored by the marginal density of its observed
    coordinates, :math:`\log \sum_k w_k \mathcal{N}(x_{n,o} \mid \mu_{k,o}, \Sigma_{k,oo})`.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data with NaN for the missing values (at least one observed value per row).
    params : MixtureParameters
    patterns : MissingnessPatterns, optional
        Computed from X when not given.
    log_weights : ndarray of shape (n_components,), optional
        Added to the log-densities instead of ``log(params.weights)``.

    Returns
    -------
    log_prob_norm : ndarray of shape (n_samples,)
    resp : ndarray of shape (n_samples, n_components)
    """
    patterns = missingness_patterns(X) if patterns is None else patterns
    n_features = X.shape[1]
    log_prob_norm = np.empty(len(X))
    resp = np.empty((len(X), len(params.weights)))
    for rows, log_prob, _, _ in _pattern_blocks(
        X, params, patterns, np.zeros(n_features), log_weights
    ):
        log_prob_norm[rows] = normalize_log_prob(log_prob)
        resp[rows] = log_prob
    return log_prob_norm, resp


def e_step_missing(
    X, params, sample_weight=None, shift=None, patterns=None, log_weights=None
):
    r"""One E-step with the missing coordinates marginalised out.

    Same contract as :func:`gmmlib.em_steps.e_step`: returns the expected
    sufficient statistics :math:`N_k, S_k, T_k` (with the conditional-covariance
    correction in :math:`T_k`) and the observed-data log-likelihood, in the
    layout :func:`gmmlib.em_steps.m_step` expects for ``params.covariance_type``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data with NaN for the missing values (at least one observed value per row).
    params : MixtureParameters
    sample_weight : ndarray of shape (n_samples,), optional
    shift : ndarray of shape (n_features,), optional
        Centre subtracted before the sums are taken (default: zero).
    patterns : MissingnessPatterns, optional
        Computed from X when not given; pass it to avoid regrouping every iteration.
    log_weights : ndarray of shape (n_components,), optional
        Added to the log-densities instead of ``log(params.weights)``.

    Returns
    -------
    SufficientStatistics
    """
    patterns = missingness_patterns(X) if patterns is None else patterns
    n_components, n_features = params.means.shape
    shift = (
        np.zeros(n_features) if shift is None else np.asarray(shift, dtype=np.float64)
    )
    nk = np.zeros(n_components)
    first = np.zeros((n_components, n_features))
    second = np.zeros((n_components, n_features, n_features))
    log_likelihood = 0.0
    for rows, resp, completed, correction in _pattern_blocks(
        X, params, patterns, shift, log_weights
    ):
        log_prob_norm = normalize_log_prob(resp)
        if sample_weight is not None:
            log_prob_norm *= sample_weight[rows]
            resp *= sample_weight[rows, None]
        log_likelihood += float(log_prob_norm.sum())
        block_nk = resp.sum(axis=0)
        nk += block_nk
        first += np.einsum("nk,knd->kd", resp, completed)
        second += (
            completed.transpose(0, 2, 1) @ (resp.T[:, :, None] * completed)
            + block_nk[:, None, None] * correction
        )
    if params.covariance_type == "tied":
        second = second.sum(axis=0)
    elif params.covariance_type in ("diag", "spherical"):
        second = np.diagonal(second, axis1=1, axis2=2).copy()
    total_weight = float(len(X) if sample_weight is None else sample_weight.sum())
    return SufficientStatistics(nk, first, second, log_likelihood, total_weight, shift)


def impute_conditional_means(model, X):
    r"""Fill each NaN with its conditional expectation under a fitted mixture.

    .. math:: E[x_{n,m} \mid x_{n,o}] = \sum_k r_{nk}\, \hat x_{nk,m},

    the responsibility-weighted average of the per-component conditional means.
    Observed values are returned unchanged.

    Parameters
    ----------
    model : fitted gmmlib.GaussianMixture or sklearn.mixture.GaussianMixture
        Any object with ``weights_``, ``means_``, ``covariances_``,
        ``precisions_cholesky_`` and ``covariance_type``.
    X : array-like of shape (n_samples, n_features)
        Data with NaN for the missing values (at least one observed value per row).

    Returns
    -------
    X_imputed : ndarray of shape (n_samples, n_features)
    """
    X = np.asarray(X, dtype=np.float64)
    params = parameters_from_model(model)
    X_imputed = X.copy()
    patterns = missingness_patterns(X)
    for rows, resp, completed, _ in _pattern_blocks(
        X, params, patterns, np.zeros(X.shape[1])
    ):
        normalize_log_prob(resp)
        X_imputed[rows] = np.where(
            np.isnan(X[rows]), np.einsum("nk,knd->nd", resp, completed), X[rows]
        )
    return X_imputed
