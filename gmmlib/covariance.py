r"""Covariance estimators of the M-step and the Cholesky factors of the precisions.

Chapter "General EM and why it climbs", section "EM for K Gaussians in d
dimensions", derives the M-step (:ref:`sec-gem-k-gaussians`); chapter "EM for
two Gaussians" writes it for one dimension. With responsibilities
:math:`r_{nk}` and sample weights :math:`w_n`, the M-step needs only the
sufficient statistics (:eq:`eq-gem-k-statistics`)

.. math::

    N_k = \sum_n w_n r_{nk}, \quad
    S_k = \sum_n w_n r_{nk} x_n, \quad
    T_k = \sum_n w_n r_{nk} x_n x_n^\top,

from which :math:`\mu_k = S_k / N_k` and
:math:`\Sigma_k = T_k / N_k - \mu_k \mu_k^\top + \epsilon I` (``epsilon = reg_covar``,
:eq:`eq-gem-m-step-full`). The other covariance types restrict :math:`\Sigma_k`:
'tied' shares one matrix (:eq:`eq-gem-m-step-tied`), 'diag' keeps the diagonal
(:eq:`eq-gem-m-step-diag`), 'spherical' the mean of the diagonal
(:eq:`eq-gem-m-step-spherical`).

The estimator works with precision Cholesky factors :math:`P_k`, upper
triangular with :math:`P_k P_k^\top = \Sigma_k^{-1}`, as scikit-learn does.
"""

import numpy as np
from scipy.linalg import get_lapack_funcs

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

#: :math:`\log 2\pi`, in the normalising constant of every Gaussian log-density.
LOG_2PI = np.log(2.0 * np.pi)

#: scikit-learn's message for a covariance that is not positive definite, word
#: for word, so that code matching scikit-learn's error matches gmmlib's.
DEGENERATE_COVARIANCE_MESSAGE = (
    "Fitting the mixture model failed because some components have "
    "ill-defined empirical covariance (for instance caused by singleton "
    "or collapsed samples). Try to decrease the number of components, "
    "increase reg_covar, or scale the input data."
)


def n_statistics(n_features, covariance_type):
    r"""Number of sufficient statistics per sample: the length of the features :math:`t(x)`.

    :math:`t(x) = (1, x, x_i x_j \text{ for } i \le j)` for 'full' and 'tied',
    :math:`(1, x, x_1^2, \dots, x_d^2)` for 'diag' and 'spherical'
    (:func:`gmmlib.em_steps.sufficient_features`; chapter "Empirical performance").

    Parameters
    ----------
    n_features : int
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    n_statistics : int
        :math:`1 + d + d(d+1)/2` or :math:`1 + 2d`.
    """
    if covariance_type in ("full", "tied"):
        return 1 + n_features + n_features * (n_features + 1) // 2
    return 1 + 2 * n_features


def nonzero_counts(nk):
    r"""The counts the M-step divides by: :math:`N_k + 10\,\epsilon`.

    :math:`\epsilon` is the machine epsilon of float64. As in scikit-learn, the
    tiny addition keeps an empty component (:math:`N_k = 0`) from dividing by
    zero in :math:`\mu_k = S_k / N_k` and :math:`\Sigma_k = T_k / N_k - \mu_k
    \mu_k^\top`, and changes no other count beyond rounding. The M-step
    divides by these counts everywhere, :math:`N = \sum_k N_k` included
    (:eq:`eq-gem-m-step-weights` to :eq:`eq-gem-m-step-spherical`, chapter
    "General EM and why it climbs").

    Parameters
    ----------
    nk : ndarray of shape (n_components,)
        :math:`N_k = \sum_n w_n r_{nk}`.

    Returns
    -------
    nk : ndarray of shape (n_components,)
    """
    return nk + 10 * np.finfo(np.float64).eps


def covariances_from_statistics(nk, means, second_moments, covariance_type, reg_covar):
    r"""Covariances from the sufficient statistics of the M-step.

    With :math:`\mu_k` the means, :math:`\epsilon` = ``reg_covar`` and the counts
    of :func:`nonzero_counts`: :math:`\Sigma_k = T_k / N_k - \mu_k \mu_k^\top +
    \epsilon I` for 'full' (:eq:`eq-gem-m-step-full`), :math:`\Sigma = \sum_k (T_k -
    N_k \mu_k \mu_k^\top) / \sum_k N_k + \epsilon I` for 'tied'
    (:eq:`eq-gem-m-step-tied`), the diagonal of the 'full' matrix for 'diag'
    (:eq:`eq-gem-m-step-diag`), and its mean for 'spherical'
    (:eq:`eq-gem-m-step-spherical`).

    Parameters
    ----------
    nk : ndarray of shape (n_components,)
        Weighted counts :math:`N_k`.
    means : ndarray of shape (n_components, n_features)
        Means :math:`S_k / N_k` (of the data as the statistics saw it).
    second_moments : ndarray
        :math:`T_k`: shape (n_components, n_features, n_features) for 'full',
        (n_features, n_features) holding :math:`\sum_k T_k` for 'tied',
        (n_components, n_features) holding the diagonals for 'diag' and 'spherical'.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    reg_covar : float
        Added to the diagonal of every covariance.

    Returns
    -------
    covariances : ndarray
        Shape (n_components, n_features, n_features), (n_features, n_features),
        (n_components, n_features) or (n_components,) by covariance type.
    """
    n_features = means.shape[1]
    if covariance_type == "full":
        covariances = second_moments / nk[:, None, None]
        covariances -= means[:, :, None] * means[:, None, :]
        covariances[:, np.arange(n_features), np.arange(n_features)] += reg_covar
    elif covariance_type == "tied":
        covariances = second_moments - (nk[:, None] * means).T @ means
        covariances /= nk.sum()
        covariances.flat[:: n_features + 1] += reg_covar
    else:
        covariances = second_moments / nk[:, None] - means**2 + reg_covar
        if covariance_type == "spherical":
            covariances = covariances.mean(axis=1)
    return covariances


def rounding_floor(nk, second_moments, covariance_type):
    r"""The size below which a variance from the statistics is rounding noise.

    :math:`\Sigma_k = T_k / N_k - \mu_k \mu_k^\top` subtracts numbers as large as
    the second moments :math:`s_k = \max_i (T_k)_{ii} / N_k` (about the centre of the
    sums), so its entries carry rounding errors of order :math:`u\,s_k`. A variance
    below :math:`10\,d\,u\,s_k` (:math:`u` the unit roundoff of float64, :math:`d`
    the number of features) has no correct digit: the component has collapsed.

    Parameters
    ----------
    nk, second_moments, covariance_type
        As for :func:`covariances_from_statistics`.

    Returns
    -------
    floor : ndarray
        Shape (n_components,) for 'full' and 'spherical', () for 'tied',
        (n_components, n_features) for 'diag'.
    """
    eps = np.finfo(np.float64).eps
    if covariance_type == "full":
        diagonals = np.diagonal(second_moments, axis1=1, axis2=2)
        return 10 * eps * diagonals.shape[1] * diagonals.max(axis=1) / nk
    if covariance_type == "tied":
        return 10 * eps * len(second_moments) * np.diag(second_moments).max() / nk.sum()
    if covariance_type == "diag":
        return 10 * eps * second_moments / nk[:, None]
    return 10 * eps * second_moments.max(axis=1) / nk


class DegenerateCovarianceError(ValueError):
    """A covariance that is not positive definite, or singular to working precision.

    A ``ValueError`` (scikit-learn raises a plain ``ValueError`` with the same
    message), raised by :func:`precision_cholesky_from_covariances` when a
    component has collapsed. :class:`gmmlib.GaussianMixture` and
    :class:`gmmlib.BayesianGaussianMixture` discard a start that raises it
    while other starts succeed (:class:`gmmlib.DegenerateStartWarning`), and
    :func:`gmmlib.fit_grid` records a cell that raises it as failed.

    Parameters
    ----------
    message : str
        Begins with :data:`DEGENERATE_COVARIANCE_MESSAGE`, scikit-learn's text.
    component : int or None, default=None
        The first component found degenerate, when known; for 'tied', the
        index of the shared covariance (0).

    Attributes
    ----------
    component : int or None
    """

    def __init__(self, message, component=None):
        super().__init__(message)
        self.component = component


def _degenerate(dtype, component=None):
    message = DEGENERATE_COVARIANCE_MESSAGE
    if dtype == np.float32:
        message += (
            " The numerical accuracy can also be improved by passing "
            "float64 data instead of float32."
        )
    if component is not None:
        message += (
            f" Component {component} has a covariance that is not positive "
            "definite, or singular to working precision."
        )
    return DegenerateCovarianceError(message, component)


def _triangular_inverse(factors, lower):
    """Inverses of triangular matrices, shape (..., d, d), one LAPACK ``trtri`` call each.

    ``scipy.linalg.solve_triangular`` runs the multi-threaded BLAS ``trsm`` even for a
    2 x 2 system; with two BLAS threads on a busy machine each call then waits
    milliseconds for its threads. ``trtri`` on one small matrix does not.
    """
    stack = factors.reshape((-1,) + factors.shape[-2:])
    (trtri,) = get_lapack_funcs(("trtri",), (stack,))
    inverse = np.empty_like(stack)
    for k, factor in enumerate(stack):
        inverse[k], info = trtri(factor, lower=lower)
        if info != 0:
            raise np.linalg.LinAlgError("singular triangular factor")
    # trtri leaves the other triangle as it was; solve_triangular ignored it.
    inverse = np.tril(inverse) if lower else np.triu(inverse)
    return inverse.reshape(factors.shape)


def _cholesky_or_raise(matrices, dtype):
    """Lower Cholesky factors of a stack of matrices, naming the first that fails."""
    try:
        return np.linalg.cholesky(matrices)
    except np.linalg.LinAlgError:
        for k, matrix in enumerate(matrices):
            try:
                np.linalg.cholesky(matrix)
            except np.linalg.LinAlgError:
                raise _degenerate(dtype, k) from None
        raise _degenerate(dtype) from None


def precision_cholesky_from_covariances(covariances, covariance_type, floor=0.0):
    r"""Upper-triangular :math:`P` with :math:`P P^\top = \Sigma^{-1}`.

    For a lower Cholesky factor :math:`\Sigma = L L^\top`, :math:`P = L^{-\top}`.

    Parameters
    ----------
    covariances : ndarray
        As :func:`covariances_from_statistics` returns them.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    floor : float or ndarray, default=0.0
        Per component (per variance for 'diag'), the size at or below which a
        variance is rounding noise (:func:`rounding_floor`). A full covariance
        fails when :math:`1 / \operatorname{tr} \Sigma^{-1} = 1 / \lVert P \rVert_F^2`,
        which lies between :math:`\lambda_{\min} / d` and :math:`\lambda_{\min}`,
        is at or below it.

    Raises
    ------
    DegenerateCovarianceError
        A ``ValueError`` with scikit-learn's degenerate-covariance message
        (naming the component) when a covariance is not positive definite, or
        not above ``floor``.
    """
    dtype = covariances.dtype
    if covariance_type in ("full", "tied"):
        stack = covariances if covariance_type == "full" else covariances[None]
        lower = _cholesky_or_raise(stack, dtype)
        precisions_chol = _triangular_inverse(lower, lower=True).transpose(0, 2, 1)
        smallest = 1.0 / np.square(precisions_chol).sum(axis=(1, 2))
        bad = np.flatnonzero(~(smallest > floor))
        if bad.size:
            raise _degenerate(dtype, int(bad[0]))
        return precisions_chol if covariance_type == "full" else precisions_chol[0]
    above = (covariances > floor).reshape(len(covariances), -1)
    bad = np.flatnonzero(~above.all(axis=1))
    if bad.size:
        raise _degenerate(dtype, int(bad[0]))
    return 1.0 / np.sqrt(covariances)


def precision_cholesky_from_precisions(precisions, covariance_type):
    r"""Upper-triangular :math:`P` with :math:`P P^\top = \Lambda` for given precisions.

    Reversing rows and columns (:math:`J \Lambda J = L L^\top`) turns the lower
    Cholesky factor into the upper one, :math:`P = J L J`.
    """
    if covariance_type in ("full", "tied"):
        flipped = precisions[..., ::-1, ::-1]
        return np.linalg.cholesky(flipped)[..., ::-1, ::-1].copy()
    return np.sqrt(precisions)


def precisions_from_cholesky(precisions_cholesky, covariance_type):
    r"""Precisions :math:`\Lambda = P P^\top` from their Cholesky factors."""
    if covariance_type in ("full", "tied"):
        return precisions_cholesky @ np.swapaxes(precisions_cholesky, -1, -2)
    return precisions_cholesky**2


def covariances_from_cholesky(precisions_cholesky, covariance_type):
    r"""Covariances :math:`\Sigma = (P P^\top)^{-1} = P^{-\top} P^{-1}` from the factors."""
    if covariance_type in ("full", "tied"):
        inverse = _triangular_inverse(
            np.asarray(precisions_cholesky, dtype=np.float64), lower=False
        )
        return np.swapaxes(inverse, -1, -2) @ inverse
    return 1.0 / precisions_cholesky**2


def log_det_cholesky(precisions_cholesky, covariance_type, n_features):
    r"""Log-determinant of each factor, :math:`\log|P_k| = -\tfrac12 \log|\Sigma_k|`.

    Returns
    -------
    log_det : ndarray of shape (n_components,) or float for 'tied'
    """
    if covariance_type == "full":
        return np.log(np.diagonal(precisions_cholesky, axis1=1, axis2=2)).sum(axis=1)
    if covariance_type == "tied":
        return np.log(np.diag(precisions_cholesky)).sum()
    if covariance_type == "diag":
        return np.log(precisions_cholesky).sum(axis=1)
    return n_features * np.log(precisions_cholesky)


def n_covariance_parameters(covariance_type, n_components, n_features):
    """Number of free parameters in the covariances of a mixture."""
    return {
        "full": n_components * n_features * (n_features + 1) // 2,
        "tied": n_features * (n_features + 1) // 2,
        "diag": n_components * n_features,
        "spherical": n_components,
    }[covariance_type]


def n_mixture_parameters(covariance_type, n_components, n_features):
    """Number of free parameters of a mixture: weights, means and covariances.

    :math:`(K - 1) + K d` plus :func:`n_covariance_parameters`; the count in
    BIC and AIC, and the length of :func:`gmmlib.information.free_parameters`.
    """
    return (
        n_components
        - 1
        + n_components * n_features
        + n_covariance_parameters(covariance_type, n_components, n_features)
    )


def full_covariances(covariances, covariance_type, n_components, n_features):
    r"""The covariances of any type as one stack of full matrices.

    'tied' repeats the shared matrix :math:`\Sigma`, 'diag' puts each vector on
    a diagonal and 'spherical' multiplies the identity by each variance,
    :math:`\Sigma_k = \sigma_k^2 I`. Used where an algorithm needs the matrices
    themselves: marginals and conditionals in :mod:`gmmlib.missing_values`
    (chapter "EM with missing values") and the ellipses of
    :mod:`gmmlib.plotting` (chapter "scikit-learn in practice").

    Parameters
    ----------
    covariances : array-like
        Shape (n_components, n_features, n_features), (n_features, n_features),
        (n_components, n_features) or (n_components,) by covariance type.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    n_components : int
    n_features : int

    Returns
    -------
    covariances : ndarray of shape (n_components, n_features, n_features)
        A new float64 array; the input is not modified.
    """
    covariances = np.asarray(covariances, dtype=np.float64)
    if covariance_type == "full":
        return covariances.copy()
    if covariance_type == "tied":
        return np.repeat(covariances[None], n_components, axis=0)
    if covariance_type == "spherical":
        covariances = np.repeat(covariances[:, None], n_features, axis=1)
    return covariances[:, :, None] * np.eye(n_features)
