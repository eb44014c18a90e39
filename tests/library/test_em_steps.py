"""The block E-step of gmmlib.em_steps against direct formulas."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp, softmax
from sklearn.exceptions import ConvergenceWarning

from gmmlib import runtime
from gmmlib.covariance import COVARIANCE_TYPES
from gmmlib.datasets import make_blobs_mixture
from gmmlib.em_steps import (
    e_step,
    estimate_log_gaussian_prob,
    estimate_log_prob_resp,
    log_floor,
    natural_parameters,
    normalize_log_prob,
    parameters_from_model,
    statistics_from_resp,
    sufficient_features,
)
from gmmlib.gaussian_mixture import GaussianMixture

# The data lie near 50. A log-density (2.7 or more in size here) is a sum of
# terms up to ~360 (natural parameters times features around the data mean) or,
# in the uncentred reference, up to |x|^2 |Lambda| ~ 2500: a few roundings of
# 2500 u = 3e-13 each, up to ~3e-12 absolute, 1e-12 relative.
#: Log-densities, one value each. Largest difference seen 7.6e-13 relative.
LOG_DENSITY_RTOL = 1e-10
#: The same statistics summed in another order (blocks, threads) or by einsum:
#: at most n u = 6e-14 relative for n = 500 terms of one sign.
SUM_RTOL = 1e-12
#: First and second moments of centred data have entries near 0 whose error is
#: that of the sum's largest terms: n u max w |x - c|^2 = 500 u 2 290 = 3e-11.
#: Largest difference seen: 1.3e-3 of the error SUM_RTOL and SUM_ATOL allow.
SUM_ATOL = 1e-9
#: The log-likelihood of 500 samples, ~2500 in size: up to 500 x 3e-12 = 1.5e-9
#: if all errors had one sign, 6e-13 relative; largest seen 9.2e-14.
LOG_LIKELIHOOD_RTOL = 1e-11


def fitted_parameters(covariance_type, n_samples=500, n_features=3, n_components=3):
    """Data far from the origin and the parameters of a short fit to it."""
    X, _ = make_blobs_mixture(
        n_samples, n_components=n_components, n_features=n_features, random_state=3
    )
    X += 50.0
    model = GaussianMixture(
        n_components,
        covariance_type=covariance_type,
        max_iter=5,
        tol=0.0,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning):  # five iterations do not converge
        model.fit(X)
    return X, parameters_from_model(model)


def direct_statistics(X, resp, covariance_type, sample_weight):
    """N_k, S_k, T_k written as sums over samples with einsum."""
    weighted = resp * sample_weight[:, None]
    nk = weighted.sum(axis=0)
    first = weighted.T @ X
    outer = np.einsum("nk,ni,nj->kij", weighted, X, X)
    second = {
        "full": outer,
        "tied": outer.sum(axis=0),
        "diag": np.einsum("kii->ki", outer),
        "spherical": np.einsum("kii->ki", outer),
    }[covariance_type]
    return nk, first, second


def test_natural_parameters_give_the_weighted_log_density(covariance_type):
    X, params = fitted_parameters(covariance_type)
    shift = X.mean(axis=0)
    features = sufficient_features(X, covariance_type, shift)
    log_prob = natural_parameters(params, shift) @ features
    expected = estimate_log_gaussian_prob(
        X, params.means, params.precisions_cholesky, covariance_type
    ) + np.log(params.weights)
    assert_allclose(log_prob.T, expected, rtol=LOG_DENSITY_RTOL)


def test_features_hold_one_then_the_data_then_products(covariance_type):
    X = np.arange(6.0).reshape(2, 3)
    features = sufficient_features(X, covariance_type)
    assert_array_equal(features[0], 1.0)
    assert_array_equal(features[1:4], X.T)
    if covariance_type in ("full", "tied"):
        rows, cols = np.triu_indices(3)
        assert_array_equal(features[4:], (X[:, rows] * X[:, cols]).T)
    else:
        assert_array_equal(features[4:], (X**2).T)


def test_statistics_from_resp_are_the_weighted_sums(covariance_type):
    X, params = fitted_parameters(covariance_type)
    shift = X.mean(axis=0)
    resp = estimate_log_prob_resp(X, params)[1]
    sample_weight = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    ours = statistics_from_resp(X, resp, covariance_type, sample_weight, shift)
    for got, expected in zip(
        ours,
        direct_statistics(X - shift, resp, covariance_type, sample_weight),
        strict=True,
    ):
        assert_allclose(got, expected, rtol=SUM_RTOL, atol=SUM_ATOL)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_e_step_equals_the_direct_computation(covariance_type, n_threads, monkeypatch):
    # Small blocks, so that 500 rows make several blocks for every thread.
    monkeypatch.setattr(runtime, "MIN_BLOCK_ROWS", 32)
    monkeypatch.setattr(runtime, "BLOCK_BYTES", 32 * 8)
    monkeypatch.setattr(runtime, "BLOCK_ROWS", None)
    X, params = fitted_parameters(covariance_type)
    shift = X.mean(axis=0)
    sample_weight = np.random.default_rng(1).uniform(0.5, 2.0, len(X))
    stats = e_step(X, params, sample_weight, shift, n_threads=n_threads)
    log_prob_norm, resp = estimate_log_prob_resp(X, params)
    expected = direct_statistics(X - shift, resp, covariance_type, sample_weight)
    assert_allclose(stats.nk, expected[0], rtol=SUM_RTOL)
    assert_allclose(stats.first_moments, expected[1], rtol=SUM_RTOL, atol=SUM_ATOL)
    assert_allclose(stats.second_moments, expected[2], rtol=SUM_RTOL, atol=SUM_ATOL)
    assert_allclose(
        stats.log_likelihood, log_prob_norm @ sample_weight, rtol=LOG_LIKELIHOOD_RTOL
    )
    assert_allclose(stats.total_weight, sample_weight.sum(), rtol=SUM_RTOL)


def test_e_step_keeps_float32_blocks_and_float64_totals():
    X, params = fitted_parameters("full", n_samples=2000)
    X32 = X.astype(np.float32)
    stats32 = e_step(X32, params, shift=X.mean(axis=0))
    stats64 = e_step(X, params, shift=X.mean(axis=0))
    assert stats32.nk.dtype == stats32.second_moments.dtype == np.float64
    # float32 blocks (u = 6e-8): each responsibility and log-density carries a
    # few u times its terms (size ~10); the float64 totals add nothing. Largest
    # seen: 4e-7 (nk), 3.8e-7 (log-likelihood, where rounding errors of one sign
    # add up); bounds 1e-5 and 5e-6 (was 1e-6, within a factor 3).
    assert_allclose(stats32.nk, stats64.nk, rtol=1e-5)
    assert_allclose(stats32.log_likelihood, stats64.log_likelihood, rtol=5e-6)


def test_normalize_log_prob_is_the_log_sum_exp():
    # Rows with one dominant term (its exponent -1 after the offset), rows
    # with terms close together, offsets up to ~1000, and a component with
    # zero weight (-inf) in some rows.
    rng = np.random.default_rng(4)
    log_prob = rng.uniform(-60.0, 0.0, (600, 4)) + rng.normal(0.0, 300.0, (600, 1))
    log_prob[::5] /= 40.0
    log_prob[::7, 1] = -np.inf
    expected_log_p = logsumexp(log_prob, axis=1)
    expected_resp = softmax(log_prob, axis=1)
    resp = log_prob.copy()
    log_p = normalize_log_prob(resp)
    # a - (1 + max a) is rounded to u |a| or less: an absolute error of the
    # exponents, so a relative one of each exponential and an absolute one of
    # log p, in both implementations; ten times that covers the sums' few u.
    bound = 10 * np.finfo(float).eps * np.max(np.abs(log_prob[np.isfinite(log_prob)]))
    assert_allclose(log_p, expected_log_p, rtol=0, atol=bound)
    assert_allclose(resp, expected_resp, rtol=bound, atol=0)
    assert np.all(resp[::7, 1] == 0.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_floor_changes_no_log_likelihood(dtype):
    rng = np.random.default_rng(2)
    log_prob = np.concatenate(
        [rng.uniform(-5.0, 0.0, (200, 3)), rng.uniform(-5000.0, -600.0, (200, 3))],
        axis=1,
    )
    log_prob = log_prob.astype(dtype)
    exact = log_prob.copy()
    floored = log_prob.copy()
    assert_array_equal(
        normalize_log_prob(floored, log_floor(dtype)), normalize_log_prob(exact)
    )
    # Raised responsibilities stay below exp(floor) relative to the largest.
    assert np.max(np.abs(floored - exact)) <= np.exp(log_floor(dtype))
    assert np.all(floored > 0.0) and np.all(np.isfinite(floored))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_floor_is_negligible_and_keeps_products_normal(dtype):
    smallest = np.exp(np.array(log_floor(dtype), dtype=dtype))
    assert smallest < np.finfo(dtype).eps ** 2
    # times a feature as small as 1e-4, still a normal number
    assert smallest * dtype(1e-4) >= np.finfo(dtype).tiny


def test_block_size_fits_the_budget_or_the_minimum(monkeypatch):
    monkeypatch.setattr(runtime, "BLOCK_ROWS", None)  # as without GMMLIB_BLOCK_ROWS
    rows = runtime.block_size(8, 10)
    assert rows * (66 + 8) * 8 <= runtime.BLOCK_BYTES < (rows + 1) * (66 + 8) * 8
    assert runtime.block_size(8, 10, dtype=np.float32) in (2 * rows, 2 * rows + 1)
    assert runtime.block_size(10, 200) == runtime.MIN_BLOCK_ROWS
