r"""The free energy of EM: a lower bound on the log-likelihood and its gap.

Chapter "The free-energy view" (``chapters/05_free_energy.md``) derives these
quantities. For data :math:`x_1, \dots, x_N` with sample weights :math:`v_n`
(all one by default), a mixture :math:`\Theta = (w_k, \mu_k, \Sigma_k)_k` and any
distribution :math:`q` over the hidden labels, one row :math:`q_{n\cdot}` per
sample (``resp``),

.. math::

    Q(q, \Theta) &= \sum_n v_n \sum_k q_{nk}
        \bigl[\log w_k + \log \mathcal{N}(x_n \mid \mu_k, \Sigma_k)\bigr], \\
    H(q) &= -\sum_n v_n \sum_k q_{nk} \log q_{nk}, \\
    F(q, \Theta) &= Q(q, \Theta) + H(q), \\
    \mathrm{KL}(q, \Theta) &= \sum_n v_n \sum_k q_{nk}
        \log \frac{q_{nk}}{p(z_n = k \mid x_n, \Theta)}, \\
    \ell(\Theta) &= \sum_n v_n \log \sum_k w_k \mathcal{N}(x_n \mid \mu_k, \Sigma_k)
        = F(q, \Theta) + \mathrm{KL}(q, \Theta).

All functions return totals over the samples (not means), in float64. Terms
with :math:`q_{nk} = 0` count as zero (:math:`0 \log 0 = 0`).
"""

import numpy as np
from scipy.special import entr

from .covariance import log_det_cholesky, precisions_from_cholesky
from .em_steps import LOG_2PI, estimate_log_gaussian_prob, normalize_log_prob


def _log_joint(X, params):
    r""":math:`\log w_k + \log \mathcal{N}(x_n \mid \mu_k, \Sigma_k)`, shape (n_samples, n_components)."""
    X = np.asarray(X, dtype=np.float64)
    log_joint = estimate_log_gaussian_prob(
        X,
        np.asarray(params.means, dtype=np.float64),
        np.asarray(params.precisions_cholesky, dtype=np.float64),
        params.covariance_type,
    )
    with np.errstate(divide="ignore"):
        log_joint += np.log(np.asarray(params.weights, dtype=np.float64))
    return log_joint


def _weighted_total(per_sample, sample_weight):
    """Sum over samples, each weighted by its sample weight."""
    if sample_weight is None:
        return float(per_sample.sum())
    return float(per_sample @ np.asarray(sample_weight, dtype=np.float64))


def _expectation(resp, log_values):
    r""":math:`\sum_k q_{nk} a_{nk}` per sample, with :math:`q_{nk} = 0` terms dropped."""
    resp = np.asarray(resp, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(resp > 0, resp * log_values, 0.0).sum(axis=1)


def log_likelihood(X, params, sample_weight=None):
    r"""Log-likelihood :math:`\ell(\Theta) = \sum_n v_n \log p(x_n \mid \Theta)`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    params : MixtureParameters
    sample_weight : array-like of shape (n_samples,), optional

    Returns
    -------
    log_likelihood : float
        The total (not the mean) over the samples.
    """
    log_prob_norm = normalize_log_prob(_log_joint(X, params))
    return _weighted_total(log_prob_norm, sample_weight)


def expected_complete_log_likelihood(X, resp, params, sample_weight=None):
    r"""Expected complete-data log-likelihood :math:`Q(q, \Theta) = E_q[\log p(X, Z \mid \Theta)]`.

    .. math:: Q = \sum_n v_n \sum_k q_{nk}
              \bigl[\log w_k + \log \mathcal{N}(x_n \mid \mu_k, \Sigma_k)\bigr]

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    resp : array-like of shape (n_samples, n_components)
        The distribution :math:`q` of the labels; each row sums to one.
    params : MixtureParameters
    sample_weight : array-like of shape (n_samples,), optional

    Returns
    -------
    Q : float
    """
    return _weighted_total(_expectation(resp, _log_joint(X, params)), sample_weight)


def expected_complete_log_likelihood_from_statistics(stats, params, log_weights=None):
    r""":math:`Q(q, \Theta)` from the sufficient statistics of :math:`q`.

    :math:`Q` is linear in the statistics :math:`N_k, S_k, T_k` of
    :class:`gmmlib.em_steps.SufficientStatistics` (data centred on :math:`c`,
    :math:`m_k = \mu_k - c`, :math:`\Lambda_k = P_k P_k^\top`):

    .. math::

        \begin{aligned}
        Q ={} & \sum_k N_k \bigl[\log w_k + \log |P_k| - \tfrac{d}{2} \log 2\pi\bigr] \\
              & - \tfrac12 \sum_k \bigl[\operatorname{tr}(\Lambda_k T_k)
              - 2 m_k^\top \Lambda_k S_k + N_k m_k^\top \Lambda_k m_k\bigr],
        \end{aligned}

    so it costs :math:`O(K d^2)` instead of a pass over the data (chapter "The
    free-energy view"). Incremental EM (:mod:`gmmlib.incremental`) tracks the
    free energy with it, and :func:`entropy_from_statistics` gets the entropy
    of an E-step from it.

    Parameters
    ----------
    stats : SufficientStatistics
        Statistics of :math:`q`; ``log_likelihood`` and ``total_weight`` are unused.
    params : MixtureParameters
    log_weights : ndarray of shape (n_components,), optional
        Used in place of :math:`\log w_k` (the variational E-step of
        :mod:`gmmlib.bayesian_mixture` puts :math:`\mathbb{E}[\log w_k] + c_k` there).

    Returns
    -------
    Q : float
        Terms with :math:`N_k = 0` count as zero, even where :math:`w_k = 0`.
    """
    covariance_type = params.covariance_type
    nk, first, second = stats.nk, stats.first_moments, stats.second_moments
    means = np.asarray(params.means, dtype=np.float64) - stats.shift
    factors = np.asarray(params.precisions_cholesky, dtype=np.float64)
    n_features = means.shape[1]
    precisions = precisions_from_cholesky(factors, covariance_type)
    if covariance_type == "full":
        precise_means = np.einsum("kde,ke->kd", precisions, means)
        trace = np.einsum("kde,kde->", precisions, second)
    elif covariance_type == "tied":
        precise_means = means @ precisions
        trace = np.sum(precisions * second)
    elif covariance_type == "diag":
        precise_means = means * precisions
        trace = np.sum(precisions * second)
    else:
        precise_means = means * precisions[:, None]
        trace = precisions @ second.sum(axis=1)
    quadratic = (
        trace
        - 2.0 * np.sum(precise_means * first)
        + nk @ np.sum(precise_means * means, axis=1)
    )
    log_det = log_det_cholesky(factors, covariance_type, n_features)
    if log_weights is None:
        with np.errstate(divide="ignore"):
            log_weights = np.log(np.asarray(params.weights, dtype=np.float64))
    constant = np.where(
        nk > 0, nk * (log_weights + log_det - 0.5 * n_features * LOG_2PI), 0.0
    )
    return float(constant.sum() - 0.5 * quadratic)


def entropy_from_statistics(stats, params, log_weights=None):
    r"""Entropy :math:`H(q)` of the responsibilities of an E-step, from its statistics alone.

    With :math:`a_{nk} = \ell_k + \log \mathcal{N}(x_n \mid \mu_k, \Sigma_k)` the
    unnormalised log-responsibilities of the E-step (:math:`\ell_k = \log w_k`
    unless ``log_weights`` says otherwise), :math:`\log r_{nk} = a_{nk} - \log p(x_n)`
    and :math:`\sum_k r_{nk} = 1` give

    .. math:: H(q) = -\sum_n v_n \sum_k r_{nk} \log r_{nk}
              = \sum_n v_n \log p(x_n) - \sum_n v_n \sum_k r_{nk} a_{nk},

    that is :math:`H = \ell(\Theta) - Q(q, \Theta)`: the bound is tight right after
    an E-step (chapter "The free-energy view"). The second sum is
    :func:`expected_complete_log_likelihood_from_statistics`, so no second pass
    over the data and no stored responsibilities are needed.

    Parameters
    ----------
    stats : SufficientStatistics
        From :func:`gmmlib.em_steps.e_step` with the same ``params`` and ``log_weights``.
    params : MixtureParameters
    log_weights : ndarray of shape (n_components,), optional
        The :math:`\ell_k` the E-step added, if not :math:`\log w_k`.

    Returns
    -------
    H : float
    """
    return float(
        stats.log_likelihood
        - expected_complete_log_likelihood_from_statistics(stats, params, log_weights)
    )


def entropy(resp, sample_weight=None):
    r"""Entropy of the label distribution, :math:`H(q) = -\sum_n v_n \sum_k q_{nk} \log q_{nk}`.

    Parameters
    ----------
    resp : array-like of shape (n_samples, n_components)
    sample_weight : array-like of shape (n_samples,), optional

    Returns
    -------
    H : float
        Non-negative; zero exactly when every row of ``resp`` is one-hot.
        Without sample weights this is the classification entropy
        :math:`\mathrm{EN}(r)` that ``icl_entropy`` of :mod:`gmmlib.model_selection`
        adds twice to BIC (chapter "How many components?").
    """
    return _weighted_total(
        entr(np.asarray(resp, dtype=np.float64)).sum(axis=1), sample_weight
    )


def free_energy(X, resp, params, sample_weight=None):
    r"""Free energy :math:`F(q, \Theta) = Q(q, \Theta) + H(q)`, a lower bound on :math:`\ell(\Theta)`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    resp : array-like of shape (n_samples, n_components)
    params : MixtureParameters
    sample_weight : array-like of shape (n_samples,), optional

    Returns
    -------
    F : float
    """
    return expected_complete_log_likelihood(X, resp, params, sample_weight) + entropy(
        resp, sample_weight
    )


def kl_gap(X, resp, params, sample_weight=None):
    r"""Gap of the bound, :math:`\mathrm{KL}(q \,\|\, p(Z \mid X, \Theta)) = \ell(\Theta) - F(q, \Theta)`.

    Computed directly from the log-posterior
    :math:`\log p(z_n = k \mid x_n) = \log w_k \mathcal{N}(x_n \mid \mu_k, \Sigma_k) - \log p(x_n)`,
    not as a difference, so that :math:`\ell = F + \mathrm{KL}` is a check.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    resp : array-like of shape (n_samples, n_components)
    params : MixtureParameters
    sample_weight : array-like of shape (n_samples,), optional

    Returns
    -------
    KL : float
        Non-negative; zero exactly when ``resp`` is the posterior.
    """
    log_posterior = _log_joint(X, params)
    log_prob_norm = normalize_log_prob(log_posterior.copy())
    log_posterior -= log_prob_norm[:, None]
    resp = np.asarray(resp, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_ratio = np.log(resp) - log_posterior
    return _weighted_total(_expectation(resp, log_ratio), sample_weight)
