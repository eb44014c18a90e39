r"""Hard EM: k-means (Lloyd's algorithm) and classification EM.

Chapter "k-means as hard EM" (``chapters/06_kmeans_hard_em.md``) derives everything here.

EM replaces the hidden labels by their posterior probabilities, the responsibilities
:math:`r_{nk}`. *Hard* EM replaces them by the most probable label instead,

.. math:: z_n = \arg\max_k r_{nk} = \arg\max_k \; w_k \, \mathcal{N}(x_n \mid \mu_k, \Sigma_k),

and runs the same M-step on the one-hot responsibilities :math:`\mathbb{1}\{z_n = k\}`.
This is the classification EM algorithm of Celeux and Govaert (1992),
:func:`classification_em`. It increases the *classification* log-likelihood
:math:`C(z, \theta) = \sum_n \log w_{z_n} \mathcal{N}(x_n \mid \mu_{z_n}, \Sigma_{z_n})`.

With equal, fixed weights and one shared, fixed covariance :math:`\sigma^2 I` the
hard E-step is "nearest centre" and the M-step is "centre = mean of its points":
Lloyd's k-means, :class:`LloydKMeans`, which decreases the inertia
:math:`J = \sum_n \lVert x_n - \mu_{z_n} \rVert^2`. Soft EM for that same model,
:func:`fixed_variance_em`, tends to Lloyd's algorithm as :math:`\sigma \to 0`.
"""

import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .em_steps import (
    MixtureParameters,
    SufficientStatistics,
    estimate_log_gaussian_prob,
    estimate_log_prob_resp,
    m_step,
    statistics_from_resp,
)
from .validation import check_sample_weight

#: Record of one Lloyd iteration: the inertia after the assignment step (before the
#: centres move) and after the centres moved.
INERTIA_HISTORY_DTYPE = np.dtype(
    [
        ("iteration", np.int64),
        ("inertia_before", np.float64),
        ("inertia_after", np.float64),
    ]
)

#: Record of one classification-EM iteration: the classification log-likelihood
#: after the hard E-step and after the M-step.
CLASSIFICATION_HISTORY_DTYPE = np.dtype(
    [
        ("iteration", np.int64),
        ("classification_log_likelihood_before", np.float64),
        ("classification_log_likelihood_after", np.float64),
    ]
)


def hard_responsibilities(labels, n_components):
    r"""One-hot responsibilities :math:`r_{nk} = \mathbb{1}\{z_n = k\}`.

    Parameters
    ----------
    labels : ndarray of shape (n_samples,)
        Component of each sample, in ``range(n_components)``.
    n_components : int

    Returns
    -------
    resp : ndarray of shape (n_samples, n_components)
    """
    resp = np.zeros((len(labels), n_components))
    resp[np.arange(len(labels)), labels] = 1.0
    return resp


def harden(resp):
    r"""The hard E-step: put all the weight of each row on its largest responsibility.

    Parameters
    ----------
    resp : ndarray of shape (n_samples, n_components)

    Returns
    -------
    hard_resp : ndarray of shape (n_samples, n_components)
        :math:`\mathbb{1}\{k = \arg\max_j r_{nj}\}` (the first maximum on ties).
    """
    return hard_responsibilities(resp.argmax(axis=1), resp.shape[1])


# --------------------------------------------------------------------- Lloyd
def nearest_centres(X, centres):
    r"""Lloyd's assignment step: the nearest centre of every sample.

    Uses :math:`\lVert x - c_k \rVert^2 = \lVert x \rVert^2 - 2 x^\top c_k + \lVert c_k \rVert^2`
    without the term :math:`\lVert x \rVert^2`, which is the same for every centre,
    exactly as scikit-learn's Lloyd iteration does; ties go to the first centre.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    centres : ndarray of shape (n_clusters, n_features)

    Returns
    -------
    labels : ndarray of shape (n_samples,)
    """
    partial = -2.0 * (X @ centres.T)
    partial += np.einsum("kd,kd->k", centres, centres)
    return partial.argmin(axis=1)


def inertia(X, centres, labels, sample_weight=None):
    r"""The k-means objective :math:`J = \sum_n w_n \lVert x_n - c_{z_n} \rVert^2`.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    centres : ndarray of shape (n_clusters, n_features)
    labels : ndarray of shape (n_samples,)
    sample_weight : ndarray of shape (n_samples,), optional

    Returns
    -------
    inertia : float
    """
    residuals = X - centres[labels]
    squared = np.einsum("nd,nd->n", residuals, residuals)
    return float(squared.sum() if sample_weight is None else squared @ sample_weight)


def _update_centres(X, labels, centres, sample_weight):
    """Lloyd's update step: the M-step of EM on one-hot responsibilities.

    Empty clusters are moved as scikit-learn moves them: each takes the sample
    farthest from its current centre, which leaves its old cluster. Returns the
    new centres and the labels after those moves.
    """
    n_clusters = len(centres)
    nk, sums, _ = statistics_from_resp(
        X, hard_responsibilities(labels, n_clusters), "spherical", sample_weight
    )
    labels = labels.copy()
    empty = np.flatnonzero(nk == 0)
    if empty.size:
        residuals = X - centres[labels]
        distances = np.einsum("nd,nd->n", residuals, residuals)
        if distances.max() > 0:
            farthest = np.argpartition(distances, -empty.size)[: -empty.size - 1 : -1]
            for new, far in zip(empty, farthest, strict=True):
                old = labels[far]
                sums[old] -= X[far] * sample_weight[far]
                nk[old] -= sample_weight[far]
                sums[new] = X[far] * sample_weight[far]
                nk[new] = sample_weight[far]
                labels[far] = new
    filled = nk > 0
    new_centres = np.empty_like(centres)
    new_centres[filled] = sums[filled] / nk[filled, None]
    new_centres[~filled] = new_centres[np.argmax(nk)]
    return new_centres, labels


@dataclass
class LloydResult:
    """One run of Lloyd's algorithm.

    Attributes
    ----------
    centres : ndarray of shape (n_clusters, n_features)
    labels : ndarray of shape (n_samples,)
    inertia : float
    n_iter : int
    history : structured ndarray of shape (n_iter,)
        Fields ``iteration``, ``inertia_before`` and ``inertia_after``
        (:data:`INERTIA_HISTORY_DTYPE`).
    """

    centres: np.ndarray
    labels: np.ndarray
    inertia: float
    n_iter: int
    history: np.ndarray


def lloyd(X, centres_init, *, max_iter=300, tol=1e-4, sample_weight=None):
    r"""Lloyd's algorithm from given centres, iteration by iteration as scikit-learn.

    Each iteration assigns every sample to its nearest centre (the hard E-step) and
    moves every centre to the weighted mean of its samples (the M-step on one-hot
    responsibilities). It stops when the labels no longer change, or when the
    centres moved by :math:`\sum_k \lVert c_k^{new} - c_k \rVert^2 \le` ``tol``; in the
    second case one more assignment step makes the labels match the centres.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    centres_init : ndarray of shape (n_clusters, n_features)
    max_iter : int, default=300
    tol : float, default=1e-4
        Absolute tolerance on the squared centre shift (:class:`LloydKMeans`
        scales its ``tol`` by the mean variance of the features first).
    sample_weight : ndarray of shape (n_samples,), optional

    Returns
    -------
    LloydResult
    """
    sample_weight = np.ones(len(X)) if sample_weight is None else sample_weight
    centres = np.array(centres_init, dtype=np.float64)
    labels_old = np.full(len(X), -1)
    history = []
    strict_convergence = False
    for iteration in range(1, max_iter + 1):
        labels = nearest_centres(X, centres)
        before = inertia(X, centres, labels, sample_weight)
        new_centres, moved_labels = _update_centres(X, labels, centres, sample_weight)
        history.append(
            (iteration, before, inertia(X, new_centres, moved_labels, sample_weight))
        )
        shift = np.sum((new_centres - centres) ** 2)
        centres = new_centres
        if np.array_equal(labels, labels_old):
            strict_convergence = True
            break
        if shift <= tol:
            break
        labels_old = labels
    if not strict_convergence:
        labels = nearest_centres(X, centres)
    return LloydResult(
        centres,
        labels,
        inertia(X, centres, labels, sample_weight),
        iteration,
        np.array(history, dtype=INERTIA_HISTORY_DTYPE),
    )


def _same_clustering(labels1, labels2):
    """Whether ``labels1`` determines ``labels2`` (scikit-learn's test for equal runs)."""
    pairs = np.unique(np.column_stack([labels1, labels2]), axis=0)
    return len(pairs) == len(np.unique(labels1))


class LloydKMeans(ClusterMixin, BaseEstimator):
    """k-means clustering by Lloyd's algorithm, the hard-EM limit of a Gaussian mixture.

    Same parameters, attributes and results as ``sklearn.cluster.KMeans`` with
    ``algorithm='lloyd'`` (checked to rounding in ``tests/library/test_hard_em.py``), plus
    ``history_``, the inertia before and after each update step. Derived in chapter
    "k-means as hard EM".

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters :math:`K`.
    init : {'k-means++', 'random'} or array-like of shape (n_clusters, n_features), \
            default='k-means++'
        Starting centres: k-means++ seeding (Arthur and Vassilvitskii, 2007),
        ``n_clusters`` distinct samples drawn at random, or the given centres.
    n_init : 'auto' or int, default='auto'
        Number of starts; the run with the smallest inertia is kept. 'auto' means
        1 for 'k-means++' and given centres, 10 for 'random'.
    max_iter : int, default=300
        Maximum number of iterations of one run.
    tol : float, default=1e-4
        A run stops when the squared centre shift is at most ``tol`` times the mean
        variance of the features (or when no label changes).
    random_state : int, RandomState instance or None, default=None
        Seed for the starting centres.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : ndarray of shape (n_samples,)
    inertia_ : float
        :math:`\\sum_n w_n \\lVert x_n - c_{z_n} \\rVert^2` of the kept run.
    n_iter_ : int
        Iterations of the kept run.
    history_ : structured ndarray of shape (n_iter_,)
        Fields ``iteration``, ``inertia_before`` (labels from the assignment step,
        old centres) and ``inertia_after`` (new centres) of the kept run.
    n_features_in_ : int
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means++", "random"}), "array-like"],
        "n_init": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        random_state=None,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def _number_of_starts(self):
        init_is_array = not isinstance(self.init, str)
        if self.n_init == "auto":
            return 1 if init_is_array or self.init == "k-means++" else 10
        if init_is_array and self.n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one init "
                f"in {self.__class__.__name__} instead of n_init={self.n_init}.",
                RuntimeWarning,
                stacklevel=3,
            )
            return 1
        return self.n_init

    def _checked_init(self, n_features, dtype):
        centres = check_array(self.init, dtype=dtype, copy=True)
        if centres.shape[0] != self.n_clusters:
            raise ValueError(
                f"The shape of the initial centers {centres.shape} does not match "
                f"the number of clusters {self.n_clusters}."
            )
        if centres.shape[1] != n_features:
            raise ValueError(
                f"The shape of the initial centers {centres.shape} does not match "
                f"the number of features of the data {n_features}."
            )
        return centres

    def _starting_centres(self, X, sample_weight, random_state, given):
        if given is not None:
            return given
        if self.init == "k-means++":
            return kmeans_plusplus(
                X,
                self.n_clusters,
                sample_weight=sample_weight,
                random_state=random_state,
            )[0]
        seeds = random_state.choice(
            len(X),
            size=self.n_clusters,
            replace=False,
            p=sample_weight / sample_weight.sum(),
        )
        return X[seeds]

    def fit(self, X, y=None, sample_weight=None):
        """Cluster X with the best of ``n_init`` runs of Lloyd's algorithm.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample (not used by the initialisation when ``init``
            is an array).

        Returns
        -------
        self : LloydKMeans
        """
        self._validate_params()
        X = validate_data(self, X, dtype=np.float64, copy=True)
        n_samples, n_features = X.shape
        if n_samples < self.n_clusters:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}."
            )
        sample_weight = check_sample_weight(sample_weight, n_samples)
        sample_weight = np.ones(n_samples) if sample_weight is None else sample_weight
        tol = 0.0 if self.tol == 0 else float(np.mean(np.var(X, axis=0)) * self.tol)
        # Centre the data, as scikit-learn does, for accurate distances.
        shift = X.mean(axis=0)
        X -= shift
        given = (
            None
            if isinstance(self.init, str)
            else self._checked_init(n_features, X.dtype) - shift
        )
        random_state = check_random_state(self.random_state)
        best = None
        for _ in range(self._number_of_starts()):
            centres = self._starting_centres(X, sample_weight, random_state, given)
            run = lloyd(
                X, centres, max_iter=self.max_iter, tol=tol, sample_weight=sample_weight
            )
            if best is None or (
                run.inertia < best.inertia
                and not _same_clustering(run.labels, best.labels)
            ):
                best = run
        distinct = len(np.unique(best.labels))
        if distinct < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({distinct}) found smaller than "
                f"n_clusters ({self.n_clusters}). Possibly due to duplicate points in X.",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.cluster_centers_ = best.centres + shift
        self.labels_ = best.labels
        self.inertia_ = best.inertia
        self.n_iter_ = best.n_iter
        self.history_ = best.history
        return self

    def predict(self, X):
        """Index of the nearest centre of each sample.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return nearest_centres(X, self.cluster_centers_)

    def score(self, X, y=None, sample_weight=None):
        """Minus the inertia of X with respect to the fitted centres.

        Returns
        -------
        score : float
        """
        labels = self.predict(X)
        sample_weight = check_sample_weight(sample_weight, len(labels))
        return -inertia(
            np.asarray(X, dtype=np.float64),
            self.cluster_centers_,
            labels,
            sample_weight,
        )


# ------------------------------------------------------ classification EM
@dataclass
class ClassificationEMResult:
    """The outcome of :func:`classification_em`.

    Attributes
    ----------
    params : MixtureParameters
    labels : ndarray of shape (n_samples,)
        Hard assignments under ``params``.
    n_iter : int
    converged : bool
        True when an iteration left every label unchanged.
    history : structured ndarray of shape (n_iter,)
        :data:`CLASSIFICATION_HISTORY_DTYPE`: the classification log-likelihood
        :math:`C(z, \\theta)` after each hard E-step and after each M-step.
    """

    params: MixtureParameters
    labels: np.ndarray
    n_iter: int
    converged: bool
    history: np.ndarray


def classification_log_likelihood(X, params, labels=None, shift=None):
    r"""The classification log-likelihood, and the hard E-step under ``params``.

    .. math:: C(z, \theta) = \sum_n \log\bigl(w_{z_n} \mathcal{N}(x_n \mid \mu_{z_n},
              \Sigma_{z_n})\bigr).

    The argmax over :math:`k` of :math:`\log w_k \mathcal{N}(x_n \mid \mu_k, \Sigma_k)`
    is the argmax of the responsibilities :math:`r_{nk}` (they differ by
    :math:`\log p(x_n)`, the same for every :math:`k`).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    params : MixtureParameters
    labels : ndarray of shape (n_samples,), optional
        Labels to score; by default the hard E-step's labels.
    shift : ndarray of shape (n_features,), optional
        Centre subtracted from X and the means (it does not change the result).

    Returns
    -------
    value : float
        :math:`C(z, \theta)`.
    labels : ndarray of shape (n_samples,)
        The labels scored.
    """
    shift = np.zeros(X.shape[1]) if shift is None else shift
    weighted_log_prob = estimate_log_gaussian_prob(
        X - shift,
        params.means - shift,
        params.precisions_cholesky,
        params.covariance_type,
    ) + np.log(params.weights)
    labels = weighted_log_prob.argmax(axis=1) if labels is None else labels
    return float(weighted_log_prob[np.arange(len(X)), labels].sum()), labels


def classification_em(X, params, *, max_iter=100, reg_covar=1e-6):
    r"""Classification (hard) EM for a Gaussian mixture (Celeux and Govaert, 1992).

    Each iteration takes the hard E-step :math:`z_n = \arg\max_k r_{nk}` and runs the
    ordinary M-step of :func:`gmmlib.em_steps.m_step` on the one-hot responsibilities,
    which maximises :math:`C(z, \theta)` over :math:`\theta` (exactly when
    ``reg_covar=0``). Stops when the labels stop changing. Derived in chapter
    "k-means as hard EM".

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    params : MixtureParameters
        Starting parameters; their ``covariance_type`` is kept.
    max_iter : int, default=100
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance.

    Returns
    -------
    ClassificationEMResult
    """
    X = np.asarray(X, dtype=np.float64)
    shift = X.mean(axis=0)
    covariance_type = params.covariance_type
    value, labels = classification_log_likelihood(X, params, None, shift)
    history = []
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        nk, first, second = statistics_from_resp(
            X - shift,
            hard_responsibilities(labels, len(params.weights)),
            covariance_type,
        )
        stats = SufficientStatistics(nk, first, second, 0.0, float(len(X)), shift)
        params = m_step(stats, covariance_type, reg_covar)
        after, _ = classification_log_likelihood(X, params, labels, shift)
        history.append((n_iter, value, after))
        value, new_labels = classification_log_likelihood(X, params, None, shift)
        if np.array_equal(new_labels, labels):
            converged = True
            break
        labels = new_labels
    return ClassificationEMResult(
        params,
        labels,
        n_iter,
        converged,
        np.array(history, dtype=CLASSIFICATION_HISTORY_DTYPE),
    )


# ----------------------------------------------------------- the sigma limit
def isotropic_parameters(means, variance):
    r"""The mixture :math:`\sum_k \frac1K \mathcal{N}(\mu_k, \sigma^2 I)`.

    Equal weights and one spherical variance :math:`\sigma^2` shared by all
    components: the model whose hard-EM limit is k-means.

    Parameters
    ----------
    means : ndarray of shape (n_components, n_features)
    variance : float
        :math:`\sigma^2 > 0`.

    Returns
    -------
    MixtureParameters
        With ``covariance_type='spherical'``.
    """
    means = np.asarray(means, dtype=np.float64)
    n_components = len(means)
    return MixtureParameters(
        weights=np.full(n_components, 1.0 / n_components),
        means=means,
        covariances=np.full(n_components, float(variance)),
        precisions_cholesky=np.full(n_components, 1.0 / np.sqrt(variance)),
        covariance_type="spherical",
    )


def fixed_variance_em(X, means_init, variance, *, max_iter=300, tol=1e-12):
    r"""Soft EM that updates only the means of :func:`isotropic_parameters`.

    E-step :math:`r_{nk} \propto \exp(-\lVert x_n - \mu_k \rVert^2 / 2\sigma^2)`,
    M-step :math:`\mu_k = \sum_n r_{nk} x_n / \sum_n r_{nk}`; weights and variance
    stay fixed. As :math:`\sigma \to 0` the responsibilities become one-hot and the
    iteration becomes Lloyd's (chapter "k-means as hard EM"). A component with no
    responsibility left keeps its mean (the M-step objective does not depend on it).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    means_init : ndarray of shape (n_components, n_features)
    variance : float
        The fixed :math:`\sigma^2`.
    max_iter : int, default=300
    tol : float, default=1e-12
        Stop when :math:`\sum_k \lVert \mu_k^{new} - \mu_k \rVert^2 \le` ``tol``.

    Returns
    -------
    means : ndarray of shape (n_components, n_features)
    resp : ndarray of shape (n_samples, n_components)
        Responsibilities under the returned means.
    n_iter : int
    """
    X = np.asarray(X, dtype=np.float64)
    shift = X.mean(axis=0)
    means = np.array(means_init, dtype=np.float64)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 (returned after the loop)
        _, resp = estimate_log_prob_resp(
            X, isotropic_parameters(means, variance), shift
        )
        nk, first, _ = statistics_from_resp(X - shift, resp, "spherical")
        new_means = means.copy()
        filled = nk > 0
        new_means[filled] = first[filled] / nk[filled, None] + shift
        moved = np.sum((new_means - means) ** 2)
        means = new_means
        if moved <= tol:
            break
    _, resp = estimate_log_prob_resp(X, isotropic_parameters(means, variance), shift)
    return means, resp, n_iter
