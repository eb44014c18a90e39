"""gmmlib.GaussianMixture against sklearn.mixture.GaussianMixture from the same start."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from gmmlib import GaussianMixture
from gmmlib.timing import common_start

#: The same EM from the same start in two libraries, both stopping at the same
#: iteration (checked): rounding only, through up to 500 iterations. Largest
#: differences seen: 1.5e-14 relative (lower bounds), 1.2e-4 of the allowed
#: error (parameters, with ATOL). (Was 1e-6.)
RTOL = 1e-8
#: Entries that are zero up to rounding: off-diagonal terms, precisions.
ATOL = 1e-12


def fit_both(X, n_components, covariance_type, **options):
    start = common_start(X, n_components, covariance_type)
    settings = dict(
        n_components=n_components,
        covariance_type=covariance_type,
        max_iter=500,
        **start,
        **options,
    )
    ours = GaussianMixture(**settings).fit(X)
    theirs = SklearnGaussianMixture(**settings).fit(X)
    return ours, theirs


def test_fitted_parameters_match(dataset, covariance_type):
    _, X, n_components = dataset
    ours, theirs = fit_both(X, n_components, covariance_type, tol=1e-6)
    # The change of the lower bound nearest to tol = 1e-6 is 1e-9 of |l| away from
    # it, 6e4 times the two libraries' difference in l.
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.converged_ == theirs.converged_
    for name in [
        "weights_",
        "means_",
        "covariances_",
        "precisions_",
        "precisions_cholesky_",
    ]:
        assert_allclose(
            getattr(ours, name),
            getattr(theirs, name),
            rtol=RTOL,
            atol=ATOL,
            err_msg=name,
        )
    assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=RTOL)
    assert_allclose(ours.lower_bounds_, theirs.lower_bounds_, rtol=RTOL)


def test_predictions_match(dataset, covariance_type):
    _, X, n_components = dataset
    ours, theirs = fit_both(X, n_components, covariance_type, tol=1e-6)
    # Exact labels: no sample's two largest log-responsibilities are closer than
    # 2e-3, far above the two libraries' rounding differences (~1e-12).
    assert_array_equal(ours.predict(X), theirs.predict(X))
    # Responsibilities that underflow to ~0 differ in absolute terms only.
    assert_allclose(
        ours.predict_proba(X), theirs.predict_proba(X), rtol=RTOL, atol=1e-10
    )
    assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=RTOL)
    assert_allclose(ours.score(X), theirs.score(X), rtol=RTOL)
    assert_allclose(ours.bic(X), theirs.bic(X), rtol=RTOL)
    assert_allclose(ours.aic(X), theirs.aic(X), rtol=RTOL)
    assert_array_equal(ours.fit_predict(X), theirs.fit_predict(X))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fixed_iterations_match_tightly(dataset, covariance_type):
    """With tol=0 both run exactly max_iter iterations and stay within 1e-8."""
    _, X, n_components = dataset
    ours, theirs = fit_both(X, n_components, covariance_type, tol=0.0)
    # 500 iterations, most of them at the fixed point: largest difference seen
    # 1.2e-12 relative.
    for name in ["weights_", "means_", "covariances_"]:
        assert_allclose(
            getattr(ours, name),
            getattr(theirs, name),
            rtol=RTOL,
            atol=ATOL,
            err_msg=name,
        )


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++"])
def test_same_random_state_gives_the_same_initialisation(init_params):
    """k-means based starts draw from the random state exactly as scikit-learn does."""
    X, _ = np.random.default_rng(3).normal(size=(300, 2)), None
    X[:100] += 6
    settings = dict(
        n_components=3, init_params=init_params, random_state=7, max_iter=1, tol=0.0
    )
    with pytest.warns(ConvergenceWarning):
        ours = GaussianMixture(**settings).fit(X)
    with pytest.warns(ConvergenceWarning):
        theirs = SklearnGaussianMixture(**settings).fit(X)
    # The same k-means labels, then one EM iteration: largest difference seen
    # 3.8e-13 relative.
    assert_allclose(ours.means_, theirs.means_, rtol=1e-10)
    assert_allclose(ours.covariances_, theirs.covariances_, rtol=1e-10)
