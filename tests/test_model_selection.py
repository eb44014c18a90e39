"""gmmlib.model_selection: the grid of BIC, AIC and ICL, checked against scikit-learn."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from gmmlib.datasets import make_blobs_mixture, make_mixture
from gmmlib.model_selection import (classification_entropy, fit_grid,
                                    information_criteria, mclust_bic)

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs_mixture(400, n_components=3, separation=4.0, random_state=0)
    return X


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_criteria_equal_sklearn_bic_and_aic_of_the_same_fits(blobs, covariance_type):
    grid = fit_grid(blobs, range(1, 5), [covariance_type],
                    estimator=SklearnGaussianMixture, random_state=0)
    for row in grid.table:
        model = grid.models[int(row["n_components"]), covariance_type]
        assert_allclose(row["bic"], model.bic(blobs), rtol=1e-12)
        assert_allclose(row["aic"], model.aic(blobs), rtol=1e-12)
        assert_allclose(row["log_likelihood"], model.score(blobs) * len(blobs),
                        rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_gmmlib_grid_equals_sklearn_grid(blobs, covariance_type):
    """Same random_state: gmmlib's fits start and end where scikit-learn's do."""
    options = dict(random_state=0, tol=1e-8, max_iter=500)
    ours = fit_grid(blobs, range(1, 5), [covariance_type], **options)
    theirs = fit_grid(blobs, range(1, 5), [covariance_type],
                      estimator=SklearnGaussianMixture, **options)
    assert_array_equal(ours.table["n_parameters"], theirs.table["n_parameters"])
    for name in ["log_likelihood", "bic", "aic", "icl"]:
        assert_allclose(ours.table[name], theirs.table[name], rtol=1e-6, err_msg=name)
    for row in ours.table:
        model = theirs.models[int(row["n_components"]), covariance_type]
        assert_allclose(row["bic"], model.bic(blobs), rtol=1e-6)
        assert_allclose(row["aic"], model.aic(blobs), rtol=1e-6)


@pytest.mark.parametrize("covariance_type, expected", [
    ("full", lambda k, d: k - 1 + k * d + k * d * (d + 1) // 2),
    ("tied", lambda k, d: k - 1 + k * d + d * (d + 1) // 2),
    ("diag", lambda k, d: k - 1 + k * d + k * d),
    ("spherical", lambda k, d: k - 1 + k * d + k),
])
def test_number_of_parameters(blobs, covariance_type, expected):
    grid = fit_grid(blobs, [1, 2, 4], [covariance_type], random_state=0)
    for row in grid.table:
        assert row["n_parameters"] == expected(int(row["n_components"]), 2)
        n = len(blobs)
        assert_allclose(row["bic"], -2 * row["log_likelihood"]
                        + row["n_parameters"] * np.log(n), rtol=1e-14)


def test_icl_is_bic_plus_twice_the_entropy(blobs):
    grid = fit_grid(blobs, range(1, 6), COVARIANCE_TYPES, random_state=0)
    assert np.all(grid.table["icl"] >= grid.table["bic"])
    # One component: every responsibility is exactly one, no entropy.
    one = grid.table[grid.table["n_components"] == 1]
    assert_array_equal(one["icl"], one["bic"])
    # More components on overlapping clusters: strictly larger.
    several = grid.table[grid.table["n_components"] > 1]
    assert np.all(several["icl"] > several["bic"])
    for row in grid.table:
        model = grid.models[int(row["n_components"]), str(row["covariance_type"])]
        resp = model.predict_proba(blobs)
        entropy = -np.sum(resp[resp > 0] * np.log(resp[resp > 0]))
        assert_allclose(row["icl"] - row["bic"], 2 * entropy, rtol=1e-9, atol=1e-9)


def test_icl_equals_bic_when_responsibilities_are_hard():
    """Clusters 1000 standard deviations apart: exp underflows, responsibilities are 0 or 1."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 1000.0])
    grid = fit_grid(X, [2], ["full", "spherical"], random_state=0)
    for row in grid.table:
        model = grid.models[2, str(row["covariance_type"])]
        assert set(np.unique(model.predict_proba(X))) == {0.0, 1.0}
        assert row["icl"] == row["bic"]


def test_classification_entropy():
    assert classification_entropy(np.array([[1.0, 0.0], [0.0, 1.0]])) == 0.0
    assert_allclose(classification_entropy(np.full((3, 4), 0.25)), 3 * np.log(4))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bic_and_icl_pick_the_true_number_of_components(seed):
    """Three correlated clusters, means 8 apart (several standard deviations)."""
    covariances = [[[1.0, 0.6], [0.6, 1.0]], [[1.0, -0.5], [-0.5, 2.0]],
                   [[2.0, 0.0], [0.0, 0.5]]]
    X, _ = make_mixture(500, [0.3, 0.3, 0.4], [[0, 0], [8, 0], [0, 8]], covariances,
                        random_state=seed)
    grid = fit_grid(X, range(1, 7), COVARIANCE_TYPES, random_state=0)
    for criterion in ["bic", "icl"]:
        best = grid.best(criterion)
        assert best["n_components"] == 3, (criterion, best)
        assert grid.best_model(criterion) is grid.models[3, str(best["covariance_type"])]
    choices = grid.choices()
    assert choices["bic"][0] == choices["icl"][0] == 3
    assert choices["bic"] == (int(grid.best("bic")["n_components"]),
                              str(grid.best("bic")["covariance_type"]))
    ks, values = grid.curve("full", "bic")
    assert_array_equal(ks, np.arange(1, 7))
    assert ks[np.argmin(values)] == 3


def test_mclust_convention_is_minus_the_sklearn_one(blobs):
    model = SklearnGaussianMixture(3, random_state=0).fit(blobs)
    criteria = information_criteria(model, blobs)
    n = len(blobs)
    log_likelihood = model.score(blobs) * n
    p = criteria["n_parameters"]
    assert_allclose(mclust_bic(model.bic(blobs)), 2 * log_likelihood - p * np.log(n),
                    rtol=1e-12)
    assert_allclose(mclust_bic(mclust_bic(criteria["bic"])), criteria["bic"])


def test_unknown_criterion_is_a_clear_error(blobs):
    grid = fit_grid(blobs, [1], ["full"], random_state=0)
    with pytest.raises(ValueError, match="criterion must be one of"):
        grid.best("hqc")
