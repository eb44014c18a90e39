"""EM on a dask array, on a dask.distributed LocalCluster, against the in-memory fit."""

import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from gmmlib import BayesianGaussianMixture, GaussianMixture
from gmmlib import distributed as distributed_moments
from gmmlib.datasets import make_blobs_mixture
from gmmlib.distributed import is_dask_array
from gmmlib.em_steps import moments_from_resp
from gmmlib.hard_em import hard_responsibilities, nearest_centres
from gmmlib.timing import common_start

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")

#: The same float64 EM from the same start, with the sums over rows split into
#: dask's 5 chunks instead of gmmlib's blocks: rounding only, ~n u = 3e-13 per
#: sum of n = 3000 terms, over 10 iterations of a contracting map. Largest
#: relative difference seen 5.6e-13 (parameters), 1.7e-15 (lower bounds).
SAME_EM_RTOL = 1e-10
#: Entries that are zero up to rounding (off-diagonal terms near 0).
SAME_EM_ATOL = 1e-13
X, _ = make_blobs_mixture(3000, n_components=3, n_features=3, random_state=12)


@pytest.fixture(scope="module")
def client():
    """A one-worker in-process cluster; computations inside the tests go through it."""
    with (
        distributed.LocalCluster(
            processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def fit_both(data, **settings):
    """Fit the in-memory data and the same data as a dask array of 5 blocks."""
    fits = []
    for version in (data, da.from_array(data, chunks=(len(data) // 5, -1))):
        with pytest.warns(ConvergenceWarning):
            fits.append(GaussianMixture(tol=0.0, max_iter=10, **settings).fit(version))
    return fits


def test_dask_fit_equals_in_memory_fit(client, covariance_type):
    in_memory, on_dask = fit_both(
        X,
        n_components=3,
        covariance_type=covariance_type,
        **common_start(X, 3, covariance_type),
    )
    for name in ["weights_", "means_", "covariances_", "precisions_cholesky_"]:
        assert_allclose(
            getattr(on_dask, name),
            getattr(in_memory, name),
            rtol=SAME_EM_RTOL,
            atol=SAME_EM_ATOL,
            err_msg=name,
        )
    assert_allclose(on_dask.lower_bounds_, in_memory.lower_bounds_, rtol=SAME_EM_RTOL)
    assert on_dask.n_features_in_ == 3 and on_dask.n_iter_ == in_memory.n_iter_


def test_dask_fit_keeps_float32(client):
    X32 = X.astype(np.float32)
    in_memory, on_dask = fit_both(X32, n_components=3, **common_start(X, 3, "full"))
    assert on_dask.means_.dtype == np.float32
    # Both fits run in float32 blocks (u = 6e-8), split at other rows: they
    # differ by ~10 u. Largest seen 5.8e-7; bound 1e-5 (was 1e-6, within a
    # factor 2 of what an AVX kernel gives).
    assert_allclose(on_dask.lower_bound_, in_memory.lower_bound_, rtol=1e-5)


def test_random_from_data_start_is_the_in_memory_start(client):
    in_memory, on_dask = fit_both(
        X, n_components=3, init_params="random_from_data", random_state=5
    )
    assert_allclose(on_dask.means_, in_memory.means_, rtol=SAME_EM_RTOL)


def test_default_kmeans_start_finds_the_in_memory_optimum(client, covariance_type):
    """k-means on a sample of the dask array, then EM there: the optimum found in memory."""
    settings = dict(
        n_components=3,
        covariance_type=covariance_type,
        tol=1e-10,
        max_iter=1000,
        random_state=0,
    )
    in_memory = GaussianMixture(**settings).fit(X)
    on_dask = GaussianMixture(**settings).fit(da.from_array(X, chunks=(600, -1)))
    assert on_dask.converged_
    order = np.argsort(on_dask.means_[:, 0])
    reference = np.argsort(in_memory.means_[:, 0])
    # Two starts, one fixed point (separated clusters): EM stopped where the
    # change fell below 1e-10, a linear rate of at most ~0.5 leaves the
    # parameters within ~1e-9 of the fixed point. Bound 1e-6.
    assert_allclose(on_dask.means_[order], in_memory.means_[reference], rtol=1e-6)
    assert_allclose(on_dask.lower_bound_, in_memory.lower_bound_, rtol=1e-9)


def test_kmeans_start_assigns_every_row_to_its_nearest_sample_centre(client):
    dask_X = da.from_array(X, chunks=(700, -1))
    centres = X[[0, 1000, 2000]]
    shift = X.mean(axis=0)
    moments = distributed_moments.kmeans_moments(dask_X, centres, "full", shift)
    labels = nearest_centres(X, centres)
    expected = moments_from_resp(
        X, hard_responsibilities(labels, 3), "full", shift=shift
    )
    # The same sums split at other rows: ~n u = 3e-13 relative. Bound 1e-10.
    assert_allclose(moments, expected, rtol=1e-10, atol=1e-10)


def test_random_start_on_dask_is_reproducible_and_normalised(client):
    dask_X = da.from_array(X, chunks=(700, -1))
    first, second = (
        distributed_moments.random_moments(
            dask_X, 3, "diag", X.mean(axis=0), np.random.RandomState(4)
        )
        for _ in range(2)
    )
    assert_array_equal(first, second)
    # Each row's responsibilities sum to one, so the counts sum to n (n u).
    assert_allclose(first[:, 0].sum(), len(X), rtol=1e-12)


@pytest.mark.parametrize(
    "init_params", ["kmeans", "k-means++", "random", "random_from_data"]
)
def test_every_start_fits_a_dask_array(client, init_params):
    model = GaussianMixture(
        3, init_params=init_params, tol=1e-6, max_iter=500, random_state=1
    ).fit(da.from_array(X, chunks=(600, -1)))
    assert model.converged_
    # A fit at least as good as the worst of two in-memory starts is a real
    # fit, not a collapsed one (the clusters are separated).
    reference = GaussianMixture(
        3, init_params=init_params, tol=1e-6, max_iter=500, random_state=1
    ).fit(X)
    assert model.score(X) > reference.score(X) - 0.5


def test_predictions_on_a_dask_array_are_the_in_memory_ones(client):
    model = GaussianMixture(3, random_state=0).fit(X)
    dask_X = da.from_array(X, chunks=(700, -1))
    # The same per-row arithmetic on other blocks of rows: equal to rounding.
    assert_allclose(
        model.predict_proba(dask_X), model.predict_proba(X), rtol=1e-12, atol=1e-300
    )
    assert_allclose(model.score_samples(dask_X), model.score_samples(X), rtol=1e-12)
    assert_array_equal(model.predict(dask_X), model.predict(X))


def test_bayesian_mixture_on_dask_is_the_in_memory_fit(client, covariance_type):
    settings = dict(
        n_components=4,
        covariance_type=covariance_type,
        init_params="random_from_data",
        random_state=3,
        tol=0.0,
        max_iter=20,
    )
    with pytest.warns(ConvergenceWarning):
        in_memory = BayesianGaussianMixture(**settings).fit(X)
    with pytest.warns(ConvergenceWarning):
        on_dask = BayesianGaussianMixture(**settings).fit(
            da.from_array(X, chunks=(600, -1))
        )
    # Same start (the same rows drawn), same priors from the column moments
    # (summed in other orders), same 20 updates: rounding only, as SAME_EM_RTOL.
    assert_allclose(
        on_dask.covariance_prior_, in_memory.covariance_prior_, rtol=SAME_EM_RTOL
    )
    for name in [
        "weights_",
        "means_",
        "covariances_",
        "mean_precision_",
        "degrees_of_freedom_",
    ]:
        assert_allclose(
            getattr(on_dask, name),
            getattr(in_memory, name),
            rtol=SAME_EM_RTOL,
            atol=SAME_EM_ATOL,
            err_msg=name,
        )
    assert_allclose(on_dask.lower_bounds_, in_memory.lower_bounds_, rtol=SAME_EM_RTOL)


def test_missing_values_need_the_data_in_memory(client):
    bad = X.copy()
    bad[5, 0] = np.nan
    model = GaussianMixture(3, missing_values="marginalize")
    with pytest.raises(ValueError, match="handled for data in memory only"):
        model.fit(da.from_array(bad, chunks=1000))


@pytest.mark.parametrize(
    "value, message",
    [(np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity")],
)
def test_non_finite_dask_data_are_refused(client, value, message):
    bad = X.copy()
    bad[1234, 1] = value
    with pytest.raises(ValueError, match=message):
        GaussianMixture(3, init_params="random_from_data").fit(
            da.from_array(bad, chunks=1000)
        )


def test_sample_weight_is_refused_for_dask_arrays(client):
    model = GaussianMixture(3, init_params="random_from_data")
    with pytest.raises(ValueError, match="sample_weight is not supported"):
        model.fit(da.from_array(X, chunks=1000), sample_weight=np.ones(len(X)))


def test_is_dask_array():
    assert is_dask_array(da.zeros((4, 2)))
    assert not is_dask_array(np.zeros((4, 2)))


def test_importing_gmmlib_does_not_import_dask():
    code = (
        "import sys, gmmlib; assert not any(m.startswith('dask') for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
