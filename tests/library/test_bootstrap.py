"""Bootstrap standard errors and the bootstrap likelihood-ratio test (gmmlib.bootstrap)."""

import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from gmmlib import GaussianMixture
from gmmlib.bootstrap import (
    BootstrapLRT,
    BootstrapStandardErrors,
    bootstrap_lrt,
    bootstrap_standard_errors,
)
from gmmlib.datasets import make_mixture

# A well-separated two-component mixture in two dimensions (means 6 apart,
# covariances of size ~1): EM from the true parameters never swaps labels.
WEIGHTS = np.array([0.4, 0.6])
MEANS = np.array([[0.0, 0.0], [6.0, 0.0]])
COVARIANCES = np.array([[[1.0, 0.3], [0.3, 1.0]], [[1.5, -0.4], [-0.4, 0.8]]])
N_SAMPLES = 2000
N_BOOTSTRAP = 200
N_REFERENCE = 400


def fit_from_truth(X, covariance_type="full"):
    return GaussianMixture(
        2,
        covariance_type=covariance_type,
        weights_init=WEIGHTS,
        means_init=MEANS,
        precisions_init=np.linalg.inv(COVARIANCES),
        tol=1e-8,
        max_iter=1000,
    ).fit(X)


@pytest.fixture(scope="module")
def separated():
    """(X, fitted model) for one sample of the well-separated mixture."""
    X, _ = make_mixture(N_SAMPLES, WEIGHTS, MEANS, COVARIANCES, random_state=0)
    return X, fit_from_truth(X)


@pytest.fixture(scope="module")
def monte_carlo_standard_deviations():
    """SD of the estimates over N_REFERENCE independent samples of the true mixture.

    The quantity the bootstrap estimates, computed without resampling: an
    independent reference. Its own relative error is ~1/sqrt(2 (M - 1)) = 3.5%.
    """
    fits = [
        fit_from_truth(
            make_mixture(N_SAMPLES, WEIGHTS, MEANS, COVARIANCES, random_state=1000 + i)[
                0
            ]
        )
        for i in range(N_REFERENCE)
    ]
    return {
        name: np.std([getattr(fit, name + "_") for fit in fits], axis=0, ddof=1)
        for name in ("weights", "means", "covariances")
    }


# Bounds on |log(bootstrap SE / Monte Carlo SD)|, entry by entry. Three
# independent relative errors add in quadrature: the bootstrap's Monte Carlo
# error 1/sqrt(2 (B - 1)) = 0.050 (B = 200); the reference's 1/sqrt(2 (M - 1))
# = 0.035 (M = 400); and the bootstrap SE's dependence on the one sample it
# resamples. Over 20 independent samples (n = 2000, B = 200) the log ratio
# against a reference from 2000 samples spread by at most 0.067 (weights and
# means) and 0.091 (covariances, whose SEs depend on fourth moments), both
# kinds of bootstrap. With the reference's error: 0.076 and 0.097. Bounds at
# four of those standard deviations, for 14 entries in each of two tests.
LOG_RATIO_BOUNDS = dict(weights=0.30, means=0.30, covariances=0.40)


@pytest.mark.parametrize("kind", ["nonparametric", "parametric"])
def test_standard_errors_match_monte_carlo(
    separated, monte_carlo_standard_deviations, kind
):
    X, model = separated
    result = bootstrap_standard_errors(model, X, N_BOOTSTRAP, kind=kind, random_state=1)
    assert result.n_replicates == N_BOOTSTRAP and result.n_failed == 0
    for name, bound in LOG_RATIO_BOUNDS.items():
        log_ratio = np.log(
            result.standard_errors[name] / monte_carlo_standard_deviations[name]
        )
        assert np.all(np.abs(log_ratio) < bound), (name, log_ratio)


@pytest.mark.parametrize("kind", ["nonparametric", "parametric"])
def test_standard_errors_match_louis(separated, kind):
    """Bootstrap against Louis' observed-information SEs on the same sample.

    Both estimate the SD of the same estimates from one sample; they differ
    by the bootstrap's Monte Carlo error (0.050 at B = 200) and by how each
    reads the sample (the nonparametric bootstrap uses its fourth moments,
    Louis the model's). Over 20 samples (n = 2000, B = 200) the log ratio
    spread by at most 0.062 (weights and means) and 0.083 (covariances), with
    means within 0.021 of 0: LOG_RATIO_BOUNDS are 4.8 of those SDs.
    """
    information = pytest.importorskip("gmmlib.information")
    X, model = separated
    louis = information.louis_standard_errors(model, X)
    result = bootstrap_standard_errors(model, X, N_BOOTSTRAP, kind=kind, random_state=1)
    for name, bound in LOG_RATIO_BOUNDS.items():
        log_ratio = np.log(result.standard_errors[name] / louis[name])
        assert np.all(np.abs(log_ratio) < bound), (name, log_ratio)


def test_result_shapes_follow_the_fitted_attributes(covariance_type):
    X, _ = make_mixture(300, WEIGHTS, MEANS, COVARIANCES, random_state=2)
    model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    result = bootstrap_standard_errors(model, X, 5, random_state=0)
    assert isinstance(result, BootstrapStandardErrors)
    assert result.kind == "nonparametric" and result.n_replicates == 5
    for name in ("weights", "means", "covariances"):
        shape = getattr(model, name + "_").shape
        assert result.standard_errors[name].shape == shape
        assert result.replicates[name].shape == (5, *shape)
        assert np.all(result.standard_errors[name] >= 0)
    # Weights sum to one in every replicate, so their deviations cancel.
    assert np.allclose(result.replicates["weights"].sum(axis=1), 1.0)


def test_replicates_start_from_the_fit_and_keep_its_labels(separated):
    X, model = separated
    result = bootstrap_standard_errors(model, X, 10, kind="parametric", random_state=0)
    # Means 6 apart with SEs ~0.04: every replicate's component k stays
    # within 1 of the fit's component k (a swap would move it by 6).
    assert np.all(np.abs(result.replicates["means"] - model.means_) < 1.0)


def test_same_seed_same_replicates(separated):
    X, model = separated
    first = bootstrap_standard_errors(model, X, 4, random_state=3)
    again = bootstrap_standard_errors(model, X, 4, random_state=3)
    other = bootstrap_standard_errors(model, X, 4, random_state=4)
    for name in first.replicates:
        np.testing.assert_array_equal(first.replicates[name], again.replicates[name])
    assert not np.array_equal(first.replicates["means"], other.replicates["means"])


def test_scikit_learn_model_is_accepted(separated):
    from sklearn.mixture import GaussianMixture as SklearnMixture

    X, _ = separated
    model = SklearnMixture(2, random_state=0).fit(X)
    result = bootstrap_standard_errors(model, X, 3, random_state=0)
    assert result.standard_errors["covariances"].shape == (2, 2, 2)


# ---------------------------------------------------------- failing replicates
def tiny_cluster():
    """60 points and a far cluster of 4: resamples often hold <= 2 of them."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.standard_normal((60, 2)), 20 + rng.standard_normal((4, 2))])
    # reg_covar=0: a component on <= 2 distinct points in 2-D is singular.
    return X, GaussianMixture(2, reg_covar=0.0, random_state=0).fit(X)


def test_failed_replicates_are_skipped_with_a_warning():
    X, model = tiny_cluster()
    with pytest.warns(UserWarning, match=r"of 20 bootstrap replicates were left out"):
        result = bootstrap_standard_errors(
            model, X, 20, random_state=0, max_failed_fraction=1.0
        )
    assert result.n_failed > 0
    assert result.n_failed + result.n_replicates == 20
    assert np.all(np.isfinite(result.standard_errors["covariances"]))


def test_too_many_failed_replicates_is_an_error():
    X, model = tiny_cluster()
    with pytest.raises(RuntimeError, match="max_failed_fraction=0.1"):
        bootstrap_standard_errors(model, X, 20, random_state=0)


def test_replicates_that_stop_at_max_iter_are_counted(separated):
    X, _ = separated
    model = GaussianMixture(2, max_iter=1, tol=0.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    with pytest.warns(ConvergenceWarning, match="3 of 3 bootstrap fits"):
        result = bootstrap_standard_errors(model, X, 3, random_state=0)
    assert result.n_not_converged == 3


# ------------------------------------------------------------------ progress
def test_progress_bar_counts_the_replicates(separated, capsys):
    X, model = separated
    bootstrap_standard_errors(model, X, 3, random_state=0, progress=True)
    assert "3/3" in capsys.readouterr().err


def test_progress_without_tqdm_says_what_to_install(separated, monkeypatch):
    X, model = separated
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now fails
    with pytest.raises(ImportError, match="pip install tqdm"):
        bootstrap_standard_errors(model, X, 3, random_state=0, progress=True)


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "options, error, match",
    [
        (dict(kind="jackknife"), ValueError, "kind must be one of"),
        (dict(n_bootstrap=1), ValueError, "n_bootstrap must be an integer >= 2"),
        (dict(n_bootstrap=2.5), ValueError, "n_bootstrap must be an integer"),
        (dict(sample_weight=np.ones(2000)), ValueError, "sample_weight is not"),
        (dict(max_failed_fraction=1.5), ValueError, "max_failed_fraction must"),
    ],
)
def test_bad_options(separated, options, error, match):
    X, model = separated
    with pytest.raises(error, match=match):
        bootstrap_standard_errors(model, X, **({"n_bootstrap": 3} | options))


def test_bad_models_and_data(separated):
    from sklearn.exceptions import NotFittedError

    X, model = separated
    with pytest.raises(NotFittedError):
        bootstrap_standard_errors(GaussianMixture(2), X, 3)
    with pytest.raises(ValueError, match="X has 3 features"):
        bootstrap_standard_errors(model, np.ones((10, 3)), 3)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_standard_errors(model, bad, 3)


# ----------------------------------------------------------- bootstrap LRT
# Cheap fits for the simulations: gmmlib's own k-means++ seeding (sklearn's
# KMeans costs ~20 ms a start), two starts, the change rule (the Aitken rule
# can stop after the first large steps from a k-means++ start). The p-values
# are uniform under the null for any fitting procedure that treats observed
# and simulated data alike; the defaults only find better maxima.
CHEAP = dict(init_params="k-means++", stopping="change", n_init=2)


def test_lrt_p_values_are_uniform_under_the_null():
    """80 one-Gaussian samples, K = 1 against 2, B = 4 each.

    The statistic of a Gaussian sample is invariant under x -> a x + b (EM and
    its random start are equivariant, the tolerance is on a difference of log
    likelihoods), so its null distribution does not depend on the parameters
    and the observed statistic is exchangeable with the B simulated ones: the
    p-value (1 + #{T_b >= T}) / 5 is exactly uniform on {0.2, 0.4, ..., 1}.
    Two checks, each at four binomial standard errors over 80 data sets:
    P(p <= 0.2) = 0.2, SE sqrt(0.2 * 0.8 / 80) = 0.045, so within 0.18; and
    the mean p-value 0.6, SE 0.283 / sqrt(80) = 0.032, so within 0.13.
    (20 data sets with B = 19 fit as many models for a binomial SE of 0.089.)
    """
    rng = np.random.default_rng(0)
    p_values = np.array(
        [
            bootstrap_lrt(
                rng.normal(3.0, 2.0, size=(40, 1)),
                1,
                n_bootstrap=4,
                random_state=seed,
                **CHEAP,
            ).p_value
            for seed in range(80)
        ]
    )
    assert set(np.round(p_values * 5)) <= {1, 2, 3, 4, 5}
    assert abs(np.mean(p_values <= 0.2 + 1e-12) - 0.2) < 0.18
    assert abs(p_values.mean() - 0.6) < 0.13


# A null replicate's two-component fit may creep on to max_iter=1000: fitted
# to one Gaussian, two components merge at a rate close to 1. It is kept.
@pytest.mark.filterwarnings("ignore:.*bootstrap fits stopped at max_iter")
def test_lrt_p_value_is_small_for_a_clear_second_cluster():
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(-3, 1, 30), rng.normal(3, 1, 30)])[:, None]
    test = bootstrap_lrt(X, 1, n_bootstrap=9, random_state=0)  # the defaults
    # Clusters 6 SDs apart: T is ~70, while a second component fitted to one
    # Gaussian gains 2 log L of a few units; no replicate reaches T, and
    # p = 1 / (B + 1). Bound: at most one replicate at or above T.
    assert test.statistic > 20
    assert test.p_value <= 2 / 10
    assert test.n_failed == 0


def test_lrt_result_and_reproducibility():
    X, _ = make_mixture(60, WEIGHTS, MEANS, COVARIANCES, random_state=5)
    settings = dict(covariance_type="diag", n_bootstrap=3, random_state=7, **CHEAP)
    test = bootstrap_lrt(X, 2, **settings)
    assert isinstance(test, BootstrapLRT)
    assert test.n_components == 2 and test.bootstrap_statistics.shape == (3,)
    assert test.null_model.n_components == 2
    assert test.alternative_model.n_components == 3
    assert test.alternative_model.covariance_type == "diag"
    observed = 2 * len(X) * (test.alternative_model.score(X) - test.null_model.score(X))
    assert test.statistic == observed
    p_value = (1 + np.sum(test.bootstrap_statistics >= test.statistic)) / 4
    assert test.p_value == p_value
    again = bootstrap_lrt(X, 2, **settings)
    assert again.statistic == test.statistic
    np.testing.assert_array_equal(again.bootstrap_statistics, test.bootstrap_statistics)


def test_lrt_progress_bar(capsys):
    X = np.random.default_rng(2).normal(size=(30, 1))
    bootstrap_lrt(X, 1, n_bootstrap=2, random_state=0, progress=True, **CHEAP)
    assert "2/2" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, options, error, match",
    [
        ((0,), {}, ValueError, "n_components must be an integer >= 1"),
        ((1,), dict(n_bootstrap=0), ValueError, "n_bootstrap must be an integer"),
        ((1,), dict(sample_weight=np.ones(30)), ValueError, "sample_weight is not"),
        ((1,), dict(max_failed_fraction=-0.1), ValueError, "max_failed_fraction"),
        ((1,), dict(covariance_type="banded"), ValueError, "covariance_type"),
    ],
)
def test_lrt_bad_input(args, options, error, match):
    X = np.random.default_rng(3).normal(size=(30, 1))
    with pytest.raises(error, match=match):
        bootstrap_lrt(X, *args, n_bootstrap=options.pop("n_bootstrap", 2), **options)
