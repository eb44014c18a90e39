"""float32 data: fitted in float32 end to end, and close to the float64 fit."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning

from gmmlib import GaussianMixture
from gmmlib.datasets import make_blobs_mixture
from gmmlib.timing import common_start

FITTED_ARRAYS = [
    "weights_",
    "means_",
    "covariances_",
    "precisions_",
    "precisions_cholesky_",
]


def fit_in_both_dtypes(covariance_type, n_samples=20_000, max_iter=30):
    X, _ = make_blobs_mixture(
        n_samples, n_components=4, n_features=3, separation=2.0, random_state=10
    )
    X += 100.0  # far from the origin: the centring matters more in float32
    start = common_start(X, 4, covariance_type)
    settings = dict(
        n_components=4, covariance_type=covariance_type, tol=0.0, max_iter=max_iter
    )
    fits = {}
    with pytest.warns(ConvergenceWarning):
        fits[np.float64] = GaussianMixture(**settings, **start).fit(X)
    with pytest.warns(ConvergenceWarning):
        # float64 starting parameters: the fit must still run in float32
        fits[np.float32] = GaussianMixture(**settings, **start).fit(
            X.astype(np.float32)
        )
    return X, fits


def test_float32_data_give_float32_parameters_and_outputs(covariance_type):
    X, fits = fit_in_both_dtypes(covariance_type, n_samples=2000, max_iter=3)
    model = fits[np.float32]
    for name in FITTED_ARRAYS:
        assert getattr(model, name).dtype == np.float32, name
    X32 = X.astype(np.float32)
    assert model.predict_proba(X32).dtype == np.float32
    assert model.score_samples(X32).dtype == np.float32
    assert fits[np.float64].means_.dtype == np.float64


def test_float32_fit_matches_the_float64_fit(covariance_type):
    _, fits = fit_in_both_dtypes(covariance_type)
    ours, reference = fits[np.float32], fits[np.float64]
    # The target of the performance issue: log-likelihood within 1e-4 relative.
    assert_allclose(ours.lower_bound_, reference.lower_bound_, rtol=1e-4)
    # In fact much closer, because the block totals are float64. What remains is
    # float32 rounding (u = 6e-8) in the blocks, carried through 30 iterations far
    # from convergence; the AVX-512 float32 kernels round ~10x more than SSE3
    # ones. (Rounding X itself to float32 accounts for < 1e-8 of it.) Largest
    # relative differences seen across kernels, threads and block sizes:
    # lower bounds 3.6e-7, weights 4.2e-5, means 3.7e-7; covariances 0.09 of
    # the allowed error. Bounds >= 10x those; the lower bounds' and the
    # weights' were 1e-6 and 1e-4, within a factor 3 of what was seen.
    assert_allclose(ours.lower_bounds_, reference.lower_bounds_, rtol=5e-6)
    assert_allclose(ours.weights_, reference.weights_, rtol=5e-4)
    assert_allclose(ours.means_, reference.means_, rtol=1e-5)
    assert_allclose(ours.covariances_, reference.covariances_, rtol=1e-3, atol=1e-5)
