"""gmmlib.data_sources: the right source for each kind of data, and its column moments."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from gmmlib import GaussianMixture
from gmmlib.data_sources import (
    START_KMEANS_RUNS,
    START_SAMPLE_ROWS,
    DaskData,
    InMemoryData,
    MissingValuesData,
    data_source,
    kmeans_labels,
    start_sample,
)
from gmmlib.datasets import make_blobs_mixture, remove_at_random

X, _ = make_blobs_mixture(200, n_components=2, n_features=3, random_state=0)
X_MISSING = remove_at_random(X, 0.2, random_state=0)


@pytest.mark.parametrize(
    "data, missing_values, kind",
    [
        (X, "error", InMemoryData),
        (X, "marginalize", InMemoryData),  # nothing missing: the ordinary E-step
        (X_MISSING, "marginalize", MissingValuesData),
    ],
)
def test_each_kind_of_data_gets_its_source(data, missing_values, kind):
    source = data_source(GaussianMixture(), data, missing_values=missing_values)
    assert type(source) is kind
    assert (source.n_samples, source.n_features) == data.shape


def test_a_dask_array_gets_the_dask_source():
    da = pytest.importorskip("dask.array")
    source = data_source(GaussianMixture(), da.from_array(X, chunks=(50, -1)))
    assert type(source) is DaskData
    in_memory = data_source(GaussianMixture(), X)
    # Column sums over 4 chunks instead of one pass: ~n u relative. Bound 1e-12.
    assert_allclose(source.mean, in_memory.mean, rtol=1e-12)
    assert_allclose(
        source.column_covariance(), in_memory.column_covariance(), rtol=1e-12
    )


def test_weighted_column_moments_are_those_of_repeated_rows():
    sample_weight = np.ones(len(X))
    sample_weight[::3] = 2.0
    weighted = data_source(GaussianMixture(), X, sample_weight)
    repeated = np.vstack([X, X[::3]])
    # The same sums in another order: ~n u = 5e-14 relative. Bound 1e-12.
    assert_allclose(weighted.mean, repeated.mean(axis=0), rtol=1e-12)
    assert_allclose(weighted.column_covariance(), np.cov(repeated.T), rtol=1e-12)
    assert weighted.total_weight == len(repeated)


def test_missing_values_source_starts_from_the_observed_column_means():
    source = data_source(GaussianMixture(), X_MISSING, missing_values="marginalize")
    # Column means of the observed values, by numpy: ~n u relative. Bound 1e-12.
    assert_allclose(source.mean, np.nanmean(X_MISSING, axis=0), rtol=1e-12)
    assert not np.isnan(source.start_data).any()
    assert_allclose(source.shift, source.mean, rtol=0)  # float64: the shift is the mean


def test_the_shift_of_float32_data_is_exact_in_float32():
    source = data_source(GaussianMixture(), X.astype(np.float32))
    assert source.shift.dtype == np.float64
    assert np.array_equal(source.shift, source.shift.astype(np.float32))


# ------------------------------------------------ the k-means start's sample
@pytest.mark.parametrize("n_samples", [1, 500, START_SAMPLE_ROWS])
def test_a_small_x_is_used_whole_and_nothing_is_drawn(n_samples):
    random_state = np.random.RandomState(3)
    assert_array_equal(start_sample(n_samples, random_state), np.arange(n_samples))
    # The state is untouched: its next draws are those of a fresh one.
    assert_array_equal(
        random_state.random_sample(5), np.random.RandomState(3).random_sample(5)
    )


@pytest.mark.parametrize("n_samples", [START_SAMPLE_ROWS + 1, 30_000, 10**7])
def test_a_large_x_is_sampled_uniformly_with_replacement(n_samples):
    random_state = np.random.RandomState(3)
    rows = start_sample(n_samples, random_state)
    assert rows.shape == (START_SAMPLE_ROWS,)
    assert rows.dtype.kind == "i"
    assert rows.min() >= 0 and rows.max() < n_samples
    assert np.all(np.diff(rows) >= 0)  # sorted; repeats allowed
    # The sample was drawn from the random state, and the same seed draws it
    # again; another seed draws another sample.
    assert random_state.random_sample() != np.random.RandomState(3).random_sample()
    assert_array_equal(start_sample(n_samples, np.random.RandomState(3)), rows)
    other = start_sample(n_samples, np.random.RandomState(4))
    assert not np.array_equal(other, rows)
    if n_samples == START_SAMPLE_ROWS + 1:
        # With replacement: 10,000 draws from 10,001 rows repeat some (about
        # 10,000 / e of the rows are never drawn).
        assert len(np.unique(rows)) < 0.7 * START_SAMPLE_ROWS
    # Uniform: the mean of 10,000 uniform draws of [0, 1) has standard
    # deviation 1 / sqrt(12e4) = 0.0029; 0.015 is five of them.
    assert abs(rows.mean() / n_samples - 0.5) < 0.015


# ------------------------------------------------------ the 'kmeans' start
#: More rows than START_SAMPLE_ROWS, in overlapping clusters, so that k-means
#: on the sample ends at other centres than k-means on all the rows.
LARGE_X, _ = make_blobs_mixture(30_000, n_components=3, separation=1.0, random_state=0)
#: Two clusters 5 apart, the labels they were drawn from (seed 1: k-means
#: without weights separates them exactly).
TWO_CLUSTERS, TWO_CLUSTER_LABELS = make_blobs_mixture(
    30_000, n_components=2, separation=5.0, random_state=1
)
#: A row whose two nearest centres are closer than this to a tie could get
#: either label: the centres computed here and those of the code are the
#: same k-means on the same rows, equal up to rounding (n u = 1e-12 relative
#: for sums of 10,000 rows), so squared distances of size <= 1e3 agree to
#: ~1e-9; this is 100 times that. The smallest gaps on these data, the same
#: across kernels/threads/blocks: 1.9e-4 (LARGE_X), 4.6e-6 (TWO_CLUSTERS
#: with weights). The dask start labels rows with the same centres by
#: another formula (gmmlib.hard_em.nearest_centres), also exact off ties.
TIE_GAP = 1e-7


def sample_kmeans_centres(X, n_components, seed, sample_weight=None):
    """k-means on the rows start_sample draws, run here from the same seed: one
    run on all the rows, or the best of START_KMEANS_RUNS on a sample.

    The draws in the order the start makes them: the rows, then k-means's own.
    """
    random_state = np.random.RandomState(seed)
    rows = start_sample(len(X), random_state)
    weights = None if sample_weight is None else sample_weight[rows]
    n_init = 1 if len(X) <= START_SAMPLE_ROWS else START_KMEANS_RUNS
    kmeans = KMeans(n_components, n_init=n_init, random_state=random_state)
    return kmeans.fit(X[rows], sample_weight=weights).cluster_centers_


def nearest(X, centres):
    """Each row's nearest centre, and the squared distances, from the definition."""
    distances = ((X[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    ordered = np.sort(distances, axis=1)
    # No row is near a tie, so the labels below are exact (see TIE_GAP).
    assert np.min(ordered[:, 1] - ordered[:, 0]) > TIE_GAP
    return distances.argmin(axis=1), distances


def test_a_large_x_gets_the_nearest_centre_of_k_means_on_a_sample():
    centres = sample_kmeans_centres(LARGE_X, 3, seed=0)
    expected, distances = nearest(LARGE_X, centres)
    labels = kmeans_labels(LARGE_X, 3, None, np.random.RandomState(0))
    assert_array_equal(labels, expected)
    # k-means on all the rows ends elsewhere: its labels are not the nearest
    # sample centres of every row, so this test tells the two apart.
    everything = KMeans(3, n_init=1, random_state=0).fit(LARGE_X).labels_
    chosen = distances[np.arange(len(LARGE_X)), everything]
    assert np.any(chosen > distances.min(axis=1) + TIE_GAP)


def test_the_default_start_of_a_large_x_is_the_m_step_of_those_labels():
    model = GaussianMixture(3, max_iter=0, random_state=0).fit(LARGE_X)
    labels, _ = nearest(LARGE_X, sample_kmeans_centres(LARGE_X, 3, seed=0))
    counts = np.bincount(labels, minlength=3)
    means = np.array([LARGE_X[labels == k].mean(axis=0) for k in range(3)])
    # Counts are sums of ones (exact; seen equal); the means are sums of up
    # to 30,000 rows in another order (centred there): n u = 3e-12
    # relative. Largest seen across kernels/threads/blocks: 1.4e-14; bound
    # 1e-10.
    assert_allclose(model.weights_, counts / len(LARGE_X), rtol=1e-12)
    assert_allclose(model.means_, means, rtol=1e-10)


@pytest.mark.parametrize("n_samples", [600, START_SAMPLE_ROWS])
def test_up_to_start_sample_rows_the_start_is_scikit_learns(n_samples, covariance_type):
    X, _ = make_blobs_mixture(n_samples, n_components=3, separation=1.0, random_state=0)
    labels = kmeans_labels(X, 3, None, np.random.RandomState(0))
    # The same k-means, on the same rows, from the same seed.
    assert_array_equal(labels, KMeans(3, n_init=1, random_state=0).fit(X).labels_)
    settings = dict(covariance_type=covariance_type, max_iter=0, random_state=0)
    ours = GaussianMixture(3, **settings).fit(X)
    theirs = SklearnGaussianMixture(3, **settings).fit(X)
    # One M-step on the same labels: sums of n rows (centred in gmmlib, not
    # in scikit-learn), n u = 1e-12 relative. Largest seen across
    # kernels/threads/blocks: 4.9e-13; bound 1e-10.
    for name in ("weights_", "means_", "covariances_"):
        assert_allclose(
            getattr(ours, name), getattr(theirs, name), rtol=1e-10, err_msg=name
        )


def test_one_row_more_and_the_start_is_on_a_sample():
    X, _ = make_blobs_mixture(
        START_SAMPLE_ROWS + 1, n_components=3, separation=1.0, random_state=0
    )
    labels = kmeans_labels(X, 3, None, np.random.RandomState(0))
    assert_array_equal(labels, nearest(X, sample_kmeans_centres(X, 3, seed=0))[0])
    everything = KMeans(3, n_init=1, random_state=0).fit(X).labels_
    assert not np.array_equal(labels, everything)


@pytest.mark.parametrize("n_samples", [5000, 30_000], ids=["whole", "sampled"])
def test_sample_weights_reach_the_k_means_of_the_start(n_samples):
    """All the weight on one of two clusters: k-means splits that cluster.

    Without weights k-means separates the two clusters (its labels are the
    drawn ones); weighted, it sees only cluster 0, puts both centres in it,
    and every row of cluster 1 goes to the nearer of the two.
    """
    X = TWO_CLUSTERS[:n_samples]
    drawn = TWO_CLUSTER_LABELS[:n_samples]
    sample_weight = (drawn == 0).astype(np.float64)
    unweighted = kmeans_labels(X, 2, None, np.random.RandomState(0))
    assert len(np.unique(unweighted[drawn == 0])) == 1
    assert len(np.unique(unweighted[drawn == 1])) == 1
    labels = kmeans_labels(X, 2, sample_weight, np.random.RandomState(0))
    split = np.bincount(labels[drawn == 0], minlength=2) / np.sum(drawn == 0)
    assert split.min() > 0.3  # 54% and 46% (30,000 rows)
    assert len(np.unique(labels[drawn == 1])) == 1
    centres = sample_kmeans_centres(X, 2, seed=0, sample_weight=sample_weight)
    expected, _ = nearest(X, centres)
    assert_array_equal(labels, expected)
    # The M-step of the start weighs the rows too: the means of cluster 0's
    # halves. Weighted sums of n rows, n u = 3e-12 relative. Largest seen
    # across kernels/threads/blocks: 3.7e-15; bound 1e-10.
    model = GaussianMixture(2, max_iter=0, random_state=0)
    model.fit(X, sample_weight=sample_weight)
    means = [
        np.average(X[expected == k], axis=0, weights=sample_weight[expected == k])
        for k in range(2)
    ]
    assert_allclose(model.means_, means, rtol=1e-10)


def test_the_dask_default_start_is_the_in_memory_one(covariance_type):
    """The same sample rows, the same k-means, every row to its nearest centre."""
    da = pytest.importorskip("dask.array")
    settings = dict(covariance_type=covariance_type, max_iter=0, random_state=0)
    in_memory = GaussianMixture(3, **settings).fit(LARGE_X)
    on_dask = GaussianMixture(3, **settings).fit(
        da.from_array(LARGE_X, chunks=(7000, -1))
    )
    # The counts are sums of zeros and ones, exact in any order: the same
    # labels give bit-equal weights (no row is near a tie, see TIE_GAP).
    assert_array_equal(on_dask.weights_, in_memory.weights_)
    # The same sums of 30,000 rows split into 5 dask blocks instead of
    # gmmlib's: n u = 3e-12 relative. Largest seen across
    # kernels/threads/blocks: 2.9e-14; bound 1e-10.
    for name in ("means_", "covariances_"):
        assert_allclose(
            getattr(on_dask, name), getattr(in_memory, name), rtol=1e-10, err_msg=name
        )


def test_the_start_anchors_the_rows_for_the_bounded_e_step():
    from gmmlib.bounded_e_step import MIN_FEATURES
    from gmmlib.em_steps import estimate_log_prob_resp, m_step, moments_from_resp

    X, _ = make_blobs_mixture(
        3000, n_components=4, n_features=MIN_FEATURES, separation=8.0, random_state=0
    )
    data = InMemoryData(X)
    assert data.anchored is None
    stats = data.starting_statistics(4, "kmeans", "full", np.random.RandomState(0))
    # The start's labels are the anchors, and their sums the start's statistics.
    labels = kmeans_labels(X, 4, None, np.random.RandomState(0))
    assert_array_equal(data.anchored.anchors, np.sort(labels))
    expected = moments_from_resp(X, np.eye(4)[labels], "full", None, data.shift)
    # The same sums of 3000 rows in another grouping: n u = 3e-13 relative;
    # centred first moments near 0 carry the error of the largest terms.
    assert_allclose(data.anchored.moments, expected, rtol=1e-11, atol=1e-8)
    assert_array_equal(np.round(stats.nk), np.bincount(labels, minlength=4))
    params = m_step(stats, "full", 1e-6)
    anchored = data.anchored
    data.e_step(params)
    assert data.anchored is anchored  # kept from pass to pass
    assert_array_equal(
        anchored.labels,
        estimate_log_prob_resp(anchored.rows + data.shift, params)[1].argmax(1),
    )
    # Another start anchors afresh in its first pass.
    data.starting_statistics(4, "random", "full", np.random.RandomState(0))
    assert data.anchored is None
    data.e_step(params)
    assert data.anchored is not None
    # Not a bounded E-step (2 features): nothing kept.
    small = InMemoryData(X[:, :2])
    small.starting_statistics(4, "kmeans", "full", np.random.RandomState(0))
    assert small.anchored is None
