"""gmmlib.model_selection: the grid of BIC, AIC and ICL, checked against scikit-learn."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from gmmlib.covariance import COVARIANCE_TYPES, full_covariances
from gmmlib.datasets import make_blobs_mixture, make_mixture
from gmmlib.free_energy import entropy
from gmmlib.model_selection import (
    CRITERIA,
    fit_grid,
    information_criteria,
    map_classification_loss,
    mclust_bic,
)


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs_mixture(400, n_components=3, separation=4.0, random_state=0)
    return X


def test_criteria_equal_sklearn_bic_and_aic_of_the_same_fits(blobs, covariance_type):
    grid = fit_grid(
        blobs,
        range(1, 5),
        [covariance_type],
        estimator=SklearnGaussianMixture,
        random_state=0,
    )
    # The same fit: score_samples summed here, averaged (mean times n) by
    # scikit-learn, so rounding only, of order n u = 1e-13. Largest seen
    # across kernels/threads/blocks: 1.4e-16; bound 1e-12.
    for row in grid.table:
        model = grid.models[int(row["n_components"]), covariance_type]
        assert_allclose(row["bic"], model.bic(blobs), rtol=1e-12)
        assert_allclose(row["aic"], model.aic(blobs), rtol=1e-12)
        assert_allclose(
            row["log_likelihood"], model.score(blobs) * len(blobs), rtol=1e-12
        )


def test_gmmlib_grid_equals_sklearn_grid(blobs, covariance_type):
    """Same random_state: gmmlib's fits start and end where scikit-learn's do."""
    options = dict(random_state=0, tol=1e-8, max_iter=500)
    ours = fit_grid(blobs, range(1, 5), [covariance_type], **options)
    theirs = fit_grid(
        blobs,
        range(1, 5),
        [covariance_type],
        estimator=SklearnGaussianMixture,
        **options,
    )
    assert_array_equal(ours.table["n_parameters"], theirs.table["n_parameters"])
    # The same EM from the same start in two implementations: rounding only,
    # carried through up to 500 iterations. Largest relative difference seen
    # across kernels/threads/blocks: 1.9e-15; bound 1e-6 (the chapter quotes it).
    for name in ["log_likelihood", "bic", "aic", "icl", "icl_entropy"]:
        assert_allclose(ours.table[name], theirs.table[name], rtol=1e-6, err_msg=name)
    for row in ours.table:
        model = theirs.models[int(row["n_components"]), covariance_type]
        assert_allclose(row["bic"], model.bic(blobs), rtol=1e-6)
        assert_allclose(row["aic"], model.aic(blobs), rtol=1e-6)


@pytest.mark.parametrize(
    "covariance_type, expected",
    [
        ("full", lambda k, d: k - 1 + k * d + k * d * (d + 1) // 2),
        ("tied", lambda k, d: k - 1 + k * d + d * (d + 1) // 2),
        ("diag", lambda k, d: k - 1 + k * d + k * d),
        ("spherical", lambda k, d: k - 1 + k * d + k),
    ],
)
def test_number_of_parameters(blobs, covariance_type, expected):
    grid = fit_grid(blobs, [1, 2, 4], [covariance_type], random_state=0)
    for row in grid.table:
        assert row["n_parameters"] == expected(int(row["n_components"]), 2)
        n = len(blobs)
        # The library's formula, in the same order: seen exactly equal on every
        # kernel/thread/block setting; 1e-14 allows a reordering of two terms.
        assert_allclose(
            row["bic"],
            -2 * row["log_likelihood"] + row["n_parameters"] * np.log(n),
            rtol=1e-14,
        )


def log_joint_by_scipy(model, X):
    """log(w_k N(x_n | mu_k, Sigma_k)), shape (n_samples, n_components), via scipy.stats."""
    n_components, n_features = model.means_.shape
    covariances = full_covariances(
        model.covariances_, model.covariance_type, n_components, n_features
    )
    return np.column_stack(
        [
            np.log(model.weights_[k])
            + multivariate_normal.logpdf(X, model.means_[k], covariances[k])
            for k in range(n_components)
        ]
    )


def test_icl_is_bic_of_the_likelihood_completed_by_map_labels(blobs, covariance_type):
    """Biernacki, Celeux and Govaert's ICL (mclust's icl()): -2 log L_c(z_MAP) + p log n."""
    grid = fit_grid(blobs, range(1, 6), [covariance_type], random_state=0)
    n = len(blobs)
    for row in grid.table:
        model = grid.models[int(row["n_components"]), covariance_type]
        log_joint = log_joint_by_scipy(model, blobs)
        map_labels = np.argmax(model.predict_proba(blobs), axis=1)
        completed = log_joint[np.arange(n), map_labels].sum()
        # Two routes (scipy's logpdf, gmmlib's Cholesky E-step) to the same sum
        # of 400 terms: rounding only. Largest relative difference seen across
        # kernels/threads/blocks: 6e-16; bound 1e-9.
        assert_allclose(
            row["icl"], -2 * completed + row["n_parameters"] * np.log(n), rtol=1e-9
        )
        # The same through predict_proba: ICL = BIC - 2 sum_n log max_k r_nk.
        # The difference ICL - BIC cancels BIC's ~3e3, so its relative error is
        # larger: seen up to 1.4e-13 across kernels/threads/blocks; bound 1e-9
        # (atol 1e-9 for K = 1, where the difference is exactly 0).
        resp = model.predict_proba(blobs)
        map_resp = resp[np.arange(n), map_labels]
        assert_allclose(
            row["icl"] - row["bic"], -2 * np.sum(np.log(map_resp)), rtol=1e-9, atol=1e-9
        )


def test_icl_entropy_is_bic_plus_twice_the_entropy(blobs, covariance_type):
    """McLachlan and Peel's ICL-BIC: -2 sum_nk r_nk log(w_k N_k(x_n)) + p log n."""
    grid = fit_grid(blobs, range(1, 6), [covariance_type], random_state=0)
    n = len(blobs)
    for row in grid.table:
        model = grid.models[int(row["n_components"]), covariance_type]
        resp = model.predict_proba(blobs)
        expected_completed = np.sum(resp * log_joint_by_scipy(model, blobs))
        # Bounds and reasons as in the MAP test above; largest relative
        # differences seen across kernels/threads/blocks: 6e-16 and 6e-14.
        assert_allclose(
            row["icl_entropy"],
            -2 * expected_completed + row["n_parameters"] * np.log(n),
            rtol=1e-9,
        )
        entropy = -np.sum(resp[resp > 0] * np.log(resp[resp > 0]))
        assert_allclose(
            row["icl_entropy"] - row["bic"], 2 * entropy, rtol=1e-9, atol=1e-9
        )


def test_bic_le_icl_le_icl_entropy(blobs):
    grid = fit_grid(blobs, range(1, 6), COVARIANCE_TYPES, random_state=0)
    table = grid.table
    assert np.all(table["bic"] <= table["icl"])
    assert np.all(table["icl"] <= table["icl_entropy"])
    # One component: every responsibility is exactly one, nothing is added.
    one = table[table["n_components"] == 1]
    assert_array_equal(one["icl"], one["bic"])
    assert_array_equal(one["icl_entropy"], one["bic"])
    # More components on overlapping clusters: strictly larger, in both steps.
    several = table[table["n_components"] > 1]
    assert np.all(several["icl"] > several["bic"])
    assert np.all(several["icl_entropy"] > several["icl"])


def test_icl_equals_bic_when_responsibilities_are_hard():
    """Clusters 1000 standard deviations apart: exp underflows, responsibilities are 0 or 1."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 1000.0])
    grid = fit_grid(X, [2], ["full", "spherical"], random_state=0)
    for row in grid.table:
        model = grid.models[2, str(row["covariance_type"])]
        assert set(np.unique(model.predict_proba(X))) == {0.0, 1.0}
        assert row["icl"] == row["bic"]
        assert row["icl_entropy"] == row["bic"]


def test_entropy_of_responsibilities():
    assert entropy(np.array([[1.0, 0.0], [0.0, 1.0]])) == 0.0
    assert_allclose(entropy(np.full((3, 4), 0.25)), 3 * np.log(4))


def test_map_classification_loss():
    assert map_classification_loss(np.array([[1.0, 0.0], [0.0, 1.0]])) == 0.0
    # Uniform responsibilities: the MAP cost equals the entropy.
    assert_allclose(map_classification_loss(np.full((3, 4), 0.25)), 3 * np.log(4))
    # Otherwise it is smaller: -log 0.5 against the entropy of (0.5, 0.3, 0.2).
    resp = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    assert_allclose(map_classification_loss(resp), -np.log(0.5) - np.log(0.8))
    assert map_classification_loss(resp) < entropy(resp)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bic_and_icl_pick_the_true_number_of_components(seed):
    """Three correlated clusters, means 8 apart (several standard deviations)."""
    covariances = [
        [[1.0, 0.6], [0.6, 1.0]],
        [[1.0, -0.5], [-0.5, 2.0]],
        [[2.0, 0.0], [0.0, 0.5]],
    ]
    X, _ = make_mixture(
        500, [0.3, 0.3, 0.4], [[0, 0], [8, 0], [0, 8]], covariances, random_state=seed
    )
    grid = fit_grid(X, range(1, 7), COVARIANCE_TYPES, random_state=0)
    for criterion in ["bic", "icl", "icl_entropy"]:
        best = grid.best(criterion)
        assert best["n_components"] == 3, (criterion, best)
        assert (
            grid.best_model(criterion) is grid.models[3, str(best["covariance_type"])]
        )
    choices = grid.choices()
    assert set(choices) == set(CRITERIA)
    assert choices["bic"][0] == choices["icl"][0] == choices["icl_entropy"][0] == 3
    assert choices["bic"] == (
        int(grid.best("bic")["n_components"]),
        str(grid.best("bic")["covariance_type"]),
    )
    ks, values = grid.curve("full", "bic")
    assert_array_equal(ks, np.arange(1, 7))
    assert ks[np.argmin(values)] == 3


def test_mclust_convention_is_minus_the_sklearn_one(blobs):
    model = SklearnGaussianMixture(3, random_state=0).fit(blobs)
    criteria = information_criteria(model, blobs)
    n = len(blobs)
    log_likelihood = model.score(blobs) * n
    p = criteria["n_parameters"]
    # Two orders of the same three terms: a few u. Seen exactly equal on
    # every kernel/thread/block setting; bound 1e-12.
    assert_allclose(
        mclust_bic(model.bic(blobs)), 2 * log_likelihood - p * np.log(n), rtol=1e-12
    )
    assert_allclose(mclust_bic(mclust_bic(criteria["bic"])), criteria["bic"])


@pytest.mark.parametrize("criterion", ["hqc", "ICL", "icl_map", "entropy"])
def test_unknown_criterion_is_a_clear_error(blobs, criterion):
    grid = fit_grid(blobs, [1], ["full"], random_state=0)
    message = f"criterion must be one of .*, got '{criterion}'"
    with pytest.raises(ValueError, match=message):
        grid.best(criterion)
    with pytest.raises(ValueError, match=message):
        grid.best_model(criterion)
    with pytest.raises(ValueError, match=message):
        grid.curve("full", criterion)


def test_curve_accepts_every_numeric_column(blobs):
    grid = fit_grid(blobs, [1, 2], ["full"], random_state=0)
    for name in CRITERIA + ("log_likelihood", "n_parameters"):
        ks, values = grid.curve("full", name)
        assert_array_equal(ks, [1, 2])
        assert_array_equal(values, grid.table[name])
