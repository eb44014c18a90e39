"""Data far from the origin, badly scaled, correlated, or with tiny weights."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from gmmlib import GaussianMixture
from gmmlib.covariance import COVARIANCE_TYPES
from gmmlib.datasets import make_blobs_mixture
from gmmlib.timing import common_start

X_BASE, _ = make_blobs_mixture(
    600, n_components=3, n_features=3, separation=3.0, random_state=0
)
SETTINGS = dict(n_components=3, tol=1e-10, max_iter=500)


def fit(estimator, X, covariance_type, start, **options):
    settings = dict(SETTINGS, covariance_type=covariance_type, **start)
    return estimator(**dict(settings, **options)).fit(X)


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
    # Shifting by 1e8 rounds every coordinate to a multiple of ulp(1e8) = 1.5e-8:
    # the data themselves move by up to 7.5e-9, about 1e-8 of their spread ~1, so
    # fits agree to ~1e-8 relative at best (and the means to ~1e-8 absolute);
    # the bounds are 100 times that. Largest seen: 4.1e-11 (lower bound), 0.0022
    # and 0.0092 of the allowed errors (means, covariances).
    assert_allclose(ours.lower_bound_, reference.lower_bound_, rtol=1e-6)
    assert_allclose(ours.means_ - shift, reference.means_, rtol=1e-5, atol=1e-6)
    assert_allclose(ours.covariances_, reference.covariances_, rtol=1e-5)
    resp = ours.predict_proba(X_BASE + shift)
    assert np.all(np.isfinite(resp))
    assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-12)  # a sum of 3 terms: 3 u


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_scaled_data_matches_scikit_learn_and_rescales(covariance_type, scale):
    X = X_BASE * scale
    start = common_start(X, 3, covariance_type)
    options = dict(reg_covar=1e-6 * scale**2)
    ours = fit(GaussianMixture, X, covariance_type, start, **options)
    theirs = fit(SklearnGaussianMixture, X, covariance_type, start, **options)
    # The same EM from the same start in two libraries: rounding only, through
    # fits stopped at tol = 1e-10. Largest seen 3.9e-16 (lower bound) and 1.1e-14
    # relative (means); bounds 1e-8.
    assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-8)
    assert_allclose(ours.means_, theirs.means_, rtol=1e-8)
    # Rescaling the data by s shifts the mean log-density by -d log s. (Scaling by
    # 1e6 or 1e-6 is not exact in binary; largest difference seen 3.1e-16.)
    unscaled = fit(
        GaussianMixture,
        X_BASE,
        covariance_type,
        common_start(X_BASE, 3, covariance_type),
    )
    assert_allclose(
        ours.lower_bound_, unscaled.lower_bound_ - 3 * np.log(scale), rtol=1e-6
    )


def test_strongly_correlated_features(covariance_type):
    correlation = np.array([[1.0, 0.9999, 0.0], [0.9999, 1.0, 0.0], [0.0, 0.0, 1.0]])
    X = X_BASE @ np.linalg.cholesky(correlation).T
    start = common_start(X, 3, covariance_type)
    # tol = 1e-9, not the module's 1e-10: every change of the lower bound in these
    # fits then lies at least 6% away from tol (the closest: 9.39e-10 for
    # 'spherical'), while rounding moves the changes by ~1e-13, so both libraries
    # stop at the same iteration. At tol = 1e-10 the 'full' fit's 24th change,
    # 9.94e-11, fell either side of tol depending on the BLAS kernel.
    ours = fit(GaussianMixture, X, covariance_type, start, tol=1e-9)
    theirs = fit(SklearnGaussianMixture, X, covariance_type, start, tol=1e-9)
    assert ours.n_iter_ == theirs.n_iter_
    # Covariances of condition number up to 7e4: the two libraries' rounding is
    # amplified by that much. Largest seen: 3.3e-11 (lower bound), 4.2e-6 of the
    # allowed error (covariances).
    assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-8)
    assert_allclose(ours.covariances_, theirs.covariances_, rtol=1e-6, atol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_many_components_with_tiny_weights(covariance_type):
    n_components = 12
    start = common_start(X_BASE, n_components, covariance_type)
    weights = np.full(n_components, 1e-10)
    weights[:3] = (1 - weights[3:].sum()) / 3
    start["weights_init"] = weights
    options = dict(
        n_components=n_components,
        covariance_type=covariance_type,
        tol=1e-8,
        max_iter=200,
        **start,
    )
    ours = GaussianMixture(**options).fit(X_BASE)
    theirs = SklearnGaussianMixture(**options).fit(X_BASE)
    # Up to 200 iterations without convergence (nine components of weight ~1e-10
    # drift): rounding differences grow, to 9e-10 relative at most seen; 1e-6.
    assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-6)
    resp = ours.predict_proba(X_BASE)
    assert np.all(np.isfinite(resp)) and np.all(resp >= 0)
    assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-12)  # a sum of 12 terms: 12 u
    assert np.all(np.isfinite(ours.score_samples(X_BASE)))


def test_points_far_from_every_component_keep_finite_responsibilities():
    model = GaussianMixture(3, random_state=0).fit(X_BASE)
    far = np.array([[1e4, -1e4, 1e4], [-1e6, 0.0, 0.0]])
    resp = model.predict_proba(far)
    assert np.all(np.isfinite(resp))
    assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-12)  # a sum of 3 terms: 3 u
    assert np.all(np.isfinite(model.score_samples(far)))
