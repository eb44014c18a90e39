r"""The E-step and M-step of EM for a Gaussian mixture.

One E-step pass over the data computes, block of rows by block of rows, the
log-densities :math:`\log w_k + \log \mathcal{N}(x_n \mid \mu_k, \Sigma_k)`, normalises
them into responsibilities

.. math:: r_{nk} = \frac{w_k \mathcal{N}(x_n \mid \mu_k, \Sigma_k)}
                        {\sum_j w_j \mathcal{N}(x_n \mid \mu_j, \Sigma_j)},

(:eq:`eq-gem-k-resp`) and adds up the sufficient statistics :math:`N_k, S_k, T_k`
(:eq:`eq-gem-k-statistics`; see also :mod:`gmmlib.covariance`) and the
log-likelihood. The responsibilities of a block are dropped once its statistics
are added, so memory grows with the block, not with the data. The M-step turns
the statistics into new parameters (:eq:`eq-gem-m-step-weights` to
:eq:`eq-gem-m-step-spherical`). Chapter "General EM and why it climbs" derives
both steps in its section "EM for K Gaussians in d dimensions"
(:ref:`sec-gem-k-gaussians`).

The E-step uses that a Gaussian is an exponential family: with the features
:math:`t(x) = (1, x, x_i x_j \text{ for } i \le j)` of a sample,

.. math:: \log w_k \mathcal{N}(x \mid \mu_k, \Sigma_k) = \eta_k^\top t(x)
          \qquad\text{and}\qquad
          (N_k, S_k, T_k) = \sum_n r_{nk}\, t(x_n),

so for a block of rows the log-densities are one matrix product of the natural
parameters :math:`\eta_k` (:func:`natural_parameters`) with the features
(:func:`sufficient_features`), and the statistics are one product of the
responsibilities with the same features. Chapter "Empirical performance"
derives this form and measures what it buys against scikit-learn. Blocks are
shared between threads (numpy releases the GIL), with BLAS limited to one
thread meanwhile (:mod:`gmmlib.runtime` sets the block size and the threads).
:func:`estimate_log_gaussian_prob` keeps the textbook formula; predictions use
it, and the tests check the E-step against it.

The data are centred on a fixed ``shift`` (usually the data mean) before the
sums are taken, which keeps :math:`T_k / N_k - \mu_k \mu_k^\top` accurate for
data far from the origin.
"""

from dataclasses import dataclass

import numpy as np

from .bounded_e_step import (
    MAX_COMPUTED_FRACTION,
    MIN_FEATURES,
    PROBE_ROWS,
    AnchorBounds,
    AnchoredRows,
    bounded_block,
    group_rows,
    grouped_moments,
    prune,
)
from .covariance import (
    LOG_2PI,
    covariances_from_cholesky,
    covariances_from_statistics,
    log_det_cholesky,
    n_statistics,
    nonzero_counts,
    precision_cholesky_from_covariances,
    precisions_from_cholesky,
    rounding_floor,
)
from .runtime import (
    blas_threads,
    block_size,
    bounded_block_size,
    map_row_parts,
)


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


def parameters_from_model(model):
    """The :class:`MixtureParameters` of a fitted Gaussian mixture, in float64.

    Parameters
    ----------
    model : fitted gmmlib.GaussianMixture or sklearn.mixture.GaussianMixture
        Anything with ``weights_``, ``means_``, ``precisions_cholesky_`` and
        ``covariance_type``; ``covariances_`` is used when present (None otherwise,
        see :func:`covariances_of`).

    Returns
    -------
    MixtureParameters
        Arrays of shape (n_components,), (n_components, n_features) and the
        covariance type's layouts, as float64 (the E-step's coefficients and the
        M-step's sums are computed from float64 parameters whatever the data's dtype).
    """
    covariances = getattr(model, "covariances_", None)
    return MixtureParameters(
        weights=np.asarray(model.weights_, dtype=np.float64),
        means=np.asarray(model.means_, dtype=np.float64),
        covariances=None
        if covariances is None
        else np.asarray(covariances, np.float64),
        precisions_cholesky=np.asarray(model.precisions_cholesky_, dtype=np.float64),
        covariance_type=model.covariance_type,
    )


def covariances_of(params):
    r"""The covariances :math:`\Sigma_k` of ``params``, from the precision factors if not stored.

    :math:`\Sigma_k = (P_k P_k^\top)^{-1}`
    (:func:`gmmlib.covariance.covariances_from_cholesky`) when
    ``params.covariances`` is None, as after an M-step that updates only the
    precision factors.

    Parameters
    ----------
    params : MixtureParameters

    Returns
    -------
    covariances : ndarray
        In scikit-learn's layout for ``params.covariance_type``.
    """
    if params.covariances is not None:
        return params.covariances
    return covariances_from_cholesky(params.precisions_cholesky, params.covariance_type)


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


def normalize_log_prob(weighted_log_prob, log_floor=None):
    r"""Turn :math:`\log w_k p_k(x_n)` into responsibilities, in place.

    A stable log-sum-exp with one exponential per entry:
    :math:`\log p(x_n) = m_n + \log \sum_k e^{a_{nk} - m_n}`, with
    :math:`m_n = 1 + \max_k a_{nk}`, so that every exponent is at most -1 and
    the sum at least :math:`e^{-1}`.

    Why one above the maximum rather than the maximum itself: then no
    exponent is exactly zero and no sum lies near 1. Where numpy's float64
    ``exp`` and ``log`` are not vectorised (x86 without AVX-512), they are
    glibc's, which takes a separate branch for arguments below
    :math:`2^{-54}` in magnitude (``exp``) and near 1 (``log``). The zero of
    each row's largest term, scattered among the other terms, made that
    branch unpredictable: on an AMD EPYC with AVX2, ``exp`` of a
    3 x 29,127 block of an E-step took 0.69 ms with the maximum subtracted
    and 0.44 ms with one more, ``log`` of its sums 0.15 and 0.12 ms. The
    results differ only by rounding.

    Parameters
    ----------
    weighted_log_prob : ndarray of shape (n_samples, n_components)
        Overwritten with the responsibilities. Either memory layout works; the
        transpose of a C-ordered (n_components, n_samples) array is the fast one,
        since every step then runs along contiguous rows.
    log_floor : float, optional
        Raise :math:`a_{nk} - \max_k a_{nk}` to at least this value before
        taking the exponential. With a floor such as :func:`log_floor` (about
        -496 in float64), the raised terms are below :math:`10^{-215}` of the
        largest one, so :math:`\log p(x_n)` is unchanged and no
        responsibility moves by more than that; in exchange ``exp`` never
        underflows, which is several times slower than its usual path.
        Default: no floor (exact zeros).

    Returns
    -------
    log_prob_norm : ndarray of shape (n_samples,)
        :math:`\log p(x_n)`.
    """
    offset = weighted_log_prob.max(axis=1, keepdims=True)
    offset[~np.isfinite(offset)] = 0.0
    offset += 1.0
    weighted_log_prob -= offset
    if log_floor is not None:
        np.maximum(weighted_log_prob, log_floor - 1.0, out=weighted_log_prob)
    np.exp(weighted_log_prob, out=weighted_log_prob)
    total = weighted_log_prob.sum(axis=1, keepdims=True)
    weighted_log_prob /= total
    with np.errstate(divide="ignore"):
        return (np.log(total) + offset)[:, 0]


def log_floor(dtype):
    """Floor for :func:`normalize_log_prob`: 70% of the log of the smallest normal number.

    -496 for float64 and -61 for float32. Its exponential is negligible next
    to 1 (below :math:`10^{-215}` and :math:`10^{-26}`) yet a normal number, and
    stays one when multiplied by features of ordinary size (subnormal
    arithmetic is slow); in float64, ``exp`` of arguments beyond -512 also
    leaves the fast path of common math libraries.
    """
    return 0.7 * float(np.log(np.finfo(dtype).tiny))


def estimate_log_prob_resp(X, params, shift=None, log_weights=None):
    """Log-likelihood of each sample and the responsibilities, block by block.

    The responsibilities are :eq:`eq-gem-k-resp`, computed in log space: the
    weighted log-densities of :func:`estimate_log_gaussian_prob` normalised by
    :func:`normalize_log_prob`.

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
    step = block_size(n_components, n_features, dtype=X.dtype)
    for start in range(0, n_samples, step):
        rows = slice(start, start + step)
        block = estimate_log_gaussian_prob(
            X[rows] - shift, means, params.precisions_cholesky, params.covariance_type
        )
        block += log_weights
        log_prob_norm[rows] = normalize_log_prob(block)
        resp[rows] = block
    return log_prob_norm, resp


def sufficient_features(X, covariance_type, shift=None, out=None):
    r"""The features :math:`t(x_n - c)` whose weighted sums are the sufficient statistics.

    .. math:: t(x) = (1,\ x_1, \dots, x_d,\ x_i x_j \text{ for } i \le j)

    for 'full' and 'tied' (the products in row-major upper-triangle order,
    ``numpy.triu_indices``), and :math:`t(x) = (1, x, x_1^2, \dots, x_d^2)` for
    'diag' and 'spherical' (chapter "Empirical performance"). The features are
    stored one column per sample, so that every product below is an operation
    on contiguous rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    shift : ndarray of shape (n_features,), optional
        Centre :math:`c` subtracted from X (default: zero).
    out : ndarray of shape (n_statistics, n_samples), optional
        Buffer to write into.

    Returns
    -------
    features : ndarray of shape (n_statistics, n_samples)
        Column n is :math:`t(x_n - c)`.
    """
    n_samples, n_features = X.shape
    if out is None:
        out = np.empty((n_statistics(n_features, covariance_type), n_samples), X.dtype)
    out[0] = 1.0
    centred = out[1 : 1 + n_features]
    if shift is None:
        centred[...] = X.T
    else:
        np.subtract(X.T, shift[:, None], out=centred)
    products = out[1 + n_features :]
    if covariance_type in ("diag", "spherical"):
        np.square(centred, out=products)
        return out
    start = 0
    for i in range(n_features):
        np.multiply(
            centred[i], centred[i:], out=products[start : start + n_features - i]
        )
        start += n_features - i
    return out


def natural_parameters(params, shift=None, log_weights=None):
    r"""Coefficients :math:`\eta_k` with :math:`\eta_k^\top t(x - c) = \log w_k \mathcal{N}(x \mid \mu_k, \Sigma_k)`.

    Expanding the quadratic form with :math:`m_k = \mu_k - c` and
    :math:`\Lambda_k = P_k P_k^\top = \Sigma_k^{-1}` (chapter "Empirical
    performance", proposition "The weighted log-density is linear in the features"):

    .. math::

        \begin{aligned}
        \eta_{k,0} &= \log w_k + \log|P_k| - \tfrac12 \left(d \log 2\pi
                     + m_k^\top \Lambda_k m_k\right), \\
        \eta_{k,x_i} &= (\Lambda_k m_k)_i, \\
        \eta_{k,x_i x_j} &= -\Lambda_{k,ij} \ (i < j), \\
        \eta_{k,x_i^2} &= -\tfrac12 \Lambda_{k,ii}.
        \end{aligned}

    Parameters
    ----------
    params : MixtureParameters
    shift : ndarray of shape (n_features,), optional
        Centre :math:`c` of the features (default: zero).
    log_weights : ndarray of shape (n_components,), optional
        Used instead of :math:`\log w_k` (the variational E-step of
        :mod:`gmmlib.bayesian_mixture` puts expectations there).

    Returns
    -------
    coefficients : ndarray of shape (n_components, n_statistics)
        In the order of :func:`sufficient_features`.
    """
    n_components, n_features = params.means.shape
    covariance_type = params.covariance_type
    centred_means = params.means if shift is None else params.means - shift
    precisions = precisions_from_cholesky(params.precisions_cholesky, covariance_type)
    if covariance_type in ("full", "tied"):
        precisions = np.broadcast_to(precisions, (n_components, n_features, n_features))
        linear = np.einsum("kij,kj->ki", precisions, centred_means)
        rows, cols = np.triu_indices(n_features)
        quadratic = -precisions[:, rows, cols] * np.where(rows == cols, 0.5, 1.0)
    else:
        if covariance_type == "spherical":
            precisions = np.repeat(precisions[:, None], n_features, axis=1)
        linear = precisions * centred_means
        quadratic = -0.5 * precisions
    log_det = log_det_cholesky(params.precisions_cholesky, covariance_type, n_features)
    if log_weights is None:
        log_weights = np.log(params.weights)
    constant = (
        log_weights
        + log_det
        - 0.5 * (n_features * LOG_2PI + np.sum(linear * centred_means, axis=1))
    )
    return np.column_stack([constant, linear, quadratic])


def unpack_moments(moments, covariance_type, n_features):
    r"""Split :math:`\sum_n r_{nk} t(x_n)` into :math:`N_k, S_k, T_k`.

    Parameters
    ----------
    moments : ndarray of shape (n_components, n_statistics)
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    n_features : int

    Returns
    -------
    nk, first_moments, second_moments : ndarray
        As in :class:`SufficientStatistics` (float64).
    """
    moments = np.asarray(moments, dtype=np.float64)
    nk = moments[:, 0].copy()
    first = moments[:, 1 : 1 + n_features].copy()
    products = moments[:, 1 + n_features :]
    if covariance_type in ("diag", "spherical"):
        return nk, first, products.copy()
    if covariance_type == "tied":
        products = products.sum(axis=0, keepdims=True)
    rows, cols = np.triu_indices(n_features)
    second = np.empty((len(products), n_features, n_features))
    second[:, rows, cols] = products
    second[:, cols, rows] = products
    return nk, first, second[0] if covariance_type == "tied" else second


def moments_from_resp(
    X, resp, covariance_type, sample_weight=None, shift=None, n_threads=1
):
    r"""The sums :math:`\sum_n w_n r_{nk}\, t(x_n - c)` for given responsibilities, as one matrix.

    Row k holds :math:`N_k`, :math:`S_k` and :math:`T_k` of
    :eq:`eq-gem-k-statistics` packed as the features of :func:`sufficient_features`
    (:func:`unpack_moments` splits them), with :math:`r_{nk}` weighted by
    :math:`w_n` and the data centred on :math:`c`. Rows are taken a block at a time;
    for 'full' covariances in :data:`gmmlib.bounded_e_step.MIN_FEATURES` or more
    dimensions, when at most half of the responsibilities are nonzero (hard
    labels), each component's sums run over its nonzero rows only
    (:func:`gmmlib.bounded_e_step.grouped_moments`, the rows sorted by largest
    responsibility), which adds the same terms.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    resp : ndarray of shape (n_samples, n_components)
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    sample_weight : ndarray of shape (n_samples,), optional
    shift : ndarray of shape (n_features,), optional
        Centre :math:`c` subtracted from X (default: zero, X used as given).
    n_threads : int, default=1
        Threads for the sums over each component's rows
        (:func:`gmmlib.runtime.map_row_parts`).

    Returns
    -------
    moments : ndarray of shape (n_components, n_statistics), float64
    """
    n_samples, n_features = X.shape
    weighted = resp if sample_weight is None else resp * sample_weight[:, None]
    n_components = resp.shape[1]
    moments = np.zeros((n_components, n_statistics(n_features, covariance_type)))
    if (
        takes_bounded_e_step(covariance_type, n_features)
        and np.count_nonzero(weighted) <= MAX_COMPUTED_FRACTION * weighted.size
    ):
        step = bounded_block_size(n_components, n_features, X.dtype)

        def moments_of_part(first, last):
            part = np.zeros_like(moments)
            for start in range(first, last, step):
                stop = min(start + step, last)
                block = weighted[start:stop]
                labels = np.argmax(block, axis=1)
                order, edges = group_rows(labels, n_components)
                extra = block[order]
                sorted_rows = np.arange(len(extra))
                largest = extra[sorted_rows, labels[order]]
                extra[sorted_rows, labels[order]] = 0
                rows = X[start:stop][order]
                if shift is not None:
                    rows -= shift
                part += grouped_moments(rows, edges, largest, extra)
            return part

        return sum(map_row_parts(moments_of_part, n_samples, n_threads, step))
    step = block_size(n_components, n_features, covariance_type, X.dtype)
    for start in range(0, n_samples, step):
        rows = slice(start, start + step)
        features = sufficient_features(X[rows], covariance_type, shift)
        moments += np.dot(weighted[rows].T, features.T)
    return moments


def takes_bounded_e_step(covariance_type, n_features):
    """Whether :func:`e_step` takes the bounded E-step (:mod:`gmmlib.bounded_e_step`).

    For 'full' covariances in :data:`gmmlib.bounded_e_step.MIN_FEATURES` or
    more dimensions.
    """
    return covariance_type == "full" and n_features >= MIN_FEATURES


def statistics_from_resp(X, resp, covariance_type, sample_weight=None, shift=None):
    r"""Sufficient statistics :math:`\sum_n w_n r_{nk} t(x_n - c)` for given responsibilities.

    That is :math:`N_k`, :math:`S_k` and :math:`T_k` of :eq:`eq-gem-k-statistics`,
    with :math:`r_{nk}` weighted by :math:`w_n` and the data centred on :math:`c`
    (:func:`moments_from_resp`, unpacked).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    resp : ndarray of shape (n_samples, n_components)
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    sample_weight : ndarray of shape (n_samples,), optional
    shift : ndarray of shape (n_features,), optional
        Centre :math:`c` subtracted from X (default: zero, X used as given).

    Returns
    -------
    nk, first_moments, second_moments : ndarray
        As in :class:`SufficientStatistics`.
    """
    moments = moments_from_resp(X, resp, covariance_type, sample_weight, shift)
    return unpack_moments(moments, covariance_type, X.shape[1])


def accumulate_statistics(
    X, coefficients, covariance_type, shift=None, sample_weight=None
):
    r"""Responsibility-weighted feature sums and log-likelihood of some rows.

    For each block of rows: the features :math:`t(x_n - c)`, the weighted
    log-densities :math:`\eta_k^\top t(x_n - c)`, their normalisation into
    responsibilities (:func:`normalize_log_prob`), and
    :math:`\sum_n w_n r_{nk} t(x_n - c)`. Blocks are computed in the dtype of X
    in two reused buffers; the totals over blocks are kept in float64.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    coefficients : ndarray of shape (n_components, n_statistics)
        :func:`natural_parameters` for the same ``shift``, in the dtype of X.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    shift : ndarray of shape (n_features,), optional
        Centre :math:`c`, from :func:`as_shift`.
    sample_weight : ndarray of shape (n_samples,), optional

    Returns
    -------
    moments : ndarray of shape (n_components, n_statistics)
        :math:`\sum_n w_n r_{nk} t(x_n - c)`, float64.
    log_likelihood : float
        :math:`\sum_n w_n \log p(x_n)`.
    """
    n_samples, n_features = X.shape
    n_components, n_stats = coefficients.shape
    step = min(
        block_size(n_components, n_features, covariance_type, X.dtype), n_samples
    )
    feature_buffer = np.empty(n_stats * step, dtype=X.dtype)
    log_prob_buffer = np.empty(n_components * step, dtype=X.dtype)
    block_moments = np.empty((n_components, n_stats), dtype=X.dtype)
    if shift is not None:
        shift = np.asarray(shift, dtype=X.dtype)  # exact for a shift from as_shift
    moments = np.zeros((n_components, n_stats))
    floor = log_floor(X.dtype)
    log_likelihood = 0.0
    for start in range(0, n_samples, step):
        block = X[start : start + step]
        n_rows = len(block)
        features = sufficient_features(
            block,
            covariance_type,
            shift,
            out=feature_buffer[: n_stats * n_rows].reshape(n_stats, n_rows),
        )
        # Component-major (K, rows): the log-sum-exp over components then runs
        # along contiguous rows; normalize_log_prob sees the (rows, K) view.
        log_prob = log_prob_buffer[: n_components * n_rows].reshape(
            n_components, n_rows
        )
        np.dot(coefficients, features, out=log_prob)
        log_prob_norm = normalize_log_prob(log_prob.T, floor)
        resp = log_prob
        if sample_weight is None:
            log_likelihood += float(log_prob_norm.sum(dtype=np.float64))
        else:
            weights = sample_weight[start : start + step]
            log_likelihood += float(log_prob_norm @ weights)
            resp *= weights
        np.dot(resp, features.T, out=block_moments)
        moments += block_moments
    return moments, log_likelihood


def bounded_statistics(anchored, bounds, n_threads=1):
    r"""Responsibility-weighted feature sums and log-likelihood, pruning by the bound.

    The result of :func:`accumulate_statistics` ('full' covariances) but for
    the pruned pairs' terms, each below :math:`10^{-215}` of a responsibility
    (:mod:`gmmlib.bounded_e_step`). The rows of ``anchored`` are taken a block
    at a time (:func:`gmmlib.bounded_e_step.bounded_block`). A row whose
    every pair but its anchor is pruned has responsibility exactly 1 at its
    anchor and log-density :math:`\log w_a \mathcal{N}(x_n \mid a)`, so its
    terms are already in ``anchored.moments``. Each contested row adds
    :math:`w_n (r_{nk} - [k = a_n])\, t(x_n - c)` for its anchor and the
    components that survived the bound (:eq:`eq-perf-anchored-sums`, chapter
    "Empirical performance"):

    .. math::

        \begin{aligned}
        \sum_n w_n r_{nk}\, t(x_n - c)
        &= \sum_{n:\, a_n = k} w_n\, t(x_n - c) \\
        &\quad + \sum_{n\ \text{contested}} w_n (r_{nk} - [k = a_n])\, t(x_n - c).
        \end{aligned}

    Each row's component of largest responsibility is written to
    ``anchored.labels`` (unchanged when the pass goes to the full E-step).

    Parameters
    ----------
    anchored : AnchoredRows
        The rows, centred on the shift :math:`c` of ``bounds``.
    bounds : AnchorBounds
    n_threads : int, default=1
        Threads (:func:`gmmlib.runtime.map_row_parts`).

    Returns
    -------
    moments : ndarray of shape (n_components, n_statistics) or None
        :math:`\sum_n w_n r_{nk} t(x_n - c)`, float64; None when more than
        :data:`gmmlib.bounded_e_step.MAX_COMPUTED_FRACTION` of the pairs of a
        probe of :data:`gmmlib.bounded_e_step.PROBE_ROWS` rows, spread evenly
        over all anchors, survive the bound, both with the rows' anchors and
        with the diagonal-precision ones
        (:meth:`gmmlib.bounded_e_step.AnchorBounds.anchors`): then the full
        E-step is cheaper. When only the latter prune enough, the rows are
        sorted by them first.
    log_likelihood : float or None
        :math:`\sum_n w_n \log p(x_n)`.
    """
    n_samples, n_features = anchored.rows.shape
    n_components = len(anchored.edges) - 1
    floor = log_floor(anchored.rows.dtype)

    def prunes(rows, anchors):
        order, edges = group_rows(anchors, n_components)
        _, candidates = prune(rows[order], edges, bounds, floor)
        return len(rows) + candidates.sum() <= MAX_COMPUTED_FRACTION * candidates.size

    probe = np.linspace(0, n_samples - 1, min(n_samples, PROBE_ROWS)).astype(np.intp)
    probe_rows = anchored.rows[probe]
    if not prunes(probe_rows, anchored.anchors[probe]):
        # The anchors may be poor (the rows of a start that overlapped)
        # rather than the components close: try the diagonal-precision ones.
        if not prunes(probe_rows, bounds.anchors(probe_rows)):
            return None, None
        anchored.sort_by(bounds.anchors(anchored.rows), n_threads)
    rows, weights, anchors = anchored.rows, anchored.weights, anchored.anchors
    components = np.arange(n_components + 1)
    step = bounded_block_size(n_components, n_features, rows.dtype)

    def statistics_of_part(first, last):
        corrections = np.zeros_like(anchored.moments)
        log_likelihood = 0.0
        for start in range(first, last, step):
            stop = min(start + step, last)
            block_anchors = anchors[start:stop]
            block = bounded_block(
                rows[start:stop],
                np.searchsorted(block_anchors, components),
                bounds,
                floor,
            )
            log_prob_norm = block.anchor_log_density
            labels = anchored.labels[start:stop]
            labels[:] = block_anchors
            contested = block.contested
            if len(contested):
                resp = block.log_prob
                labels[contested] = np.argmax(resp, axis=1)
                log_prob_norm[contested] = normalize_log_prob(resp, floor)
                computed = block.candidates[contested]
                at_anchor = (np.arange(len(contested)), block_anchors[contested])
                computed[at_anchor] = True
                resp[~computed] = 0.0  # pruned pairs: left out
                resp[at_anchor] -= 1.0
                if weights is not None:
                    resp *= weights[start:stop][contested, None]
                corrections += grouped_moments(
                    rows[start:stop][contested],
                    np.zeros(n_components + 1, dtype=np.intp),
                    extra=resp,
                )
            if weights is None:
                log_likelihood += float(log_prob_norm.sum(dtype=np.float64))
            else:
                log_likelihood += float(log_prob_norm @ weights[start:stop])
        return corrections, log_likelihood

    parts = map_row_parts(statistics_of_part, n_samples, n_threads, step)
    moments = anchored.moments + sum(part[0] for part in parts)
    return moments, sum(part[1] for part in parts)


def as_shift(shift, n_features, dtype):
    """The centre :math:`c` of the sums: float64 numbers exact in the dtype of the data.

    Rounding the centre to the data's dtype lets the centring run in that dtype
    (float32 arithmetic on float32 data) while the M-step adds back exactly
    the centre that was subtracted. Zero if ``shift`` is None.
    """
    if shift is None:
        return np.zeros(n_features)
    return np.asarray(shift, dtype=dtype).astype(np.float64)


def e_step(
    X,
    params,
    sample_weight=None,
    shift=None,
    log_weights=None,
    n_threads=None,
    anchored=None,
):
    """One E-step pass: the log-likelihood and the sufficient statistics.

    The responsibilities :eq:`eq-gem-k-resp` of each block of rows are summed into
    :math:`N_k`, :math:`S_k` and :math:`T_k` (:eq:`eq-gem-k-statistics`, of the
    data centred on ``shift``) and then dropped. The rows are split into
    ``n_threads`` contiguous parts, each handled by :func:`accumulate_statistics`
    in its own thread; BLAS runs on one thread meanwhile, so that its threads do
    not compete with these. For 'full' covariances in
    :data:`gmmlib.bounded_e_step.MIN_FEATURES` or more dimensions the pass goes to
    :func:`bounded_statistics`, which skips the log-densities that a bound
    proves to lie below the floor of :func:`normalize_log_prob`
    (:mod:`gmmlib.bounded_e_step`), over the rows sorted by anchor.

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
    n_threads : int, optional
        Threads to use; by default :func:`gmmlib.runtime.blas_threads`.
    anchored : AnchoredRows, optional
        For the bounded E-step: the rows of X with ``sample_weight``, centred
        on ``shift`` and sorted by anchor, kept from one pass to the next; its
        ``labels`` are overwritten with the rows' components of largest
        responsibility. When None,
        the pass sorts the rows of X by their diagonal-precision anchors
        (:meth:`gmmlib.bounded_e_step.AnchoredRows.from_bounds`). Ignored by
        the other E-steps.

    Returns
    -------
    SufficientStatistics
    """
    n_samples, n_features = X.shape
    shift = as_shift(shift, n_features, X.dtype)
    coefficients = natural_parameters(params, shift, log_weights).astype(X.dtype)
    if n_threads is None:
        n_threads = blas_threads()
    total_weight = float(n_samples if sample_weight is None else sample_weight.sum())
    sum_shift = shift
    if takes_bounded_e_step(params.covariance_type, n_features):
        bounds = AnchorBounds.from_parameters(params, shift, log_weights, X.dtype)
        if anchored is None:
            anchored = AnchoredRows.from_bounds(
                X, bounds, sample_weight, shift, n_threads
            )
        moments, log_likelihood = bounded_statistics(anchored, bounds, n_threads)
        if moments is not None:
            nk, first, second = unpack_moments(moments, "full", n_features)
            return SufficientStatistics(
                nk, first, second, log_likelihood, total_weight, shift
            )
        # Overlapping components: the full E-step, on the rows already centred.
        X, sample_weight, sum_shift = anchored.rows, anchored.weights, None

    def statistics_of_part(start, stop):
        weights = None if sample_weight is None else sample_weight[start:stop]
        return accumulate_statistics(
            X[start:stop], coefficients, params.covariance_type, sum_shift, weights
        )

    step = block_size(len(params.weights), n_features, params.covariance_type, X.dtype)
    parts = map_row_parts(statistics_of_part, n_samples, n_threads, step)
    moments = sum(part[0] for part in parts)
    log_likelihood = sum(part[1] for part in parts)
    nk, first, second = unpack_moments(moments, params.covariance_type, n_features)
    return SufficientStatistics(nk, first, second, log_likelihood, total_weight, shift)


def m_step(stats, covariance_type, reg_covar):
    r"""New parameters from the sufficient statistics.

    .. math:: w_k = \frac{N_k}{\sum_j N_j}, \quad \mu_k = \frac{S_k}{N_k}, \quad
              \Sigma_k = \frac{T_k}{N_k} - \mu_k \mu_k^\top + \epsilon I

    (:eq:`eq-gem-m-step-weights`, :eq:`eq-gem-m-step-means` and, for 'full',
    :eq:`eq-gem-m-step-full`; 'tied', 'diag' and 'spherical' are
    :eq:`eq-gem-m-step-tied`, :eq:`eq-gem-m-step-diag` and
    :eq:`eq-gem-m-step-spherical`, computed by
    :func:`gmmlib.covariance.covariances_from_statistics`), with
    :math:`\epsilon` = ``reg_covar``. The statistics are of data centred on
    ``stats.shift``, which is added back to the means. Every :math:`N_k` gets
    ``10 * eps`` added (:func:`gmmlib.covariance.nonzero_counts`), as in
    scikit-learn, so an empty component does not divide by zero.

    Parameters
    ----------
    stats : SufficientStatistics
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    reg_covar : float

    Returns
    -------
    MixtureParameters

    Raises
    ------
    ValueError
        scikit-learn's degenerate-covariance error, naming the component, when a
        covariance is not positive definite or no larger than the rounding error of
        the statistics it came from (:func:`gmmlib.covariance.rounding_floor`).
    """
    nk = nonzero_counts(stats.nk)
    centred_means = stats.first_moments / nk[:, None]
    covariances = covariances_from_statistics(
        nk, centred_means, stats.second_moments, covariance_type, reg_covar
    )
    return parameters_from_m_step(
        nk, centred_means + stats.shift, covariances, stats, covariance_type
    )


def parameters_from_m_step(nk, means, covariances, stats, covariance_type):
    """The parameters an M-step made from the counts :math:`N_k` of ``stats``.

    Weights :math:`N_k / \\sum_j N_j`, and the precision Cholesky factors of
    the covariances, which fail (scikit-learn's degenerate-covariance error)
    at or below the rounding floor of the statistics
    (:func:`gmmlib.covariance.rounding_floor`). Shared by EM's M-step and the
    MAP M-step of :mod:`gmmlib.priors`.

    Parameters
    ----------
    nk : ndarray of shape (n_components,)
        The counts, with :func:`gmmlib.covariance.nonzero_counts` applied.
    means : ndarray of shape (n_components, n_features)
        Not centred.
    covariances : ndarray
        In scikit-learn's layout for ``covariance_type``.
    stats : SufficientStatistics
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    MixtureParameters
    """
    return MixtureParameters(
        weights=nk / nk.sum(),
        means=means,
        covariances=covariances,
        precisions_cholesky=precision_cholesky_from_covariances(
            covariances,
            covariance_type,
            floor=rounding_floor(nk, stats.second_moments, covariance_type),
        ),
        covariance_type=covariance_type,
    )
