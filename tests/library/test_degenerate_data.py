"""Degenerate but legal data: the fit is sound, or it fails with a clear error."""

import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

import gmmlib
from gmmlib import DegenerateCovarianceError, DegenerateStartWarning, GaussianMixture
from gmmlib.covariance import COVARIANCE_TYPES

RNG = np.random.default_rng(0)
DEGENERATE = {
    "all_points_identical": (np.ones((20, 2)), 3),
    "heavily_duplicated": (
        np.vstack(
            [np.repeat(RNG.normal(size=(3, 2)), 30, axis=0), RNG.normal(size=(5, 2))]
        ),
        3,
    ),
    "constant_feature": (np.column_stack([RNG.normal(size=100), np.full(100, 3.0)]), 3),
    "n_samples_equal_n_components": (RNG.normal(size=(3, 2)), 3),
    "more_features_than_samples": (RNG.normal(size=(10, 30)), 2),
}
#: Weights and responsibilities sum to 1 up to the rounding of a sum of K <= 3
#: terms (K u = 3.3e-16); 1e-12 leaves room for the normalisation's own rounding.
SUM_RTOL = 1e-12


def quiet_fit(model, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # k-means may warn about duplicate points
        return model.fit(X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("case", sorted(DEGENERATE))
def test_degenerate_data_fits_soundly_with_reg_covar(case, covariance_type):
    X, n_components = DEGENERATE[case]
    options = dict(
        n_components=n_components, covariance_type=covariance_type, random_state=0
    )
    ours = quiet_fit(GaussianMixture(**options), X)
    for name in ["weights_", "means_", "covariances_", "precisions_cholesky_"]:
        assert np.all(np.isfinite(getattr(ours, name))), name
    assert_allclose(ours.weights_.sum(), 1.0, rtol=SUM_RTOL)
    resp = ours.predict_proba(X)
    assert np.all(np.isfinite(resp))
    assert_allclose(resp.sum(axis=1), 1.0, rtol=SUM_RTOL)
    # Same random_state, same k-means start: scikit-learn reaches the same fit,
    # up to rounding amplified by covariances of condition number up to
    # ~1 / reg_covar = 1e6 (largest difference seen 1e-9); bound 1e-6.
    theirs = quiet_fit(SklearnGaussianMixture(**options), X)
    assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-6)


def test_collapse_without_regularisation_names_the_component(covariance_type):
    X = np.ones((20, 2))
    model = GaussianMixture(
        2,
        covariance_type=covariance_type,
        reg_covar=0.0,
        means_init=[[1.0, 1.0], [5.0, 5.0]],
        random_state=0,
    )
    with pytest.raises(ValueError, match="ill-defined empirical covariance") as error:
        quiet_fit(model, X)
    if covariance_type != "tied":  # a tied covariance belongs to no one component
        # Both components collapse (one holds every point, the other none):
        # which is reported depends on the start and on rounding: either is right.
        assert re.search(
            r"Component [01] has a covariance that is not positive "
            r"definite",
            str(error.value),
        )
    assert not hasattr(model, "means_")


def test_constant_feature_without_regularisation_fails_clearly():
    X = DEGENERATE["constant_feature"][0]
    with pytest.raises(ValueError, match="increase reg_covar, or scale the input data"):
        quiet_fit(GaussianMixture(2, reg_covar=0.0, random_state=0), X)


def test_two_points_in_the_plane_collapse_even_when_cholesky_succeeds():
    """A component holding only two points has a rank-one covariance. Rounding can
    leave it numerically positive definite; gmmlib still reports the collapse.

    The start is given in full (no k-means), so the first M-step gives component 1,
    started at the two far points, their rank-one covariance: only component 1
    collapses, whatever the BLAS kernel. (Its smallest variance is 0.086 of the
    rounding floor under every kernel, thread count and block size tried.)
    """
    cloud = np.random.default_rng(1).normal(size=(40, 2))
    X = np.vstack([cloud, [[10.0, 10.0], [10.6, 10.2]]])
    start = dict(
        weights_init=[40 / 42, 2 / 42],
        means_init=[[0.0, 0.0], [10.3, 10.1]],
        precisions_init=np.stack([np.eye(2)] * 2),
    )
    model = GaussianMixture(2, reg_covar=0.0, tol=0.0, max_iter=3, **start)
    with pytest.raises(
        ValueError,
        match="Component 1 has a covariance that is not "
        "positive definite, or singular to working",
    ):
        quiet_fit(model, X)
    # The same data with the default regularisation fits soundly.
    regularised = quiet_fit(GaussianMixture(2, **start), X)
    assert regularised.converged_ and np.all(np.isfinite(regularised.covariances_))


# ---------------------------------------------------------------- failed starts
def clouds_with_duplicates():
    """Two unit clouds 8 apart and four copies of one point between them.

    Without regularisation, EM from some k-means starts pulls a component onto
    the four identical points, where its covariance collapses; from others
    the copies stay in a component of about ten points. With
    ``random_state=7`` and ``n_init=3``, starts 0 and 1 end in such fits
    (their smallest effective count is 9.9, their smallest eigenvalue 0.43)
    and start 2 collapses component 2, under every kernel, thread count and
    block size tried: the collapse is EM's attractor, not a rounding accident.
    """
    rng = np.random.default_rng(0)
    return np.vstack(
        [
            rng.normal(size=(60, 2)),
            rng.normal(size=(60, 2)) + [8.0, 0.0],
            np.tile([[4.0, 1.0]], (4, 1)),
        ]
    )


def test_a_collapsing_start_is_discarded_with_a_warning():
    X = clouds_with_duplicates()
    options = dict(reg_covar=0.0, random_state=7)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = GaussianMixture(3, n_init=3, **options).fit(X)
    failed = [w for w in caught if issubclass(w.category, DegenerateStartWarning)]
    assert len(failed) == 1
    assert str(failed[0].message).startswith(
        "Initialization 2 of 3 was discarded: the covariance of component 2 is "
        "not positive definite, or singular to working precision (a collapsed "
        "component)."
    )
    assert failed[0].filename == __file__  # points at the caller of fit
    # Starts 0 and 1 draw the same random numbers with n_init=2: the fit kept
    # is the better of them, the same computation, bit for bit.
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateStartWarning)
        two_starts = GaussianMixture(3, n_init=2, **options).fit(X)
    assert model.lower_bound_ == two_starts.lower_bound_
    assert_array_equal(model.means_, two_starts.means_)
    assert_array_equal(model.covariances_, two_starts.covariances_)


def test_the_warning_is_a_user_warning_exported_by_gmmlib():
    assert issubclass(DegenerateStartWarning, UserWarning)
    assert issubclass(DegenerateCovarianceError, ValueError)
    assert {"DegenerateStartWarning", "DegenerateCovarianceError"} <= set(
        gmmlib.__all__
    )


@pytest.mark.parametrize("n_init", [1, 3])
def test_every_start_failing_raises(covariance_type, n_init):
    """One-hot starts on single rows: every first M-step has zero covariances."""
    X = clouds_with_duplicates()
    model = GaussianMixture(
        3,
        covariance_type=covariance_type,
        init_params="random_from_data",
        reg_covar=0.0,
        n_init=n_init,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateStartWarning)  # none is issued
        with pytest.raises(
            DegenerateCovarianceError, match="ill-defined empirical covariance"
        ) as error:
            model.fit(X)
    # n_init=1 raises the error of the one run, as before; several starts say
    # that all of them failed.
    assert str(error.value).endswith(
        "All 3 initializations failed." if n_init == 3 else "working precision."
    )
    assert not hasattr(model, "means_")


def test_a_failing_warm_start_raises():
    """A warm start is one run: if it collapses, fit raises (no other start to keep)."""
    X = clouds_with_duplicates()
    model = GaussianMixture(2, warm_start=True, n_init=3, random_state=0).fit(X)
    model.set_params(reg_covar=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateStartWarning)
        with pytest.raises(DegenerateCovarianceError, match="ill-defined"):
            model.fit(np.ones((20, 2)))  # every point identical
