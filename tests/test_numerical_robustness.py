"""Data far from the origin, badly scaled, correlated, or with tiny weights."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from gmmlib import GaussianMixture
from gmmlib.datasets import make_blobs_mixture
from gmmlib.timing import common_start

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
X_BASE, _ = make_blobs_mixture(600, n_components=3, n_features=3, separation=3.0,
                               random_state=0)
SETTINGS = dict(n_components=3, tol=1e-10, max_iter=500)


def fit(estimator, X, covariance_type, start, **options):
    return estimator(covariance_type=covariance_type, **SETTINGS, **start,
                     **options).fit(X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_data_shifted_by_1e8(covariance_type):
    """gmmlib centres its sums; the fit equals scikit-learn's on centred data.

    scikit-learn itself fails on this data for 'tied', 'diag' and 'spherical'
    (its second moments cancel catastrophically), so the reference is its fit
    of the same problem without the shift.
    """
    shift = 1e8
    start = common_start(X_BASE, 3, covariance_type)
    shifted_start = dict(start, means_init=start["means_init"] + shift)
    ours = fit(GaussianMixture, X_BASE + shift, covariance_type, shifted_start)
    reference = fit(SklearnGaussianMixture, X_BASE, covariance_type, start)
    assert_allclose(ours.lower_bound_, reference.lower_bound_, rtol=1e-6)
    assert_allclose(ours.means_ - shift, reference.means_, rtol=1e-5, atol=1e-6)
    assert_allclose(ours.covariances_, reference.covariances_, rtol=1e-5)
    resp = ours.predict_proba(X_BASE + shift)
    assert np.all(np.isfinite(resp))
    assert_allclose(resp.sum(axis=1), 1.0)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_scaled_data_matches_scikit_learn_and_rescales(covariance_type, scale):
    X = X_BASE * scale
    start = common_start(X, 3, covariance_type)
    options = dict(reg_covar=1e-6 * scale**2)
    ours = fit(GaussianMixture, X, covariance_type, start, **options)
    theirs = fit(SklearnGaussianMixture, X, covariance_type, start, **options)
    assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-8)
    assert_allclose(ours.means_, theirs.means_, rtol=1e-8)
    # Rescaling the data by s shifts the mean log-density by -d log s.
    unscaled = fit(GaussianMixture, X_BASE, covariance_type,
                   common_start(X_BASE, 3, covariance_type))
    assert_allclose(ours.lower_bound_, unscaled.lower_bound_ - 3 * np.log(scale),
                    rtol=1e-6)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_strongly_correlated_features(covariance_type):
    correlation = np.array([[1.0, 0.9999, 0.0], [0.9999, 1.0, 0.0], [0.0, 0.0, 1.0]])
    X = X_BASE @ np.linalg.cholesky(correlation).T
    start = common_start(X, 3, covariance_type)
    ours = fit(GaussianMixture, X, covariance_type, start)
    theirs = fit(SklearnGaussianMixture, X, covariance_type, start)
    assert ours.n_iter_ == theirs.n_iter_
    assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-8)
    assert_allclose(ours.covariances_, theirs.covariances_, rtol=1e-6, atol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_many_components_with_tiny_weights(covariance_type):
    n_components = 12
    start = common_start(X_BASE, n_components, covariance_type)
    weights = np.full(n_components, 1e-10)
    weights[:3] = (1 - weights[3:].sum()) / 3
    start["weights_init"] = weights
    options = dict(n_components=n_components, covariance_type=covariance_type,
                   tol=1e-8, max_iter=200, **start)
    ours = GaussianMixture(**options).fit(X_BASE)
    theirs = SklearnGaussianMixture(**options).fit(X_BASE)
    assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-6)
    resp = ours.predict_proba(X_BASE)
    assert np.all(np.isfinite(resp)) and np.all(resp >= 0)
    assert_allclose(resp.sum(axis=1), 1.0)
    assert np.all(np.isfinite(ours.score_samples(X_BASE)))


def test_points_far_from_every_component_keep_finite_responsibilities():
    model = GaussianMixture(3, random_state=0).fit(X_BASE)
    far = np.array([[1e4, -1e4, 1e4], [-1e6, 0.0, 0.0]])
    resp = model.predict_proba(far)
    assert np.all(np.isfinite(resp))
    assert_allclose(resp.sum(axis=1), 1.0)
    assert np.all(np.isfinite(model.score_samples(far)))
