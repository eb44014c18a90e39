"""gmmlib.data_sources: the right source for each kind of data, and its column moments."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from gmmlib import GaussianMixture
from gmmlib.data_sources import DaskData, InMemoryData, MissingValuesData, data_source
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
