"""gmmlib.hierarchical: the merge criteria from their definitions, partitions, the start.

The comparisons with R's mclust (merges, partitions, starts) are in
test_mclust.py; these tests need no R.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from gmmlib import BayesianGaussianMixture, GaussianMixture, hierarchical
from gmmlib.data_sources import InMemoryData, initial_responsibilities
from gmmlib.datasets import load_old_faithful, make_blobs_mixture, remove_at_random
from gmmlib.hierarchical import (
    MERGES_CACHE_SIZE,
    SUBSET_ROWS,
    default_model,
    hierarchical_labels,
    hierarchical_merges,
    hierarchical_responsibilities,
    hierarchical_subset,
    partition,
    svd_transform,
    vvv_alpha,
)


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs_mixture(120, n_components=3, n_features=3, random_state=0)
    return X


def replay(merges, n_samples):
    """The members of the two clusters of each merge."""
    members = {i: [i] for i in range(n_samples)}
    for smaller, larger in merges:
        yield members[smaller], members[larger]
        members[smaller] = members[smaller] + members.pop(larger)


def scatter(Z):
    centred = Z - Z.mean(axis=0)
    return centred.T @ centred


def vvv_term(Z, alpha):
    """t_k of the module's description, from the points themselves (beta = 1)."""
    count, n_features = Z.shape
    trace_form = count * np.log((np.trace(scatter(Z)) + alpha) / count)
    if count == 1:
        return np.log(alpha)
    if count <= n_features or count == 2:
        return trace_form
    determinant = np.linalg.det(scatter(Z) / count)
    return count * np.log(determinant + (np.trace(scatter(Z)) + alpha) / count)


def test_vvv_costs_are_the_change_of_the_criterion(blobs):
    """Each reported cost is t(i u j) - t(i) - t(j) of the clusters merged."""
    Z = svd_transform(blobs)
    alpha = vvv_alpha(Z)
    merges, costs = hierarchical_merges(Z, "VVV")
    for (left, right), cost in zip(replay(merges, len(Z)), costs, strict=True):
        expected = vvv_term(Z[left + right], alpha) - (
            vvv_term(Z[left], alpha) + vvv_term(Z[right], alpha)
        )
        # The same criterion summed in another order (scatter matrices updated
        # merge by merge there, recomputed from the points here): rounding
        # of terms of size n log(.) <= 1e3, so 1e3 u = 1e-13 absolute, with
        # cancellation in the difference. Largest seen across
        # kernels/threads/blocks: 5.7e-14; bound 1e-9.
        assert_allclose(cost, expected, rtol=0, atol=1e-9)


def test_eii_costs_are_wards(blobs):
    """Each EII cost is n_i n_j / (n_i + n_j) |mean_i - mean_j|^2 (Ward's)."""
    Z = svd_transform(blobs)
    merges, costs = hierarchical_merges(Z, "EII")
    for (left, right), cost in zip(replay(merges, len(Z)), costs, strict=True):
        n_left, n_right = len(left), len(right)
        gap = Z[left].mean(axis=0) - Z[right].mean(axis=0)
        expected = n_left * n_right / (n_left + n_right) * (gap @ gap)
        # Lance-Williams updates against the definition: rounding carried
        # through up to n = 120 updates of costs of size <= 1e2, so
        # n u |cost| = 3e-12 absolute. Largest seen across
        # kernels/threads/blocks: 5.3e-15; bound 1e-9.
        assert_allclose(cost, expected, rtol=0, atol=1e-9)


def test_eii_merges_the_closest_pair_first():
    Z = np.array([[0.0], [10.0], [1.0], [10.5], [30.0]])
    merges, costs = hierarchical_merges(Z, "EII")
    # {1, 3} (cost 0.125), {0, 2} (0.5), then {0, 2} with {1, 3}, then 4
    assert_array_equal(merges, [[1, 3], [0, 2], [0, 1], [0, 4]])
    assert_allclose(costs[:2], [0.125, 0.5])


def test_duplicates_merge_first_in_mclusts_order():
    """Equal rows cost exactly the same to merge: the last pair scanned goes first.

    mclust scans the pairs (i, j) by j, then i, and keeps the last least
    cost; the merged cluster takes slot i and the last slot moves to slot j.
    """
    Z = np.array([[0.0, 0.0], [5.0, 1.0], [0.0, 0.0], [5.0, 1.0], [2.0, 7.0]])
    for model in ("VVV", "EII"):
        merges, costs = hierarchical_merges(Z, model)
        assert costs[0] == costs[1]
        assert_array_equal(merges[:2], [[1, 3], [0, 2]])


def test_vvv_single_points_use_the_trace_form():
    """Two points: 2 log((|z_i - z_j|^2 / 2 + alpha) / 2) - 2 log(alpha)."""
    Z = np.array([[0.0, 0.0], [3.0, 4.0], [100.0, 0.0]])
    alpha = 2.0
    _, costs = hierarchical_merges(Z, "VVV", alpha=alpha)
    assert_allclose(costs[0], 2 * np.log((12.5 + alpha) / 2) - 2 * np.log(alpha))


def test_partition_numbers_classes_by_first_sample():
    merges = np.array([[2, 3], [0, 4], [0, 2], [0, 1]])
    assert_array_equal(partition(merges, 5), [0, 1, 2, 3, 4])
    assert_array_equal(partition(merges, 4), [0, 1, 2, 2, 3])
    assert_array_equal(partition(merges, 3), [0, 1, 2, 2, 0])
    assert_array_equal(partition(merges, 2), [0, 1, 0, 0, 0])
    assert_array_equal(partition(merges, 1), [0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="n_clusters must be between 1 and 5"):
        partition(merges, 6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="model must be one of"):
        hierarchical_merges(np.zeros((3, 2)), "VII")
    with pytest.raises(ValueError, match="at least 2 rows"):
        hierarchical_merges(np.zeros((1, 2)))


def test_svd_transform_whitens_and_drops_constant_columns():
    X = np.column_stack([load_old_faithful(), np.full(272, 3.0)])
    Z = svd_transform(X)
    assert Z.shape == (272, 2)
    # Z^T Z = D (the singular values of the standardised data), diagonal
    standardised = (X[:, :2] - X[:, :2].mean(axis=0)) / X[:, :2].std(axis=0, ddof=1)
    singular_values = np.linalg.svd(standardised, compute_uv=False)
    # rounding of sums of n = 272 products: 272 u = 6e-14 relative. Largest
    # seen across kernels/threads/blocks: 3.6e-15; bound 1e-10
    assert_allclose(Z.T @ Z, np.diag(singular_values), rtol=0, atol=1e-10)


def test_default_model_is_mclusts():
    assert default_model(100, 3) == "VVV"
    assert default_model(3, 3) == "EII"


def test_subset_only_above_subset_rows():
    random_state = np.random.RandomState(0)
    assert_array_equal(hierarchical_subset(50, random_state), np.arange(50))
    rows = hierarchical_subset(SUBSET_ROWS + 10, random_state)
    assert len(rows) == SUBSET_ROWS == len(np.unique(rows))
    assert np.all(np.diff(rows) > 0)


def test_responsibilities_are_one_hot_on_the_subset():
    X, _ = make_blobs_mixture(300, n_components=3, random_state=1)
    resp = hierarchical_responsibilities(
        X, 3, np.random.RandomState(0), subset_rows=100
    )
    rows = hierarchical_subset(300, np.random.RandomState(0), subset_rows=100)
    assert_array_equal(resp.sum(axis=1) > 0, np.isin(np.arange(300), rows))
    assert_array_equal(resp[rows].sum(axis=1), 1)
    assert_array_equal(resp[rows].argmax(axis=1), hierarchical_labels(X[rows], 3))


def test_the_start_draws_nothing_without_a_subset(blobs):
    """The same start whatever random_state, when every row is clustered."""
    starts = [
        initial_responsibilities(blobs, 3, "hierarchical", None, random_state)
        for random_state in (np.random.RandomState(0), np.random.RandomState(1))
    ]
    assert_array_equal(*starts)


def test_sample_weights_enter_the_m_step_only(blobs):
    weights = np.random.default_rng(0).uniform(0.5, 2.0, len(blobs))
    data = InMemoryData(blobs, weights)
    statistics = data.starting_statistics(
        3, "hierarchical", "full", np.random.RandomState(0)
    )
    labels = hierarchical_labels(blobs, 3)
    # sums of 120 weights: rounding only
    assert_allclose(statistics.nk, np.bincount(labels, weights=weights), rtol=1e-12)


def test_estimators_fit_from_the_hierarchical_start(covariance_type):
    X = load_old_faithful()
    model = GaussianMixture(
        2, covariance_type=covariance_type, init_params="hierarchical", tol=1e-8
    ).fit(X)
    # the two eruption types, short and long: mean waiting times near 55
    # and 80 minutes (between 54 and 56, and 79 and 81, for the four types)
    short, long = np.sort(model.means_[:, 1])
    assert short < 60
    assert long > 75
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short run: convergence is not the point
        BayesianGaussianMixture(
            n_components=2, covariance_type=covariance_type, init_params="hierarchical"
        ).fit(X)


def test_missing_values_start_from_the_mean_filled_data():
    X = remove_at_random(load_old_faithful(), 0.1, random_state=0)
    model = GaussianMixture(
        2, init_params="hierarchical", missing_values="marginalize", max_iter=0
    ).fit(X)
    filled = np.where(np.isnan(X), np.nanmean(X, axis=0), X)
    labels = hierarchical_labels(filled, 2)
    means = np.array([filled[labels == k].mean(axis=0) for k in range(2)])
    # one M-step on the same classes: rounding of means of 272 values
    assert_allclose(model.means_, means, rtol=1e-12)


def test_dask_start_equals_the_in_memory_start():
    """The same subset drawn, the same classes, the same M-step."""
    da = pytest.importorskip("dask.array")
    X, _ = make_blobs_mixture(2300, n_components=3, random_state=2)
    options = dict(init_params="hierarchical", max_iter=0, random_state=0)
    in_memory = GaussianMixture(3, **options).fit(X)
    on_dask = GaussianMixture(3, **options).fit(da.from_array(X, chunks=500))
    # the same sums in other blocks: rounding of sums of 2000 terms, 2000 u
    # = 4e-13 relative. Largest seen across kernels/threads/blocks: 8.9e-13;
    # bound 1e-10
    for name in ("weights_", "means_", "covariances_"):
        assert_allclose(
            getattr(on_dask, name), getattr(in_memory, name), rtol=1e-10, err_msg=name
        )


# ------------------------------------------------------------ the merges cache
@pytest.fixture
def empty_cache():
    """An empty cache of merges before and after the test, and a count of the
    times the merges are computed."""
    hierarchical._MERGES_CACHE.clear()
    yield
    hierarchical._MERGES_CACHE.clear()


@pytest.fixture
def merges_computed(empty_cache, monkeypatch):
    """The data sets (shape, model) hierarchical_merges was called on."""
    calls = []
    compute = hierarchical.hierarchical_merges

    def counting(Z, model="VVV", *args, **kwargs):
        calls.append((Z.shape, model))
        return compute(Z, model, *args, **kwargs)

    monkeypatch.setattr(hierarchical, "hierarchical_merges", counting)
    return calls


def uncached_labels(X, n_clusters, model=None):
    """hclass(hc(X, use = "SVD"), G) computed afresh."""
    model = default_model(*X.shape) if model is None else model
    return partition(hierarchical_merges(svd_transform(X), model)[0], n_clusters)


def test_the_merges_of_a_data_set_are_computed_once(blobs, merges_computed):
    labels = {k: hierarchical_labels(blobs, k) for k in (1, 2, 3, 4)}
    assert merges_computed == [(blobs.shape, "VVV")]
    # A copy with the same values (another array, Fortran order): the same key.
    hierarchical_labels(np.asfortranarray(blobs.copy()), 3)
    hierarchical_labels(blobs.astype(np.float64).tolist(), 3)
    assert len(merges_computed) == 1
    for k, cached in labels.items():
        assert_array_equal(cached, uncached_labels(blobs, k))
        assert_array_equal(hierarchical_labels(blobs, k), cached)
    assert len(merges_computed) == 1


def test_other_data_or_another_model_are_computed_again(blobs, merges_computed):
    hierarchical_labels(blobs, 3)
    nudged = blobs.copy()
    nudged[7, 1] = np.nextafter(nudged[7, 1], np.inf)  # one ulp
    assert_array_equal(hierarchical_labels(nudged, 3), uncached_labels(nudged, 3))
    # The same bytes in another shape: 60 rows of 6 features.
    reshaped = blobs.reshape(60, 6)
    assert_array_equal(hierarchical_labels(reshaped, 3), uncached_labels(reshaped, 3))
    assert_array_equal(
        hierarchical_labels(blobs, 3, model="EII"), uncached_labels(blobs, 3, "EII")
    )
    assert merges_computed == [
        (blobs.shape, "VVV"),
        (blobs.shape, "VVV"),
        ((60, 6), "VVV"),
        (blobs.shape, "EII"),
    ]
    hierarchical_labels(blobs, 2, model="VVV")  # default_model's, stated
    assert len(merges_computed) == 4


def test_the_cache_keeps_the_last_data_sets_used(merges_computed):
    data_sets = [
        make_blobs_mixture(30, n_components=2, random_state=seed)[0]
        for seed in range(MERGES_CACHE_SIZE + 1)
    ]
    for X in data_sets[:MERGES_CACHE_SIZE]:
        hierarchical_labels(X, 2)
    hierarchical_labels(data_sets[0], 2)  # used again: now the most recent
    hierarchical_labels(data_sets[-1], 2)  # one too many: drops data set 1
    assert len(hierarchical._MERGES_CACHE) == MERGES_CACHE_SIZE
    assert len(merges_computed) == MERGES_CACHE_SIZE + 1
    hierarchical_labels(data_sets[0], 2)
    assert len(merges_computed) == MERGES_CACHE_SIZE + 1
    hierarchical_labels(data_sets[1], 2)
    assert len(merges_computed) == MERGES_CACHE_SIZE + 2
    assert len(hierarchical._MERGES_CACHE) == MERGES_CACHE_SIZE


def test_a_grid_clusters_its_data_once(merges_computed):
    """Every number of components of a grid starts from the same merges."""
    X, _ = make_blobs_mixture(150, n_components=3, random_state=4)
    for k in (1, 2, 3, 4):
        GaussianMixture(k, init_params="hierarchical", max_iter=0).fit(X)
    assert merges_computed == [(X.shape, "VVV")]
