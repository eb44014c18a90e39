"""gmmlib.model_selection: the grid of BIC, AIC and ICL, checked against scikit-learn."""

import re
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import multivariate_normal
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from gmmlib import DegenerateStartWarning, GaussianMixture
from gmmlib.covariance import (
    COVARIANCE_TYPES,
    DEGENERATE_COVARIANCE_MESSAGE,
    full_covariances,
)
from gmmlib.datasets import make_blobs_mixture, make_mixture
from gmmlib.free_energy import entropy
from gmmlib.model_selection import (
    CRITERIA,
    DEFAULT_STARTS,
    REG_COVAR_FLOOR_FACTOR,
    degeneracy,
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
        starts=None,
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
    ours = fit_grid(blobs, range(1, 5), [covariance_type], starts=None, **options)
    theirs = fit_grid(
        blobs,
        range(1, 5),
        [covariance_type],
        estimator=SklearnGaussianMixture,
        starts=None,
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


# ------------------------------------------------- failed and degenerate cells
def two_clouds_and(extra):
    """Two unit clouds 8 apart (120 points) and a few extra points far above them."""
    rng = np.random.default_rng(0)
    clouds = np.vstack([rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) + [8, 0]])
    return np.vstack([clouds, extra])


@pytest.mark.parametrize("estimator", [GaussianMixture, SklearnGaussianMixture])
def test_a_failed_cell_is_recorded_and_the_grid_goes_on(estimator):
    """Five copies of one point, 30 away: k-means gives them a component of their
    own for K >= 2, whose covariance is zero without reg_covar; K = 1 fits.

    The copies are moved to the origin, where the mean scikit-learn computes,
    0 / (N_k + 10 eps), is exactly 0 and so is their covariance: elsewhere
    that mean is off by rounding, and whether the Cholesky factorisation of
    the resulting rank-one matrix of size 1e-30 fails depends on the BLAS
    kernel (gmmlib's rounding floor rejects it under every kernel).
    """
    X = two_clouds_and(np.tile([[4.0, 30.0]], (5, 1))) - [4.0, 30.0]
    grid = fit_grid(
        X,
        range(1, 4),
        ["full"],
        estimator=estimator,
        starts=None,
        reg_covar=0.0,
        random_state=0,
    )
    table = grid.table
    assert_array_equal(table["n_components"], [1, 2, 3])
    assert_array_equal(table["failed"], [False, True, True])
    assert not table["degenerate"].any()
    assert table["reason"][0] == ""
    for row in table[1:]:
        assert str(row["reason"]).startswith(DEGENERATE_COVARIANCE_MESSAGE)
        for name in CRITERIA + ("log_likelihood",):
            assert np.isnan(row[name]), name
    # The parameter count belongs to the model, not to the fit.
    assert_array_equal(table["n_parameters"], [5, 11, 17])
    assert set(grid.models) == {(1, "full")}
    assert grid.choices() == {criterion: (1, "full") for criterion in CRITERIA}
    assert grid.best_model() is grid.models[1, "full"]
    _, bic = grid.curve("full")
    assert_array_equal(np.isnan(bic), [False, True, True])
    text = repr(grid)
    assert text.count("failed: Fitting the mixture model failed") == 2


def test_a_failed_start_among_several_is_not_a_failed_cell():
    """The cell keeps the best of the starts that succeeded (see test_degenerate_data)."""
    X = two_clouds_and(np.tile([[4.0, 1.0]], (4, 1)))
    with pytest.warns(DegenerateStartWarning, match="Initialization 2 of 3"):
        grid = fit_grid(
            X, [3], ["full"], starts=None, reg_covar=0.0, n_init=3, random_state=7
        )
    assert not grid.table["failed"][0]


def test_other_errors_are_raised_not_recorded(blobs):
    """An invalid parameter would fail every cell: it is an error in the call."""
    with pytest.raises(ValueError, match="reg_covar"):
        fit_grid(blobs, [1, 2], ["full"], reg_covar=-1.0)


def test_degenerate_cells_are_flagged_and_skipped_unless_asked():
    """Two points far from the clouds: from K = 3 on, k-means gives them a component
    (two effective points, fewer than d + 1 = 3); for 'full' its covariance is
    rank one plus reg_covar, so its smallest eigenvalue is reg_covar itself."""
    X = two_clouds_and([[4.0, 30.0], [5.0, 31.0]])
    grid = fit_grid(X, range(1, 5), ["full", "diag"], starts=None, random_state=0)
    table = grid.table
    assert not table["failed"].any()
    assert_array_equal(table["degenerate"], table["n_components"] >= 3)
    few_points = r"component \d holds 2 effective points, fewer than d \+ 1 = 3"
    at_floor = (
        r"component \d's covariance has smallest eigenvalue 1e-06, at most "
        r"10 \* reg_covar = 1e-05"
    )
    for row in table[table["degenerate"]]:
        assert re.search(few_points, str(row["reason"]))
        # A diagonal covariance of two points is not singular: only 'full' is
        # at the floor.
        assert bool(re.search(at_floor, str(row["reason"]))) == (
            row["covariance_type"] == "full"
        )
    assert set(table["reason"][~table["degenerate"]]) == {""}
    # The spike on two points has the best BIC of all; it is skipped unless
    # asked for. BICs: 924 (K = 3, degenerate), 1114 (K = 2 full), 1120 (K = 2
    # diag): gaps of hundreds and of 6.6, far beyond any rounding.
    sound = {criterion: (2, "full") for criterion in CRITERIA}
    assert grid.choices() == sound
    assert grid.choices(include_degenerate=True) == {
        criterion: (3, "full") for criterion in CRITERIA
    }
    assert grid.best_model() is grid.models[2, "full"]
    assert grid.best_model(include_degenerate=True) is grid.models[3, "full"]
    assert int(grid.best("bic", include_degenerate=True)["n_components"]) == 3
    assert repr(grid).count("degenerate: component") == 4


def test_no_cell_to_choose_is_a_clear_error():
    X = two_clouds_and([[4.0, 30.0], [5.0, 31.0]])
    grid = fit_grid(X, [3], ["full"], starts=None, random_state=0)
    with pytest.raises(ValueError, match="pass include_degenerate=True"):
        grid.best()
    assert grid.best(include_degenerate=True)["n_components"] == 3
    failed = fit_grid(
        X,
        [3],
        ["full"],
        starts=None,
        reg_covar=0.0,
        init_params="random_from_data",
        random_state=0,
    )
    with pytest.raises(ValueError, match="every fit failed.$"):
        failed.choices(include_degenerate=True)


def fitted(weights, covariances, covariance_type, reg_covar=1e-6):
    """What degeneracy reads from a fitted mixture, and nothing else."""
    weights = np.asarray(weights, dtype=np.float64)
    return SimpleNamespace(
        weights_=weights,
        means_=np.zeros((len(weights), 2)),
        covariances_=np.asarray(covariances, dtype=np.float64),
        covariance_type=covariance_type,
        reg_covar=reg_covar,
    )


def test_degeneracy_thresholds_are_inclusive_at_the_floor():
    """N_k < d + 1 and lambda_min <= 10 reg_covar, checked at their boundaries.

    The counts are exact binary fractions of n = 128, and the diagonal
    covariances are their own eigenvalues, so no rounding moves a boundary.
    """
    n = 128
    floor = REG_COVAR_FLOOR_FACTOR * 1e-6
    sound = [[1.0, 1.0], [1.0, 1.0]]
    assert degeneracy(fitted([3 / n, 125 / n], sound, "diag"), n) == ""
    reason = degeneracy(fitted([2.5 / n, 125.5 / n], sound, "diag"), n)
    assert reason == "component 0 holds 2.5 effective points, fewer than d + 1 = 3"
    assert (
        degeneracy(fitted([0.5, 0.5], [[1.0, 1.01 * floor], sound[1]], "diag"), n) == ""
    )
    reason = degeneracy(fitted([0.5, 0.5], [sound[0], [floor, 1.0]], "diag"), n)
    assert reason == (
        "component 1's covariance has smallest eigenvalue 1e-05, at most "
        "10 * reg_covar = 1e-05"
    )
    tied = degeneracy(fitted([0.5, 0.5], np.diag([1.0, floor]), "tied"), n)
    assert tied.startswith("the shared covariance has smallest eigenvalue")
    spherical = degeneracy(fitted([0.5, 0.5], [floor, 1.0], "spherical"), n)
    assert spherical.startswith("component 0's covariance")
    # Without regularisation only the count can flag a fit.
    tiny = fitted([0.5, 0.5], [1e-12, 1.0], "spherical", reg_covar=0.0)
    assert degeneracy(tiny, n) == ""


# ------------------------------------------------------ the starts of a cell
def given_start(means):
    """A start fixed in full (weights, means, unit precisions): no draws."""
    n_components, n_features = np.shape(means)
    return dict(
        weights_init=np.full(n_components, 1.0 / n_components),
        means_init=np.asarray(means, dtype=np.float64),
        precisions_init=np.tile(np.eye(n_features), (n_components, 1, 1)),
    )


def three_clouds_and_a_pair():
    """Three unit clouds (180 points) and two points 23 above the top one."""
    rng = np.random.default_rng(0)
    clouds = [rng.normal(size=(60, 2)) + centre for centre in ([0, 0], [8, 0], [4, 7])]
    return np.vstack(clouds + [[[4.0, 30.0], [5.0, 31.0]]])


#: Starts on three_clouds_and_a_pair(). K = 3: 'spike' merges two clouds and
#: puts a component on the pair (degenerate: two points, a rank-one
#: covariance; mean log-likelihood -4.34), 'sound' has one component per cloud
#: (-4.40). K = 4, both degenerate: 'pair' has the clouds and the pair
#: (-3.89), 'singles' merges two clouds and gives each far point a component
#: (-4.27).
STARTS = {
    "spike": given_start([[0, 0], [6, 3.5], [4.5, 30.5]]),
    "sound": given_start([[0, 0], [8, 0], [4, 7]]),
    "pair": given_start([[0, 0], [8, 0], [4, 7], [4.5, 30.5]]),
    "singles": given_start([[0, 0], [6, 3.5], [4, 30], [5, 31]]),
}


def fit_alone(X, n_components, start, **options):
    """The fit of one start of a cell, outside the grid."""
    return GaussianMixture(n_components, **options, **start).fit(X)


def assert_row_is_the_fit(grid, X, fit):
    """The grid's row and model are those of ``fit``, made outside the grid."""
    (row,) = grid.table
    model = grid.models[int(row["n_components"]), str(row["covariance_type"])]
    # The same EM from the same start, run twice in one process: rounding
    # could differ only in the order of threaded block sums (n u = 4e-14
    # relative for n = 182). Seen exactly equal; bound 1e-12.
    for name in ("weights_", "means_", "covariances_"):
        assert_allclose(getattr(model, name), getattr(fit, name), rtol=1e-12)
    assert_allclose(model.lower_bound_, fit.lower_bound_, rtol=1e-12)
    criteria = information_criteria(fit, X)
    for name in ("log_likelihood",) + CRITERIA:
        assert_allclose(row[name], criteria[name], rtol=1e-12, err_msg=name)
    assert bool(row["degenerate"]) == bool(degeneracy(fit, len(X)))


@pytest.mark.parametrize(
    "order, kept",
    [(("spike", "sound"), 1), (("sound", "spike"), 0)],
    ids=["spike-first", "sound-first"],
)
def test_a_cell_keeps_its_best_sound_start(order, kept):
    X = three_clouds_and_a_pair()
    options = dict(tol=1e-6, max_iter=1000)
    fits = {name: fit_alone(X, 3, STARTS[name], **options) for name in order}
    # The case is what it claims: the spike's bound is higher, by far more
    # than rounding (0.06 per sample), and only the spike is degenerate.
    assert fits["spike"].lower_bound_ > fits["sound"].lower_bound_ + 0.01
    assert degeneracy(fits["spike"], len(X)) and not degeneracy(fits["sound"], len(X))
    grid = fit_grid(
        X, [3], ["full"], starts=[STARTS[name] for name in order], **options
    )
    assert grid.table["start"][0] == kept
    assert not grid.table["degenerate"][0]
    assert_row_is_the_fit(grid, X, fits["sound"])


@pytest.mark.parametrize(
    "order, kept",
    [(("singles", "pair"), 1), (("pair", "singles"), 0)],
    ids=["singles-first", "pair-first"],
)
def test_when_every_start_is_degenerate_the_highest_is_kept(order, kept):
    X = three_clouds_and_a_pair()
    options = dict(tol=1e-6, max_iter=1000)
    fits = {name: fit_alone(X, 4, STARTS[name], **options) for name in order}
    assert all(degeneracy(fit, len(X)) for fit in fits.values())
    # -3.89 against -4.27 per sample: far beyond rounding.
    assert fits["pair"].lower_bound_ > fits["singles"].lower_bound_ + 0.1
    grid = fit_grid(
        X, [4], ["full"], starts=[STARTS[name] for name in order], **options
    )
    assert grid.table["start"][0] == kept
    assert grid.table["degenerate"][0] and not grid.table["failed"][0]
    assert_row_is_the_fit(grid, X, fits["pair"])


def test_equal_starts_tie_and_the_first_is_kept():
    X = three_clouds_and_a_pair()
    grid = fit_grid(X, [3], ["full"], starts=[STARTS["sound"]] * 3)
    assert grid.table["start"][0] == 0


def test_the_default_starts_keep_the_best_sound_fit(blobs):
    """Each cell keeps the fit of the start its ``start`` field names, and no
    other default start found a sound fit with a higher bound.

    K = 2: both starts reach the same maximum; K = 4: k-means's bound is 3e-3
    higher, so it must be kept. (A higher degenerate fit is skipped in
    test_a_cell_keeps_its_best_sound_start.)
    """
    calls, built = [], []
    grid = fit_grid(
        blobs,
        [2, 4],
        ["full"],
        estimator=recording(calls, built),
        random_state=0,
    )
    fits = {}
    for options, model in zip(calls, built, strict=True):
        fits.setdefault(options["n_components"], []).append(model)
    for row in grid.table:
        k = int(row["n_components"])
        assert len(fits[k]) == len(DEFAULT_STARTS)
        kept = fits[k][int(row["start"])]
        assert grid.models[k, "full"] is kept
        assert not degeneracy(kept, len(blobs))
        # The same computation on the same model: seen exactly equal.
        assert_allclose(
            row["log_likelihood"],
            information_criteria(kept, blobs)["log_likelihood"],
            rtol=1e-12,
        )
        # Two starts that reach the same maximum tie up to where Aitken's
        # stop at 1e-6 left each (within ~1e-6 of it): either may be kept, so
        # only a sound bound higher by more than that would be an error.
        # Largest excess seen across kernels/threads/blocks: 0, the kept fit
        # was always the highest sound one; bound 1e-5.
        for fit in fits[k]:
            if not degeneracy(fit, len(blobs)):
                assert fit.lower_bound_ <= kept.lower_bound_ + 1e-5
    # K = 4 is what the docstring says.
    hierarchical, kmeans = fits[4]
    assert kmeans.lower_bound_ > hierarchical.lower_bound_ + 1e-3
    assert grid.table["start"][1] == 1


def recording(calls, built=None):
    """An estimator factory that records the options of every fit (and the
    estimators it built, in ``built`` when given)."""

    def estimator(**options):
        calls.append(options)
        model = GaussianMixture(**options)
        if built is not None:
            built.append(model)
        return model

    return estimator


def test_the_default_starts_get_the_default_grid_options(blobs):
    calls = []
    grid = fit_grid(blobs, [2], ["full"], estimator=recording(calls), random_state=0)
    cell = dict(n_components=2, covariance_type="full", random_state=0)
    assert calls == [
        dict(
            cell, tol=1e-6, stopping="aitken", max_iter=1000, init_params="hierarchical"
        ),
        dict(
            cell,
            tol=1e-6,
            stopping="aitken",
            max_iter=1000,
            init_params="kmeans",
            n_init=5,
        ),
    ]
    model = grid.models[2, "full"]
    assert (model.tol, model.stopping, model.max_iter) == (1e-6, "aitken", 1000)


def test_options_override_the_default_grid_options(blobs):
    calls = []
    grid = fit_grid(
        blobs,
        [2],
        ["full"],
        estimator=recording(calls),
        tol=1e-3,
        stopping="change",
        random_state=0,
    )
    assert [(c["tol"], c["stopping"], c["max_iter"]) for c in calls] == [
        (1e-3, "change", 1000)
    ] * len(DEFAULT_STARTS)
    assert grid.models[2, "full"].tol == 1e-3


@pytest.mark.parametrize(
    "starts, expected",
    [
        (None, [{}]),
        ([{"init_params": "random"}], [{"init_params": "random"}]),
    ],
    ids=["none", "given"],
)
def test_other_starts_get_the_options_alone(blobs, starts, expected):
    """No default grid option is added unless starts='default'."""
    calls = []
    fit_grid(
        blobs, [2], ["full"], estimator=recording(calls), starts=starts, random_state=0
    )
    cell = dict(n_components=2, covariance_type="full", random_state=0)
    assert calls == [dict(cell, **start) for start in expected]


@pytest.mark.parametrize(
    "starts, options, keys",
    [
        ("default", dict(init_params="kmeans"), r"\['init_params'\]"),
        ("default", dict(n_init=3, init_params="random"), r"\['init_params'\]"),
        (
            [{"n_init": 2, "tol": 1e-4}],
            dict(tol=1e-5, n_init=1),
            r"\['n_init', 'tol'\]",
        ),
    ],
    ids=["default-init-params", "default-first-conflict", "given-two-keys"],
)
def test_an_option_given_twice_is_a_clear_error(blobs, starts, options, keys):
    with pytest.raises(ValueError, match=keys + r" given both in the options and in"):
        fit_grid(blobs, [1], ["full"], starts=starts, **options)
    with pytest.raises(ValueError, match="pass starts=None"):
        fit_grid(blobs, [1], ["full"], starts=starts, **options)


def test_an_option_of_the_default_grid_is_not_a_conflict(blobs):
    """tol, stopping and max_iter are options of the grid, not of a start."""
    grid = fit_grid(blobs, [1], ["full"], tol=1e-4, max_iter=50, random_state=0)
    assert grid.models[1, "full"].max_iter == 50


def test_scikit_learns_estimator_fits_the_grid_with_starts_none(blobs):
    grid = fit_grid(blobs, [2], ["full"], estimator=SklearnGaussianMixture, starts=None)
    assert grid.table["start"][0] == 0
    assert not grid.table["failed"][0]


def test_the_default_grid_with_scikit_learns_estimator_says_what_to_do(blobs):
    """scikit-learn has no 'hierarchical' start (nor the Aitken stop): the error
    should say that the default starts need gmmlib's estimator, and that
    starts=None fits each cell once with the options given."""
    with pytest.raises((TypeError, ValueError), match="starts=None"):
        fit_grid(blobs, [2], ["full"], estimator=SklearnGaussianMixture)


def test_a_cell_where_every_start_fails_is_failed_with_the_last_error():
    """Five copies of one point and reg_covar=0: a component started on the
    copies collapses (as in test_a_failed_cell_is_recorded_and_the_grid_goes_on).
    Only the n_init=2 start's error ends with 'All 2 initializations failed.'."""
    X = two_clouds_and(np.tile([[4.0, 30.0]], (5, 1))) - [4.0, 30.0]
    collapsing = given_start([[-4.0, -30.0], [0.0, 0.0]])
    sound = given_start([[-4.0, -30.0], [4.0, -30.0]])
    for starts, ending in [
        ([collapsing, dict(collapsing, n_init=2)], "All 2 initializations failed."),
        ([dict(collapsing, n_init=2), collapsing], "working precision."),
    ]:
        grid = fit_grid(X, [2], ["full"], starts=starts, reg_covar=0.0)
        (row,) = grid.table
        assert row["failed"] and not row["degenerate"]
        assert row["start"] == -1
        assert str(row["reason"]).startswith(DEGENERATE_COVARIANCE_MESSAGE)
        assert str(row["reason"]).endswith(ending)
        assert grid.models == {}
    # A failed start beside a sound one: left out, the sound one is kept.
    grid = fit_grid(
        X, [2], ["full"], starts=[collapsing, sound, collapsing], reg_covar=0.0
    )
    (row,) = grid.table
    assert not row["failed"] and row["start"] == 1 and row["reason"] == ""


def test_only_the_kept_fits_warnings_are_passed_on(blobs):
    """A start stopped after one iteration warns that it did not converge; it
    loses to a converged start and its warning is dropped. Kept alone, its
    warning is passed on."""
    stopped = dict(init_params="random", max_iter=1, tol=0.0)
    converged = dict(init_params="kmeans", max_iter=500, tol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning passed on fails the test
        grid = fit_grid(
            blobs, [3], ["full"], starts=[stopped, converged], random_state=0
        )
    assert grid.table["start"][0] == 1
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit_grid(blobs, [3], ["full"], starts=[stopped], random_state=0)
