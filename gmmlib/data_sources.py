r"""Where the data of a fit are: one class per kind of data, the estimators' only view of X.

The estimators of :mod:`gmmlib.mixture` never ask what X is. :func:`data_source`
validates X once and wraps it in one of three classes that answer the same
questions:

* :class:`InMemoryData`: an ndarray without missing values;
* :class:`MissingValuesData`: an ndarray with NaN, fitted with
  ``missing_values='marginalize'`` (chapter "EM with missing values");
* :class:`DaskData`: a dask array, every pass over it one map-reduce
  (:mod:`gmmlib.distributed`).

Each gives the column mean and the centre ``shift`` of the sums, the column
covariance (the Bayesian mixture's default prior), the starting statistics of
every ``init_params``, the E-step :math:`(N_k, S_k, T_k, \log L)` of
:eq:`eq-gem-k-statistics` (with optional log-weights for the variational
E-step), and the log-densities and responsibilities :eq:`eq-gem-k-resp` for
prediction. All data handling lives in the statistics, as in pomegranate's
``summarize``/``from_summaries`` design; the M-steps never see the data.
"""

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.utils.validation import validate_data

from . import distributed
from .bounded_e_step import AnchorBounds, AnchoredRows
from .em_steps import (
    SufficientStatistics,
    as_shift,
    e_step,
    estimate_log_prob_resp,
    moments_from_resp,
    takes_bounded_e_step,
    unpack_moments,
)
from .hierarchical import (
    hierarchical_labels,
    hierarchical_responsibilities,
    hierarchical_subset,
)
from .missing_values import (
    e_step_missing,
    estimate_log_prob_resp_missing,
    fill_with_column_means,
    missingness_patterns,
)
from .runtime import blas_threads, single_threaded
from .validation import check_sample_weight

INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data", "hierarchical")

#: Rows on which the 'kmeans' start (and 'k-means++' on a dask array) runs
#: when X has more (:func:`start_sample`): k-means on the sample gives the
#: centres, and one pass over all the rows then assigns each to its nearest
#: centre. The sampling error of a centre, :math:`\sigma / \sqrt{10^4 w_k}`,
#: is small beside the distances EM moves from its start, and k-means on
#: :math:`10^4` rows takes milliseconds, where k-means on all the rows took
#: most of the whole fit (chapter "Where EM starts" measures both).
START_SAMPLE_ROWS = 10_000

#: k-means runs (``KMeans(n_init=...)``) on a sample of :data:`START_SAMPLE_ROWS`
#: rows; the one of least inertia gives the centres. Three runs on the sample
#: cost less than one E-step on all the rows. Measured while choosing the
#: default, over ten seeds on the configurations of ``benchmarks/bench_em.py``:
#: one run missed the best maximum in some seeds (by 0.95 per sample on
#: 50,000 x 50 with 10 components, by 0.48 on 200,000 x 10 with 8), three
#: runs found it in every seed.
START_KMEANS_RUNS = 3


def data_source(
    estimator,
    X,
    sample_weight=None,
    *,
    missing_values="error",
    reset=True,
    min_samples=1,
):
    """Validate X for ``estimator`` and wrap it in the class for its kind.

    Parameters
    ----------
    estimator : BaseEstimator
        Its ``n_features_in_`` is set (``reset=True``) or checked against X, as
        ``sklearn.utils.validation.validate_data`` does.
    X : array-like or dask array of shape (n_samples, n_features)
    sample_weight : array-like of shape (n_samples,), default=None
    missing_values : {'error', 'marginalize'}, default='error'
        'marginalize' accepts NaN in an in-memory X.
    reset : bool, default=True
        True in ``fit``, False when predicting.
    min_samples : int, default=1

    Returns
    -------
    InMemoryData, MissingValuesData or DaskData
    """
    if distributed.is_dask_array(X):
        validate_data(estimator, X, skip_check_array=True, reset=reset)
        return DaskData(
            distributed.check_dask_array(X, min_samples, type(estimator).__name__),
            sample_weight,
        )
    marginalize = missing_values == "marginalize"
    X = validate_data(
        estimator,
        X,
        dtype=[np.float64, np.float32],
        reset=reset,
        ensure_min_samples=min_samples,
        ensure_all_finite="allow-nan" if marginalize else True,
    )
    sample_weight = check_sample_weight(sample_weight, X.shape[0])
    if marginalize and np.isnan(X).any():
        return MissingValuesData(X, sample_weight)
    return InMemoryData(X, sample_weight)


def initial_responsibilities(X, n_components, init_params, sample_weight, random_state):
    """Starting responsibilities chosen by ``init_params``, with scikit-learn's draws.

    'kmeans': one-hot labels of the nearest k-means centre
    (:func:`kmeans_labels`: ``sklearn.cluster.KMeans`` with one initialisation
    on all the rows when there are at most :data:`START_SAMPLE_ROWS`, the best
    of :data:`START_KMEANS_RUNS` on a sample of that many rows otherwise);
    'k-means++': one-hot on the k-means++ seeds only; 'random_from_data': one-hot
    on ``n_components`` rows drawn without replacement; 'random': uniform draws,
    normalised per row. The same random state gives the same start as
    ``sklearn.mixture.GaussianMixture``, except for 'kmeans' on more than
    :data:`START_SAMPLE_ROWS` rows. 'hierarchical': R mclust's default
    start, one-hot on the classes of model-based hierarchical clustering
    (:func:`gmmlib.hierarchical.hierarchical_responsibilities`): of all the
    rows, or of :data:`gmmlib.hierarchical.SUBSET_ROWS` rows drawn at random
    when there are more (the others get zero responsibilities). It draws
    nothing from ``random_state`` unless it takes a subset, and it ignores
    the sample weights (they enter the M-step that follows).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_components : int
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'hierarchical'}
    sample_weight : ndarray of shape (n_samples,) or None
    random_state : numpy.random.RandomState

    Returns
    -------
    resp : ndarray of shape (n_samples, n_components)
    """
    n_samples = X.shape[0]
    if init_params == "hierarchical":
        return hierarchical_responsibilities(X, n_components, random_state)
    if init_params == "random":
        resp = random_state.uniform(size=(n_samples, n_components)).astype(X.dtype)
        return resp / resp.sum(axis=1)[:, None]
    resp = np.zeros((n_samples, n_components), dtype=X.dtype)
    if init_params == "kmeans":
        labels = kmeans_labels(X, n_components, sample_weight, random_state)
        resp[np.arange(n_samples), labels] = 1
    elif init_params == "random_from_data":
        indices = random_state.choice(n_samples, size=n_components, replace=False)
        resp[indices, np.arange(n_components)] = 1
    else:
        _, indices = kmeans_plusplus(
            X, n_components, random_state=random_state, sample_weight=sample_weight
        )
        resp[indices, np.arange(n_components)] = 1
    return resp


def start_sample(n_samples, random_state):
    """The rows a k-means start runs on: all of them, or a uniform sample.

    Parameters
    ----------
    n_samples : int
    random_state : numpy.random.RandomState
        Not drawn from when ``n_samples <= START_SAMPLE_ROWS``.

    Returns
    -------
    rows : ndarray of shape (min(n_samples, START_SAMPLE_ROWS),), int
        ``arange(n_samples)``, or :data:`START_SAMPLE_ROWS` rows drawn
        uniformly with replacement (a draw of that size costs the same for
        every ``n_samples``; without replacement numpy permutes all the rows),
        sorted.
    """
    if n_samples <= START_SAMPLE_ROWS:
        return np.arange(n_samples)
    return np.sort(random_state.randint(n_samples, size=START_SAMPLE_ROWS))


def start_kmeans(n_samples, n_components, random_state):
    """The k-means of the 'kmeans' start for X of ``n_samples`` rows.

    ``sklearn.cluster.KMeans`` with one initialisation when it runs on all the
    rows (:func:`start_sample`), as scikit-learn's start does; with
    :data:`START_KMEANS_RUNS` when it runs on a sample.

    Parameters
    ----------
    n_samples : int
    n_components : int
    random_state : numpy.random.RandomState

    Returns
    -------
    sklearn.cluster.KMeans
        Unfitted.
    """
    n_init = 1 if n_samples <= START_SAMPLE_ROWS else START_KMEANS_RUNS
    return KMeans(n_clusters=n_components, n_init=n_init, random_state=random_state)


def kmeans_labels(X, n_components, sample_weight, random_state):
    """Labels of the 'kmeans' start: each row's nearest k-means centre.

    The k-means of :func:`start_kmeans` on the rows of :func:`start_sample`,
    with their weights: on all of X when it has at most
    :data:`START_SAMPLE_ROWS` rows (then the same start as scikit-learn's),
    otherwise on a sample, after which every row gets the label of its
    nearest centre.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_components : int
    sample_weight : ndarray of shape (n_samples,) or None
    random_state : numpy.random.RandomState

    Returns
    -------
    labels : ndarray of shape (n_samples,), int
    """
    n_samples = len(X)
    kmeans = start_kmeans(n_samples, n_components, random_state)
    # A few milliseconds of work: one thread is faster than waking a second
    # (gmmlib.runtime.single_threaded has the measurements).
    with single_threaded():
        if n_samples <= START_SAMPLE_ROWS:
            return kmeans.fit(X, sample_weight=sample_weight).labels_
        rows = start_sample(n_samples, random_state)
        weights = None if sample_weight is None else sample_weight[rows]
        return kmeans.fit(X[rows], sample_weight=weights).predict(X)


def _statistics(moments, covariance_type, n_features, total_weight, shift):
    """Starting statistics from packed moments; no E-step ran, so the log-likelihood is NaN."""
    nk, first, second = unpack_moments(moments, covariance_type, n_features)
    return SufficientStatistics(nk, first, second, np.nan, total_weight, shift)


class InMemoryData:
    """An in-memory X without missing values (float32 or float64).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Validated.
    sample_weight : ndarray of shape (n_samples,) or None
        Validated.
    start_data : ndarray of shape (n_samples, n_features), optional
        The data the starts and the column moments are computed from (default: X).

    Attributes
    ----------
    n_samples, n_features : int
    dtype : numpy.dtype
    mean : ndarray of shape (n_features,)
        Column mean of ``start_data`` (weighted), in float64.
    shift : ndarray of shape (n_features,)
        ``mean`` rounded to the dtype (:func:`gmmlib.em_steps.as_shift`): the
        centre of every sum.
    total_weight : float
        :math:`\\sum_n w_n`.
    n_threads : int
        Threads of the E-step: as many as BLAS was allowed when the data
        were wrapped (:func:`gmmlib.runtime.blas_threads`).
    anchored : AnchoredRows or None
        For the bounded E-step (:mod:`gmmlib.bounded_e_step`): the rows
        centred on ``shift`` and sorted by anchor, with each anchor's sums,
        kept from the start (or the first pass) to the end of the fit, and
        sorted again when :meth:`gmmlib.bounded_e_step.AnchoredRows.reanchor`
        says so; None until a bounded E-step or start needs it. A copy of X.
    """

    def __init__(self, X, sample_weight=None, start_data=None):
        self.X = X
        self.sample_weight = sample_weight
        self.start_data = X if start_data is None else start_data
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        self.total_weight = float(
            self.n_samples if sample_weight is None else sample_weight.sum()
        )
        if self.start_data.dtype == np.float64:
            # A matrix-vector product: numpy's column means of a tall, narrow
            # array run an inner loop of d numbers per row (1 ms against
            # 0.04 ms for 100,000 x 2).
            if sample_weight is None:
                weights = np.ones(len(self.start_data))
            else:
                weights = sample_weight
            self.mean = np.dot(weights, self.start_data) / self.total_weight
        elif sample_weight is None:  # float32 data: sums in float64
            self.mean = self.start_data.mean(axis=0, dtype=np.float64)
        else:
            self.mean = np.average(self.start_data, axis=0, weights=sample_weight)
        self.shift = as_shift(self.mean, self.n_features, self.dtype)
        self.n_threads = blas_threads()
        self.anchored = None

    def column_covariance(self):
        """Column covariance of ``start_data``, divisor :math:`\\sum_n w_n - 1`.

        With integer weights it equals ``numpy.cov`` of the data with each row
        repeated as often as its weight says.

        Returns
        -------
        covariance : ndarray of shape (n_features, n_features)
        """
        centred = self.start_data.astype(np.float64) - self.mean
        weighted = (
            centred
            if self.sample_weight is None
            else (centred * self.sample_weight[:, None])
        )
        return weighted.T @ centred / (self.total_weight - 1)

    def statistics_from_responsibilities(self, resp, covariance_type):
        """:math:`N_k, S_k, T_k` of ``start_data`` for given responsibilities.

        Parameters
        ----------
        resp : ndarray of shape (n_samples, n_components)
        covariance_type : {'full', 'tied', 'diag', 'spherical'}

        Returns
        -------
        SufficientStatistics
            Centred on ``shift``; ``log_likelihood`` is NaN.
        """
        moments = moments_from_resp(
            self.start_data,
            resp,
            covariance_type,
            self.sample_weight,
            self.shift,
            self.n_threads,
        )
        return _statistics(
            moments, covariance_type, self.n_features, self.total_weight, self.shift
        )

    def starting_statistics(
        self, n_components, init_params, covariance_type, random_state
    ):
        """Statistics of the starting responsibilities (:func:`initial_responsibilities`).

        For the bounded E-step, the 'kmeans' start's labels become the rows'
        anchors (``anchored``), whose sums are the start's statistics;
        any other start leaves the first pass to anchor the rows.

        Returns
        -------
        SufficientStatistics
        """
        if (
            init_params == "kmeans"
            and self.start_data is self.X
            and takes_bounded_e_step(covariance_type, self.n_features)
        ):
            # Hard labels: the sums of each anchor's rows are the start's.
            labels = kmeans_labels(
                self.X, n_components, self.sample_weight, random_state
            )
            self.anchored = AnchoredRows.from_labels(
                self.X,
                labels,
                n_components,
                self.sample_weight,
                self.shift,
                self.n_threads,
            )
            return _statistics(
                self.anchored.moments,
                covariance_type,
                self.n_features,
                self.total_weight,
                self.shift,
            )
        self.anchored = None  # each start's first pass anchors afresh
        resp = initial_responsibilities(
            self.start_data, n_components, init_params, self.sample_weight, random_state
        )
        return self.statistics_from_responsibilities(resp, covariance_type)

    def e_step(self, params, log_weights=None, shift=None):
        """One E-step pass (:func:`gmmlib.em_steps.e_step`).

        Parameters
        ----------
        params : MixtureParameters
        log_weights : ndarray of shape (n_components,), optional
            Used instead of :math:`\\log w_k`.
        shift : ndarray of shape (n_features,), optional
            Centre of the sums (default: ``self.shift``). The bounded E-step
            keeps its sorted rows (``anchored``) for the default only; with
            another centre each pass sorts the rows afresh.

        Returns
        -------
        SufficientStatistics
        """
        anchored = None
        if shift is None and takes_bounded_e_step(
            params.covariance_type, self.n_features
        ):
            if self.anchored is None:
                self.anchored = AnchoredRows.from_bounds(
                    self.X,
                    AnchorBounds.from_parameters(
                        params, self.shift, log_weights, self.dtype
                    ),
                    self.sample_weight,
                    self.shift,
                    self.n_threads,
                )
            self.anchored.reanchor(self.n_threads)
            anchored = self.anchored
        return e_step(
            self.X,
            params,
            self.sample_weight,
            self.shift if shift is None else shift,
            log_weights,
            self.n_threads,
            anchored,
        )

    def log_prob_resp(self, params, log_weights=None):
        """Log-density of each sample and the responsibilities.

        Returns
        -------
        log_prob_norm : ndarray of shape (n_samples,)
        resp : ndarray of shape (n_samples, n_components)
        """
        return estimate_log_prob_resp(self.X, params, log_weights=log_weights)


class MissingValuesData(InMemoryData):
    """An in-memory X with NaN for missing values, marginalised out.

    The E-step and the predictions use the marginal density of each sample's
    observed coordinates (:mod:`gmmlib.missing_values`, with the samples grouped
    by their missingness pattern once). The starts and the column moments use X
    with each NaN replaced by the (weighted) mean of its column
    (:func:`gmmlib.missing_values.fill_with_column_means`); the column
    covariance of that filled X understates the variances, which is acceptable
    for a default prior, not for an estimate.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Validated, with NaN; every row has an observed value.
    sample_weight : ndarray of shape (n_samples,) or None
    """

    def __init__(self, X, sample_weight=None):
        self.patterns = missingness_patterns(X)
        super().__init__(X, sample_weight, fill_with_column_means(X, sample_weight))

    def e_step(self, params, log_weights=None, shift=None):
        """One E-step with the missing coordinates marginalised (:func:`gmmlib.missing_values.e_step_missing`).

        Returns
        -------
        SufficientStatistics
        """
        return e_step_missing(
            self.X,
            params,
            self.sample_weight,
            self.shift if shift is None else shift,
            self.patterns,
            log_weights,
        )

    def log_prob_resp(self, params, log_weights=None):
        """Observed-data log-density of each sample and the responsibilities.

        Returns
        -------
        log_prob_norm : ndarray of shape (n_samples,)
        resp : ndarray of shape (n_samples, n_components)
        """
        return estimate_log_prob_resp_missing(
            self.X, params, self.patterns, log_weights
        )


class DaskData:
    """A dask array, each pass over it one map-reduce over its blocks of rows.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Validated by :func:`gmmlib.distributed.check_dask_array`.
    sample_weight : None
        Sample weights are not supported for dask arrays.

    Attributes
    ----------
    n_samples, n_features, dtype, mean, shift, total_weight
        As in :class:`InMemoryData`.
    """

    def __init__(self, X, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(
                "sample_weight is not supported when fitting a dask array."
            )
        self.X = X
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        self.total_weight = float(self.n_samples)
        self.mean = X.mean(axis=0, dtype=np.float64).compute()
        self.shift = as_shift(self.mean, self.n_features, self.dtype)

    def column_covariance(self):
        """Column covariance (divisor n - 1), one map-reduce.

        Returns
        -------
        covariance : ndarray of shape (n_features, n_features)
        """
        centred = self.X.astype(np.float64) - self.mean
        return (centred.T @ centred).compute() / (self.n_samples - 1)

    def _sample(self, random_state):
        """The rows of :func:`start_sample`, fetched into memory."""
        return self.X[start_sample(self.n_samples, random_state)].compute()

    def starting_statistics(
        self, n_components, init_params, covariance_type, random_state
    ):
        """Starting statistics for ``init_params``, computed where the blocks are.

        'random_from_data' fetches only the ``n_components`` rows it draws (the
        same draw, hence the same start, as in memory). 'k-means++' seeds on a
        sample of rows (:func:`start_sample`); 'kmeans' runs the k-means of
        :func:`start_kmeans` on that sample and then assigns every row to its
        nearest centre in one map-reduce (:func:`gmmlib.distributed.kmeans_moments`). 'random' draws
        the responsibilities block by block
        (:func:`gmmlib.distributed.random_moments`). 'hierarchical' clusters
        :data:`gmmlib.hierarchical.SUBSET_ROWS` rows drawn at random (all of
        them if there are fewer), and the M-step uses those rows only, as
        mclust's ``Mclust`` does with its subset.

        Returns
        -------
        SufficientStatistics
        """
        if init_params == "hierarchical":
            rows = hierarchical_subset(self.n_samples, random_state)
            sample = self.X[rows].compute()
            labels = hierarchical_labels(sample, n_components)
            moments = moments_from_resp(
                sample,
                np.eye(n_components, dtype=self.dtype)[labels],
                covariance_type,
                shift=self.shift,
            )
        elif init_params == "random":
            moments = distributed.random_moments(
                self.X, n_components, covariance_type, self.shift, random_state
            )
        elif init_params == "kmeans":
            kmeans = start_kmeans(self.n_samples, n_components, random_state)
            centres = kmeans.fit(self._sample(random_state)).cluster_centers_
            moments = distributed.kmeans_moments(
                self.X, centres.astype(self.dtype), covariance_type, self.shift
            )
        else:
            if init_params == "random_from_data":
                indices = random_state.choice(
                    self.n_samples, size=n_components, replace=False
                )
                rows = self.X[indices].compute()
            else:
                sample = self._sample(random_state)
                _, indices = kmeans_plusplus(
                    sample, n_components, random_state=random_state
                )
                rows = sample[indices]
            moments = moments_from_resp(
                rows,
                np.eye(n_components, dtype=self.dtype),
                covariance_type,
                shift=self.shift,
            )
        return _statistics(
            moments, covariance_type, self.n_features, self.total_weight, self.shift
        )

    def e_step(self, params, log_weights=None, shift=None):
        """One E-step as a map-reduce (:func:`gmmlib.distributed.e_step`).

        Returns
        -------
        SufficientStatistics
        """
        return distributed.e_step(
            self.X, params, self.shift if shift is None else shift, log_weights
        )

    def log_prob_resp(self, params, log_weights=None):
        """Log-density of each sample and the responsibilities, gathered in memory.

        Returns
        -------
        log_prob_norm : ndarray of shape (n_samples,)
        resp : ndarray of shape (n_samples, n_components)
        """
        return distributed.log_prob_resp(self.X, params, log_weights)
