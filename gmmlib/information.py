r"""The information of a fitted mixture: Louis' method, EM's rate and standard errors.

EM never forms the Hessian of the log-likelihood, but the quantities it does
work with give it. For data :math:`x_1, \dots, x_N` with sample weights
:math:`v_n` (one by default), hidden labels :math:`z_n` and the free
parameters :math:`\theta` of :func:`free_parameters`, let
:math:`s_c(x_n, k) = \partial_\theta \log p(x_n, z_n = k \mid \theta)` be the
complete-data score of sample :math:`n` and :math:`h_c(x_n, k)` the Hessian
of the same term. Louis (1982, equation 3.1) writes the observed information
:math:`I_o = -\partial^2_\theta \ell(\theta)` as

.. math::

    I_o &= I_c - I_m, \\
    I_c &= -\sum_n v_n \sum_k r_{nk}\, h_c(x_n, k), \\
    I_m &= \sum_n v_n \sum_k r_{nk}\,
           \bigl(s_c(x_n, k) - \bar s_n\bigr)\bigl(s_c(x_n, k) - \bar s_n\bigr)^\top,
    \qquad \bar s_n = \sum_k r_{nk}\, s_c(x_n, k),

with :math:`r_{nk} = p(z_n = k \mid x_n, \theta)` the responsibilities:
:math:`I_c` is the complete-data information expected over the labels,
:math:`I_m` the information the labels would have added (the covariance of
the complete-data score given the data), and :math:`\bar s_n` the observed
score of sample :math:`n` (Fisher's identity). The identity is exact at any
:math:`\theta`, not only at the maximum. At a maximum EM's map
:math:`\theta \mapsto M(\theta)` has the Jacobian :math:`I_c^{-1} I_m`, the
matrix of fractions of missing information (Dempster, Laird and Rubin 1977,
section 3; Meng and Rubin 1991): its largest eigenvalue :math:`\lambda` is the
rate at which the parameters converge, and the log-likelihood gains
:math:`\ell_{t+1} - \ell_t` then shrink by :math:`\lambda^2` per iteration,
since the gap :math:`\ell(\hat\theta) - \ell(\theta_t)` is a quadratic form in
:math:`\theta_t - \hat\theta`. The inverse of :math:`I_o` estimates the
covariance of the maximum-likelihood estimates (McLachlan and Peel 2000,
section 2.15; McLachlan and Krishnan 2008, section 4.2).

**The complete-data terms.** With :math:`\Lambda_k = \Sigma_k^{-1}`,
:math:`e = x_n - \mu_k` and :math:`a = \Lambda_k e`, the term of sample
:math:`n` in component :math:`k` is :math:`\log w_k - \tfrac d2 \log 2\pi -
\tfrac12 \log|\Sigma_k| - \tfrac12 e^\top \Lambda_k e`, whose derivatives are

.. math::

    \frac{\partial \log w_k}{\partial w_j} &= \frac{\delta_{jk}}{w_k}
        - \frac{\delta_{kK}}{w_K} \qquad (j < K), \\
    \frac{\partial^2 \log w_k}{\partial w_i \partial w_j}
        &= -\frac{\delta_{ik}\delta_{jk}}{w_k^2} - \frac{\delta_{kK}}{w_K^2}
        \qquad (i, j < K), \\
    \partial_{\mu_k} &= a, \qquad
    \partial_{\Sigma_k} = G = \tfrac12 \left(a a^\top - \Lambda_k\right), \\
    \partial^2_{\mu_k \mu_k} &= -\Lambda_k, \qquad
    \partial^2_{\mu_k \operatorname{vec}\Sigma_k}
        = -\left(a^\top \otimes \Lambda_k\right), \\
    \partial^2_{\operatorname{vec}\Sigma_k \operatorname{vec}\Sigma_k}
        &= \tfrac12\, \Lambda_k \otimes \Lambda_k
          - a a^\top \otimes \Lambda_k,

(the last two from :math:`d\Lambda = -\Lambda\, d\Sigma\, \Lambda`; the
weights' constraint is handled by :math:`w_K = 1 - \sum_{j<K} w_j`). The free
covariance entries :math:`\psi_k` of each covariance type are linear in the
matrix, :math:`\operatorname{vec}\Sigma_k = B \psi_k` (:func:`covariance_basis`:
the duplication matrix of the upper triangle for 'full' and 'tied', the
diagonal for 'diag', :math:`\operatorname{vec} I` for 'spherical'), so their
score is :math:`B^\top \operatorname{vec} G` and their Hessian blocks are
:math:`B^\top (\cdot) B` and :math:`(\cdot) B`. For 'tied' every component
adds to the one shared block. Summed over samples with weights
:math:`v_n r_{nk}`, :math:`I_c` needs only :math:`N_k = \sum_n v_n r_{nk}`,
:math:`\sum_n v_n r_{nk} a` and :math:`\sum_n v_n r_{nk} a a^\top`; at the
maximum (and ``reg_covar = 0``) these are :math:`N_k`, 0 and :math:`N_k
\Lambda_k`, giving the familiar :math:`N_k \Lambda_k` for a mean and
:math:`\tfrac{N_k}{2} B^\top (\Lambda_k \otimes \Lambda_k) B` for a covariance.

**reg_covar.** A model fitted with ``reg_covar`` :math:`= \epsilon > 0` has
covariances :math:`\epsilon I` larger than the maximiser of the likelihood, so
its score is not zero there (the covariance part is of order
:math:`\tfrac{N_k}{2} \epsilon\, \Lambda_k^2`), and a fit stopped by ``tol``
has a score of the order of the last step. The functions here compute the
information at the fitted parameters regardless; it is the Hessian there,
and it differs from the one at the maximiser by terms of relative order
:math:`\epsilon / \lambda_{\min}(\Sigma_k)` and the distance to it.

Chapter "EM that finishes" uses these functions.
"""

import numpy as np
from scipy import linalg
from sklearn.utils.validation import check_is_fitted, validate_data

from .covariance import (
    full_covariances,
    n_mixture_parameters,
    precision_cholesky_from_covariances,
)
from .em_steps import (
    MixtureParameters,
    covariances_of,
    estimate_log_prob_resp,
    parameters_from_model,
)
from .validation import check_sample_weight

INFORMATION_METHODS = ("louis",)

#: Floats in the (rows, components, free parameters) array of scores that one
#: block of rows may take (8 MiB).
_BLOCK_FLOATS = 2**20


# ----------------------------------------------------------- free parameters
def covariance_basis(covariance_type, n_features):
    r"""The matrix :math:`B` with :math:`\operatorname{vec} \Sigma_k = B \psi_k`.

    Parameters
    ----------
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    n_features : int

    Returns
    -------
    basis : ndarray of shape (n_features**2, n_entries)
        Column :math:`m` is :math:`\operatorname{vec}` of the symmetric matrix
        that entry :math:`m` of :math:`\psi_k` multiplies: for 'full' and
        'tied' the duplication matrix (entry :math:`(i, j)`, :math:`i \le j` in
        ``numpy.triu_indices`` order, puts a one at :math:`(i, j)` and
        :math:`(j, i)`), for 'diag' the unit vectors of the diagonal, for
        'spherical' :math:`\operatorname{vec} I`.
    """
    d = n_features
    if covariance_type == "spherical":
        return np.eye(d).reshape(d * d, 1)
    if covariance_type == "diag":
        rows = cols = np.arange(d)
    else:
        rows, cols = np.triu_indices(d)
    basis = np.zeros((d, d, len(rows)))
    basis[rows, cols, np.arange(len(rows))] = 1.0
    basis[cols, rows, np.arange(len(rows))] = 1.0
    return basis.reshape(d * d, len(rows))


def free_parameters(params):
    r"""The free-parameter vector :math:`\theta` of a mixture.

    In this order:

    1. the weights :math:`w_1, \dots, w_{K-1}` (:math:`w_K = 1 - \sum_{j<K} w_j`);
    2. the means :math:`\mu_1, \dots, \mu_K`, each of length :math:`d`
       (``means.ravel()``);
    3. the covariance entries: for 'full' the :math:`d(d+1)/2` entries
       :math:`\Sigma_{k,ij}`, :math:`i \le j`, of each component in
       ``numpy.triu_indices`` order (row by row), component after component;
       for 'tied' the same entries of the one :math:`\Sigma`; for 'diag' the
       :math:`d` variances of each component; for 'spherical' one variance per
       component.

    Its length is ``GaussianMixture._n_parameters()``
    (:func:`gmmlib.covariance.n_mixture_parameters`).

    Parameters
    ----------
    params : MixtureParameters
        From :func:`gmmlib.em_steps.parameters_from_model`.

    Returns
    -------
    theta : ndarray of shape (n_parameters,)
    """
    n_features = params.means.shape[1]
    covariances = np.asarray(covariances_of(params), dtype=np.float64)
    if params.covariance_type in ("full", "tied"):
        rows, cols = np.triu_indices(n_features)
        entries = covariances[..., rows, cols]
    else:
        entries = covariances
    return np.concatenate(
        [
            np.asarray(params.weights, dtype=np.float64)[:-1],
            np.asarray(params.means, dtype=np.float64).ravel(),
            np.ravel(entries),
        ]
    )


def _split_free(vector, covariance_type, n_components, n_features):
    """The weights block (K - 1), means (K, d) and covariance entries of a free vector.

    The covariance entries are placed in scikit-learn's layout for the type,
    the upper triangle mirrored for 'full' and 'tied'.
    """
    k, d = n_components, n_features
    means = vector[k - 1 : k - 1 + k * d].reshape(k, d)
    entries = vector[k - 1 + k * d :]
    if covariance_type in ("full", "tied"):
        rows, cols = np.triu_indices(d)
        entries = entries.reshape(-1, len(rows))
        covariances = np.zeros((len(entries), d, d))
        covariances[:, rows, cols] = entries
        covariances[:, cols, rows] = entries
        if covariance_type == "tied":
            covariances = covariances[0]
    elif covariance_type == "diag":
        covariances = entries.reshape(k, d).copy()
    else:
        covariances = entries.copy()
    return vector[: k - 1], means, covariances


def parameters_from_free(theta, covariance_type, n_components, n_features):
    r"""The mixture at the free-parameter vector ``theta`` (:func:`free_parameters`).

    Parameters
    ----------
    theta : array-like of shape (n_parameters,)
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    n_components, n_features : int

    Returns
    -------
    MixtureParameters
        With :math:`w_K = 1 - \sum_{j<K} w_j`, the covariances filled in
        symmetrically and their precision Cholesky factors.

    Raises
    ------
    ValueError
        If ``theta`` has the wrong length, or a covariance is not positive
        definite (scikit-learn's degenerate-covariance message).
    """
    theta = np.asarray(theta, dtype=np.float64)
    expected = n_mixture_parameters(covariance_type, n_components, n_features)
    if theta.shape != (expected,):
        raise ValueError(
            f"Expected a vector of {expected} free parameters for "
            f"{n_components} {covariance_type!r} components in {n_features} "
            f"dimensions, got shape {theta.shape}."
        )
    first_weights, means, covariances = _split_free(
        theta, covariance_type, n_components, n_features
    )
    weights = np.append(first_weights, 1.0 - first_weights.sum())
    return MixtureParameters(
        weights,
        means,
        covariances,
        precision_cholesky_from_covariances(covariances, covariance_type),
        covariance_type,
    )


# ------------------------------------------------------------------ checks
def _checked(model, X, sample_weight):
    """Validated float64 X and weights, and the model's parameters."""
    check_is_fitted(model, ["weights_", "means_", "precisions_cholesky_"])
    if hasattr(model, "weight_concentration_"):
        raise TypeError(
            "Louis' method gives the information of a maximum-likelihood fit; "
            f"{type(model).__name__} is a variational posterior. Use "
            "gmmlib.GaussianMixture."
        )
    X = validate_data(
        model,
        X,
        reset=False,
        dtype=np.float64,
        ensure_all_finite="allow-nan",
    )
    if np.isnan(X).any():
        raise ValueError(
            "X contains NaN. The observed information of a mixture with "
            "missing values (missing_values='marginalize') is not implemented: "
            "Louis' method would need the complete-data scores expected over "
            "the missing coordinates as well as the labels."
        )
    if not np.isfinite(X).all():
        raise ValueError("Input X contains infinity.")
    return (
        X,
        check_sample_weight(sample_weight, X.shape[0]),
        parameters_from_model(model),
    )


def _check_method(method):
    if method not in INFORMATION_METHODS:
        raise ValueError(
            f"method must be one of {INFORMATION_METHODS}, got {method!r}."
        )


# ------------------------------------------------------------- the sums
def _information_parts(X, params, sample_weight=None):
    """:math:`I_c`, :math:`I_m` and the observed score, all over the free parameters.

    Returns
    -------
    complete : ndarray of shape (p, p)
    missing : ndarray of shape (p, p)
    score : ndarray of shape (p,)
    """
    covariance_type = params.covariance_type
    weights = np.asarray(params.weights, dtype=np.float64)
    means = np.asarray(params.means, dtype=np.float64)
    n_samples, d = X.shape
    k = len(weights)
    covariances = full_covariances(covariances_of(params), covariance_type, k, d)
    precisions = np.linalg.inv(covariances)
    precisions = 0.5 * (precisions + np.swapaxes(precisions, 1, 2))
    basis = covariance_basis(covariance_type, d)
    n_entries = basis.shape[1]
    p = n_mixture_parameters(covariance_type, k, d)
    mean_start = k - 1
    cov_start = mean_start + k * d
    tied = covariance_type == "tied"

    def mean_slice(j):
        return slice(mean_start + j * d, mean_start + (j + 1) * d)

    def cov_slice(j):
        start = cov_start + (0 if tied else j * n_entries)
        return slice(start, start + n_entries)

    sample_weight = np.ones(n_samples) if sample_weight is None else sample_weight
    _, resp = estimate_log_prob_resp(X, params)
    weighted_resp = resp * sample_weight[:, None]

    # Complete-data information from N_k, sum v r a and sum v r a a^T.
    complete = np.zeros((p, p))
    nk = weighted_resp.sum(axis=0)
    if k > 1:
        complete[: k - 1, : k - 1] = np.diag(nk[:-1] / weights[:-1] ** 2) + (
            nk[-1] / weights[-1] ** 2
        )
    for j in range(k):
        a = (X - means[j]) @ precisions[j]
        first = weighted_resp[:, j] @ a
        second = (a * weighted_resp[:, j, None]).T @ a
        m, c = mean_slice(j), cov_slice(j)
        complete[m, m] += nk[j] * precisions[j]
        cross = np.kron(first[None, :], precisions[j]) @ basis
        complete[m, c] += cross
        complete[c, m] += cross.T
        cov_block = np.kron(second, precisions[j]) - 0.5 * nk[j] * np.kron(
            precisions[j], precisions[j]
        )
        complete[c, c] += basis.T @ cov_block @ basis

    # Missing information: the responsibility-weighted covariance of the
    # complete-data scores of each sample, a block of rows at a time.
    missing = np.zeros((p, p))
    score = np.zeros(p)
    step = max(1, _BLOCK_FLOATS // (k * p))
    weight_scores = np.zeros((k, k - 1))
    if k > 1:
        weight_scores[: k - 1] = np.diag(1.0 / weights[:-1])
        weight_scores[k - 1] = -1.0 / weights[-1]
    for start in range(0, n_samples, step):
        rows = slice(start, start + step)
        block = X[rows]
        scores = np.zeros((len(block), k, p))
        scores[:, :, : k - 1] = weight_scores
        for j in range(k):
            a = (block - means[j]) @ precisions[j]
            scores[:, j, mean_slice(j)] = a
            gradient = 0.5 * (a[:, :, None] * a[:, None, :] - precisions[j])
            scores[:, j, cov_slice(j)] = gradient.reshape(len(block), d * d) @ basis
        mean_score = np.einsum("nk,nkp->np", resp[rows], scores)
        score += sample_weight[rows] @ mean_score
        scores -= mean_score[:, None, :]
        scores *= np.sqrt(weighted_resp[rows])[:, :, None]
        flat = scores.reshape(-1, p)
        missing += flat.T @ flat
    return complete, missing, score


# ------------------------------------------------------------- public API
def complete_information(model, X, sample_weight=None):
    r"""The complete-data information :math:`I_c`, expected over the labels.

    .. math:: I_c = -\sum_n v_n \sum_k r_{nk}\,
              \partial^2_\theta \log\bigl(w_k\, \mathcal{N}(x_n \mid \mu_k, \Sigma_k)\bigr)

    at the fitted parameters, with :math:`r_{nk}` their responsibilities: the
    negative Hessian of :math:`Q(\theta' \mid \theta)` (Dempster, Laird and
    Rubin 1977) in :math:`\theta'` at :math:`\theta' = \theta`. The blocks are
    in the module docstring; weights and the other parameters do not mix.

    Parameters
    ----------
    model : fitted gmmlib.GaussianMixture
        (or ``sklearn.mixture.GaussianMixture``).
    X : array-like of shape (n_samples, n_features)
        The data the model was fitted to. No NaN.
    sample_weight : array-like of shape (n_samples,), default=None
        Frequency weights: weight 2 counts a sample twice, as in ``fit``.

    Returns
    -------
    information : ndarray of shape (n_parameters, n_parameters)
        In the order of :func:`free_parameters`; totals over the samples (not
        means).
    """
    X, sample_weight, params = _checked(model, X, sample_weight)
    return _information_parts(X, params, sample_weight)[0]


def missing_information(model, X, sample_weight=None):
    r"""The missing information :math:`I_m`: the covariance of the complete-data score.

    .. math::

        I_m &= \sum_n v_n \operatorname{Cov}_{z_n}
              \bigl[s_c(x_n, z_n) \mid x_n\bigr] \\
            &= \sum_n v_n \sum_k r_{nk}
              \bigl(s_c(x_n, k) - \bar s_n\bigr)\bigl(s_c(x_n, k) - \bar s_n\bigr)^\top

    (Louis 1982, equation 3.1; the scores are in the module docstring).

    Parameters
    ----------
    model, X, sample_weight
        As for :func:`complete_information`.

    Returns
    -------
    information : ndarray of shape (n_parameters, n_parameters)
    """
    X, sample_weight, params = _checked(model, X, sample_weight)
    return _information_parts(X, params, sample_weight)[1]


def observed_score(model, X, sample_weight=None):
    r"""The gradient of the log-likelihood in the free parameters.

    By Fisher's identity, :math:`\partial_\theta \ell = \sum_n v_n \bar s_n =
    \sum_n v_n \sum_k r_{nk}\, s_c(x_n, k)`. Zero at an exact maximum; with
    ``reg_covar`` :math:`> 0`, or a fit stopped by ``tol``, it is not (see the
    module docstring).

    Parameters
    ----------
    model, X, sample_weight
        As for :func:`complete_information`.

    Returns
    -------
    score : ndarray of shape (n_parameters,)
    """
    X, sample_weight, params = _checked(model, X, sample_weight)
    return _information_parts(X, params, sample_weight)[2]


def observed_information(model, X, method="louis", sample_weight=None):
    r"""The observed information :math:`I_o = -\partial^2_\theta \ell` at the fitted parameters.

    By Louis' method (Louis 1982, equation 3.1): :math:`I_o = I_c - I_m`, the
    complete-data information (:func:`complete_information`) less the missing
    information (:func:`missing_information`), with the analytic complete-data
    scores and Hessians of the module docstring for each covariance type. The
    result is the exact Hessian of :math:`-\ell = -\sum_n v_n \log p(x_n)` at the
    fitted parameters, up to rounding, whether or not they maximise :math:`\ell`
    (``reg_covar`` moves them away from the maximiser; see the module
    docstring).

    Parameters
    ----------
    model : fitted gmmlib.GaussianMixture
        (or ``sklearn.mixture.GaussianMixture``).
    X : array-like of shape (n_samples, n_features)
        The data the model was fitted to. No NaN: the information with
        missing values is not implemented (a model fitted with
        ``missing_values='marginalize'`` is accepted with complete X, where
        its likelihood is the usual one).
    method : {'louis'}, default='louis'
    sample_weight : array-like of shape (n_samples,), default=None
        Frequency weights, as in ``fit``.

    Returns
    -------
    information : ndarray of shape (n_parameters, n_parameters)
        Symmetric, in the order of :func:`free_parameters`.

    Raises
    ------
    ValueError
        If X does not match the model (number of features), holds NaN, or
        ``method`` is unknown.
    sklearn.exceptions.NotFittedError
        If the model is not fitted.
    """
    _check_method(method)
    X, sample_weight, params = _checked(model, X, sample_weight)
    complete, missing, _ = _information_parts(X, params, sample_weight)
    observed = complete - missing
    return 0.5 * (observed + observed.T)


def missing_information_fraction(model, X, sample_weight=None):
    r"""The matrix of fractions of missing information, :math:`I_c^{-1} I_m`.

    At a maximum of the likelihood this is the Jacobian of EM's map
    (Dempster, Laird and Rubin 1977, equation 3.27; Meng and Rubin 1991). Its
    eigenvalues lie in :math:`[0, 1)` and are those of the symmetric pencil
    :math:`I_m v = \lambda I_c v`; the largest, :func:`em_convergence_rate`, is
    the rate at which EM's parameters converge, :math:`\lVert \theta_{t+1} -
    \hat\theta \rVert \approx \lambda \lVert \theta_t - \hat\theta \rVert`.

    Parameters
    ----------
    model, X, sample_weight
        As for :func:`observed_information`.

    Returns
    -------
    fraction : ndarray of shape (n_parameters, n_parameters)
        Not symmetric in general.
    """
    X, sample_weight, params = _checked(model, X, sample_weight)
    complete, missing, _ = _information_parts(X, params, sample_weight)
    return linalg.cho_solve(_cholesky(complete, "complete-data"), missing)


def em_convergence_rate(model, X, sample_weight=None):
    r"""The largest fraction of missing information: EM's rate of convergence.

    The largest eigenvalue :math:`\lambda` of :math:`I_c^{-1} I_m`
    (:func:`missing_information_fraction`), computed from the symmetric pencil
    :math:`I_m v = \lambda I_c v`. Near the maximum EM's parameters approach it
    by a factor :math:`\lambda` per iteration, and the log-likelihood, whose
    gap is quadratic in the parameters, by :math:`\lambda^2`: the ratio of
    successive gains in ``history_``
    (:func:`gmmlib.convergence.rate_from_history`) settles at :math:`\lambda^2`.

    Parameters
    ----------
    model, X, sample_weight
        As for :func:`observed_information`.

    Returns
    -------
    rate : float
        In :math:`[0, 1)` at a maximum of the likelihood.
    """
    X, sample_weight, params = _checked(model, X, sample_weight)
    complete, missing, _ = _information_parts(X, params, sample_weight)
    _cholesky(complete, "complete-data")
    return float(linalg.eigh(missing, complete, eigvals_only=True)[-1])


def _cholesky(matrix, name):
    try:
        return linalg.cho_factor(matrix)
    except linalg.LinAlgError:
        raise ValueError(
            f"The {name} information is not positive definite: the fitted "
            "parameters are not at a strict local maximum of the likelihood "
            "(for instance a component holds too few samples for its "
            "covariance, or the model has more components than the data "
            "support), so the information does not give standard errors."
        ) from None


def louis_standard_errors(model, X, sample_weight=None):
    r"""Standard errors of the fitted parameters from the observed information.

    The square roots of the diagonal of :math:`I_o^{-1}`
    (:func:`observed_information`), the asymptotic covariance of the
    maximum-likelihood estimates (McLachlan and Peel 2000, section 2.15). The
    last weight :math:`w_K = 1 - \sum_{j<K} w_j` gets the delta-method standard
    error :math:`\sqrt{\mathbf 1^\top V_{ww} \mathbf 1}`, with :math:`V_{ww}`
    the block of :math:`I_o^{-1}` of the other weights. A symmetric covariance
    entry :math:`\Sigma_{k,ij} = \Sigma_{k,ji}` is one parameter, reported in
    both places.

    Parameters
    ----------
    model, X, sample_weight
        As for :func:`observed_information`.

    Returns
    -------
    standard_errors : dict
        ``'weights'`` of shape (n_components,), ``'means'`` of shape
        (n_components, n_features) and ``'covariances'`` shaped like the
        model's ``covariances_`` for its covariance type.

    Raises
    ------
    ValueError
        If the observed information is not positive definite (not a strict
        maximum), besides the errors of :func:`observed_information`.
    """
    information = observed_information(model, X, sample_weight=sample_weight)
    covariance = linalg.cho_solve(
        _cholesky(information, "observed"), np.eye(len(information))
    )
    k, d = np.shape(model.means_)
    covariance_type = model.covariance_type
    weights_block = covariance[: k - 1, : k - 1]
    last = np.sqrt(weights_block.sum()) if k > 1 else 0.0
    first_weights, means, covariances = _split_free(
        np.sqrt(np.diag(covariance)), covariance_type, k, d
    )
    weights = np.append(first_weights, last)
    return {"weights": weights, "means": means, "covariances": covariances}
