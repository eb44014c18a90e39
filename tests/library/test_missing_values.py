"""EM with missing values (gmmlib.missing_values and GaussianMixture(missing_values=...))."""

import numpy as np
import pytest
from bounds import assert_not_less
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from gmmlib import GaussianMixture
from gmmlib.covariance import COVARIANCE_TYPES, full_covariances
from gmmlib.datasets import make_blobs_mixture, make_mixture, remove_at_random
from gmmlib.em_steps import (
    MixtureParameters,
    e_step,
    estimate_log_prob_resp,
    parameters_from_model,
)
from gmmlib.missing_values import (
    e_step_missing,
    estimate_log_prob_resp_missing,
    fill_with_column_means,
    impute_conditional_means,
    missingness_patterns,
)

#: Log-densities (size ~10) by gmmlib and by scipy.stats on the observed
#: coordinates, and their sums over n <= 900 samples: ~100 u per value (terms up
#: to ~100), at most ~n u = 1e-13 relative for a sum. Largest seen 3.3e-15.
LOG_DENSITY_RTOL = 1e-10
#: Responsibilities from those log-densities: exp of differences, ~100 u
#: relative each (largest seen 9.3e-13, for small ones). Tiny ones underflow
#: alike in both (atol 1e-300).
RESP_RTOL = 1e-9

# A three-component mixture in three dimensions with strongly correlated
# coordinates, so that observed coordinates say a lot about missing ones.
TRUE_WEIGHTS = np.array([0.3, 0.3, 0.4])
TRUE_MEANS = np.array([[0.0, 0.0, 0.0], [4.0, 4.0, 0.0], [0.0, 4.0, 4.0]])


def _equicorrelated(correlation, variance):
    matrix = np.full((3, 3), correlation)
    np.fill_diagonal(matrix, 1.0)
    return variance * matrix


TRUE_COVARIANCES = np.array(
    [_equicorrelated(0.8, 1.0), _equicorrelated(-0.4, 1.5), _equicorrelated(0.6, 0.8)]
)


def fitted_params(X, n_components, covariance_type, seed=0):
    """Parameters of a short ordinary EM fit: a realistic point to test an E-step at."""
    model = GaussianMixture(
        n_components,
        covariance_type=covariance_type,
        max_iter=5,
        tol=0.0,
        random_state=seed,
    )
    with pytest.warns(Warning):
        model.fit(X)
    return parameters_from_model(model)


def errors_to_truth(model):
    """Root summed squared errors of means and covariances, components matched to the truth."""
    cost = ((model.means_[:, None] - TRUE_MEANS[None]) ** 2).sum(axis=2)
    rows, columns = linear_sum_assignment(cost)
    order = rows[np.argsort(columns)]
    mean_error = np.sqrt(((model.means_[order] - TRUE_MEANS) ** 2).sum())
    covariance_error = np.sqrt(
        ((model.covariances_[order] - TRUE_COVARIANCES) ** 2).sum()
    )
    return mean_error, covariance_error


# ------------------------------------------------------------------ building blocks
def test_missingness_patterns_partition_the_rows():
    X = remove_at_random(
        make_blobs_mixture(300, n_features=4, random_state=0)[0], 0.3, random_state=1
    )
    patterns = missingness_patterns(X)
    all_rows = np.sort(np.concatenate(patterns.rows))
    assert_array_equal(all_rows, np.arange(len(X)))
    assert len(np.unique(patterns.observed, axis=0)) == len(patterns.observed)
    for observed, rows in zip(patterns.observed, patterns.rows, strict=True):
        assert_array_equal(
            ~np.isnan(X[rows]), np.broadcast_to(observed, (len(rows), 4))
        )


def test_remove_at_random_keeps_a_value_in_every_row():
    X = make_blobs_mixture(2000, n_features=3, random_state=0)[0]
    X_missing = remove_at_random(X, 0.5, random_state=0)
    missing = np.isnan(X_missing)
    assert not missing.all(axis=1).any()
    assert_array_equal(X_missing[~missing], X[~missing])
    # Each entry is hidden with probability 0.5, minus the rows given a value back:
    # P(hidden) = 0.5 - P(all three hidden) / 3 = 0.5 - 0.125 / 3. Over 6000
    # entries the fraction's standard error is sqrt(p (1 - p) / 6000) = 0.0064:
    # 0.02 is 3.1 of them (this seed is 0.0033 off).
    assert abs(missing.mean() - (0.5 - 0.125 / 3)) < 0.02


def test_fill_with_column_means():
    X = np.array([[1.0, np.nan], [3.0, 4.0], [np.nan, 8.0]])
    assert_allclose(fill_with_column_means(X), [[1, 6], [3, 4], [2, 8]])
    weights = np.array([1.0, 3.0, 1.0])
    assert_allclose(fill_with_column_means(X, weights), [[1, 5], [3, 4], [2.5, 8]])
    complete = np.ones((3, 2))
    assert fill_with_column_means(complete) is complete


def test_marginal_log_density_matches_scipy(covariance_type):
    X_complete = make_blobs_mixture(200, n_components=3, n_features=4, random_state=2)[
        0
    ]
    params = fitted_params(X_complete, 3, covariance_type)
    X = remove_at_random(X_complete, 0.4, random_state=3)
    log_prob_norm, resp = estimate_log_prob_resp_missing(X, params)
    covariances = full_covariances(params.covariances, covariance_type, 3, 4)
    for n in range(len(X)):
        o = ~np.isnan(X[n])
        log_joint = [
            np.log(params.weights[k])
            + multivariate_normal.logpdf(
                X[n, o], params.means[k, o], covariances[k][np.ix_(o, o)]
            )
            for k in range(3)
        ]
        assert_allclose(log_prob_norm[n], logsumexp(log_joint), rtol=LOG_DENSITY_RTOL)
        assert_allclose(
            resp[n],
            np.exp(log_joint - logsumexp(log_joint)),
            rtol=RESP_RTOL,
            atol=1e-300,
        )


def test_expected_statistics_match_a_per_sample_computation(covariance_type):
    X_complete = make_blobs_mixture(150, n_components=2, n_features=3, random_state=4)[
        0
    ]
    params = fitted_params(X_complete, 2, covariance_type)
    X = remove_at_random(X_complete, 0.35, random_state=5)
    sample_weight = np.random.default_rng(6).uniform(0.5, 2.0, len(X))
    shift = np.array([0.3, -0.2, 1.0])
    stats = e_step_missing(X, params, sample_weight, shift)

    covariances = full_covariances(params.covariances, covariance_type, 2, 3)
    nk, first, second, log_likelihood = (
        np.zeros(2),
        np.zeros((2, 3)),
        np.zeros((2, 3, 3)),
        0.0,
    )
    for n in range(len(X)):
        o, m = ~np.isnan(X[n]), np.isnan(X[n])
        log_joint = np.array(
            [
                np.log(params.weights[k])
                + multivariate_normal.logpdf(
                    X[n, o], params.means[k, o], covariances[k][np.ix_(o, o)]
                )
                for k in range(2)
            ]
        )
        log_likelihood += sample_weight[n] * logsumexp(log_joint)
        resp = sample_weight[n] * np.exp(log_joint - logsumexp(log_joint))
        for k in range(2):
            gain = covariances[k][np.ix_(m, o)] @ np.linalg.inv(
                covariances[k][np.ix_(o, o)]
            )
            completed = X[n].copy()
            completed[m] = params.means[k, m] + gain @ (X[n, o] - params.means[k, o])
            correction = np.zeros((3, 3))
            correction[np.ix_(m, m)] = (
                covariances[k][np.ix_(m, m)] - gain @ covariances[k][np.ix_(o, m)]
            )
            nk[k] += resp[k]
            first[k] += resp[k] * (completed - shift)
            second[k] += resp[k] * (
                np.outer(completed - shift, completed - shift) + correction
            )
    if covariance_type == "tied":
        second = second.sum(axis=0)
    elif covariance_type in ("diag", "spherical"):
        second = np.diagonal(second, axis1=1, axis2=2)
    # Sums of responsibilities (RESP_RTOL each) times conditional means and
    # covariances from small solves (condition numbers ~10, ~10 u); entries of the
    # moments near 0 get the absolute error of their largest terms (~1e-13).
    # Largest seen: 9.5e-16 (nk), 9.5e-7 of the allowed error (moments),
    # 1e-15 (log-likelihood).
    assert_allclose(stats.nk, nk, rtol=LOG_DENSITY_RTOL)
    assert_allclose(stats.first_moments, first, rtol=RESP_RTOL, atol=1e-9)
    assert_allclose(stats.second_moments, second, rtol=RESP_RTOL, atol=1e-9)
    assert_allclose(stats.log_likelihood, log_likelihood, rtol=1e-11)
    assert_allclose(stats.total_weight, sample_weight.sum(), rtol=1e-12)
    assert_array_equal(stats.shift, shift)


def test_e_step_without_missing_values_is_the_ordinary_e_step(covariance_type):
    X = make_blobs_mixture(300, n_components=3, n_features=3, random_state=7)[0]
    params = fitted_params(X, 3, covariance_type)
    shift = X.mean(axis=0)
    ours, ordinary = (
        e_step_missing(X, params, shift=shift),
        e_step(X, params, shift=shift),
    )
    # One pattern (all observed): the same quantities by another code path, with
    # its own Cholesky factors of the same matrices. Largest seen: 7.7e-5 and
    # 0.011 of the allowed errors below.
    for name in ["nk", "first_moments", "second_moments", "log_likelihood"]:
        assert_allclose(
            getattr(ours, name),
            getattr(ordinary, name),
            rtol=1e-11,
            atol=1e-9,
            err_msg=name,
        )
    for a, b in zip(
        estimate_log_prob_resp_missing(X, params),
        estimate_log_prob_resp(X, params),
        strict=True,
    ):
        assert_allclose(a, b, rtol=1e-11, atol=1e-300)


def test_precisions_only_parameters_are_accepted():
    """Parameters given by precisions (covariances None) work as in the ordinary E-step."""
    X = make_blobs_mixture(200, n_components=2, n_features=3, random_state=8)[0]
    params = fitted_params(X, 2, "full")
    without = MixtureParameters(
        params.weights, params.means, None, params.precisions_cholesky, "full"
    )
    X_missing = remove_at_random(X, 0.3, random_state=9)
    # Covariances recovered from the precision factors (kappa u, kappa ~10):
    # largest difference seen 4.3e-16 relative; rtol 1e-12.
    assert_allclose(
        estimate_log_prob_resp_missing(X_missing, without)[0],
        estimate_log_prob_resp_missing(X_missing, params)[0],
        rtol=1e-12,
    )


# ---------------------------------------------------------------- the estimator
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_no_missing_values_gives_ordinary_em(dataset, covariance_type):
    _, X, n_components = dataset
    settings = dict(
        n_components=n_components,
        covariance_type=covariance_type,
        tol=1e-8,
        max_iter=300,
        random_state=0,
    )
    ordinary = GaussianMixture(**settings).fit(X)
    ours = GaussianMixture(missing_values="marginalize", **settings).fit(X)
    # The same EM through the missing-value code path: rounding only, carried
    # through up to 300 iterations. Largest seen: 2.2e-13 relative (parameters),
    # 1.6e-15 (lower bounds), 1.2e-13 (scores); bounds 1e-10.
    assert ours.n_iter_ == ordinary.n_iter_
    for name in ["weights_", "means_", "covariances_", "precisions_cholesky_"]:
        assert_allclose(
            getattr(ours, name),
            getattr(ordinary, name),
            rtol=1e-10,
            atol=1e-12,
            err_msg=name,
        )
    assert_allclose(ours.lower_bounds_, ordinary.lower_bounds_, rtol=1e-10)
    assert_allclose(ours.score_samples(X), ordinary.score_samples(X), rtol=1e-10)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("missing_fraction", [0.1, 0.5])
def test_observed_log_likelihood_never_decreases(covariance_type, missing_fraction):
    X = make_blobs_mixture(
        500, n_components=3, n_features=3, separation=2.0, random_state=10
    )[0]
    X = remove_at_random(X, missing_fraction, random_state=11)
    model = GaussianMixture(
        3,
        covariance_type=covariance_type,
        tol=1e-10,
        max_iter=300,
        missing_values="marginalize",
        random_state=0,
    ).fit(X)
    history = model.history_
    assert model.n_iter_ > 5
    # EM never lowers the observed-data log-likelihood; near convergence only
    # rounding (~1e-14 relative) moves it. Slack 1e-10.
    assert_not_less(
        history["log_likelihood_after"], history["log_likelihood_before"], rtol=1e-10
    )
    # The same value computed again (2.1e-16 seen).
    assert_allclose(history["log_likelihood_after"][-1], model.score(X), rtol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_em_is_closer_to_the_truth_than_dropping_rows_or_mean_imputation(seed):
    X, _ = make_mixture(
        400, TRUE_WEIGHTS, TRUE_MEANS, TRUE_COVARIANCES, random_state=seed
    )
    X_missing = remove_at_random(X, 0.4, random_state=100 + seed)
    complete_rows = ~np.isnan(X_missing).any(axis=1)
    settings = dict(n_components=3, n_init=3, tol=1e-6, max_iter=500, random_state=0)
    em = GaussianMixture(missing_values="marginalize", **settings).fit(X_missing)
    dropped = GaussianMixture(**settings).fit(X_missing[complete_rows])
    imputed = GaussianMixture(**settings).fit(fill_with_column_means(X_missing))
    em_errors = errors_to_truth(em)
    # Seeded draws: EM's errors are 3% to 80% below the others' (closest: means,
    # seed 1, 0.474 against 0.490 for dropped rows). The fits are reproducible to
    # ~1e-10 across kernels, so rounding cannot reverse an order.
    for other in (dropped, imputed):
        other_errors = errors_to_truth(other)
        assert em_errors[0] < other_errors[0]
        assert em_errors[1] < other_errors[1]


def test_sample_weight_two_is_a_repeated_sample():
    X = remove_at_random(
        make_blobs_mixture(200, random_state=12)[0], 0.3, random_state=13
    )
    repeats = np.random.default_rng(14).integers(1, 3, len(X))
    X_filled = fill_with_column_means(X)
    precision = np.linalg.inv(np.cov(X_filled.T))
    start = dict(
        weights_init=[0.3, 0.3, 0.4],
        means_init=X_filled[:3],
        precisions_init=np.repeat(precision[None], 3, axis=0),
    )
    settings = dict(
        n_components=3, missing_values="marginalize", tol=0.0, max_iter=30, **start
    )
    with pytest.warns(ConvergenceWarning):
        weighted = GaussianMixture(**settings).fit(X, sample_weight=repeats)
    with pytest.warns(ConvergenceWarning):
        repeated = GaussianMixture(**settings).fit(np.repeat(X, repeats, axis=0))
    # The same 30 iterations on the same statistics summed in another order.
    # Largest seen: 4.3e-14 relative (parameters), 6e-16 (lower bounds).
    assert_allclose(weighted.means_, repeated.means_, rtol=1e-10)
    assert_allclose(weighted.covariances_, repeated.covariances_, rtol=1e-10)
    assert_allclose(weighted.lower_bounds_, repeated.lower_bounds_, rtol=1e-12)


def test_nan_without_the_option_is_the_scikit_learn_error():
    X = make_blobs_mixture(100, random_state=15)[0]
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        GaussianMixture(2).fit(X)
    fitted = GaussianMixture(2, random_state=0).fit(np.delete(X, 3, axis=0))
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fitted.score_samples(X)
    with pytest.raises(InvalidParameterError, match="missing_values"):
        GaussianMixture(2, missing_values="drop").fit(X)


def test_infinity_is_still_rejected_when_marginalising():
    X = make_blobs_mixture(100, random_state=15)[0]
    X[3, 1] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        GaussianMixture(2, missing_values="marginalize").fit(X)


def test_a_feature_with_no_observed_value_is_an_error():
    X = make_blobs_mixture(100, n_features=3, random_state=16)[0]
    X[:, 1] = np.nan
    with pytest.raises(
        ValueError, match="1 feature.s. with no observed value.*feature 1"
    ):
        GaussianMixture(2, missing_values="marginalize").fit(X)
    X = make_blobs_mixture(100, n_features=3, random_state=16)[0]
    X[:50, 2] = np.nan
    weights = np.r_[np.ones(50), np.zeros(50)]
    with pytest.raises(ValueError, match="feature 2"):
        fill_with_column_means(X, weights)


def test_scikit_learn_tags_declare_nan_support():
    assert not GaussianMixture().__sklearn_tags__().input_tags.allow_nan
    assert (
        GaussianMixture(missing_values="marginalize")
        .__sklearn_tags__()
        .input_tags.allow_nan
    )


def test_a_row_with_no_observed_value_is_an_error():
    X = make_blobs_mixture(100, random_state=16)[0]
    X[[5, 9]] = np.nan
    model = GaussianMixture(2, missing_values="marginalize", random_state=0)
    with pytest.raises(
        ValueError, match="2 sample.s. whose values are all missing.*row 5"
    ):
        model.fit(X)
    model.fit(np.delete(X, [5, 9], axis=0))
    with pytest.raises(ValueError, match="all missing"):
        model.predict_proba(X)


def test_inference_on_rows_with_missing_values(covariance_type):
    X = remove_at_random(
        make_blobs_mixture(300, n_features=3, random_state=17)[0], 0.3, random_state=18
    )
    model = GaussianMixture(
        3, covariance_type=covariance_type, random_state=0, missing_values="marginalize"
    ).fit(X)
    resp = model.predict_proba(X)
    assert resp.shape == (300, 3) and np.all(np.isfinite(resp))
    assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-12)  # a sum of 3 terms: 3 u
    assert_array_equal(model.predict(X), resp.argmax(axis=1))
    # Reference: a model over the observed coordinates only, scored without NaN.
    covariances = full_covariances(model.covariances_, covariance_type, 3, 3)
    log_density = model.score_samples(X)
    for n in range(0, 300, 7):
        o = ~np.isnan(X[n])
        log_joint = [
            np.log(model.weights_[k])
            + multivariate_normal.logpdf(
                X[n, o], model.means_[k, o], covariances[k][np.ix_(o, o)]
            )
            for k in range(3)
        ]
        assert_allclose(log_density[n], logsumexp(log_joint), rtol=LOG_DENSITY_RTOL)
    assert_array_equal(model.fit_predict(X), model.predict(X))


def test_float32_input_is_accepted():
    X = remove_at_random(
        make_blobs_mixture(300, random_state=19)[0], 0.2, random_state=20
    )
    model64 = GaussianMixture(3, missing_values="marginalize", random_state=0).fit(X)
    model32 = GaussianMixture(3, missing_values="marginalize", random_state=0).fit(
        X.astype(np.float32)
    )
    assert model32.means_.dtype == np.float32
    # float32 blocks (u = 6e-8) through a full fit: the largest difference seen
    # is 3.5e-4 of the allowed rtol 1e-4 plus atol 1e-4.
    assert_allclose(model32.means_, model64.means_, rtol=1e-4, atol=1e-4)


def test_imputation_by_conditional_means():
    X, _ = make_mixture(
        600, TRUE_WEIGHTS, TRUE_MEANS, TRUE_COVARIANCES, random_state=21
    )
    X_missing = remove_at_random(X, 0.3, random_state=22)
    missing = np.isnan(X_missing)
    model = GaussianMixture(
        3, missing_values="marginalize", n_init=3, random_state=0
    ).fit(X_missing)
    X_imputed = impute_conditional_means(model, X_missing)
    assert_array_equal(X_imputed[~missing], X_missing[~missing])
    assert np.all(np.isfinite(X_imputed))
    # Closer to the hidden values than the column means: 0.45 of their mean
    # squared error in this seeded draw (reproducible to ~1e-10 across kernels).
    mse_conditional = np.mean((X_imputed[missing] - X[missing]) ** 2)
    mse_mean = np.mean((fill_with_column_means(X_missing)[missing] - X[missing]) ** 2)
    assert mse_conditional < 0.5 * mse_mean


def test_imputation_with_one_gaussian_is_linear_regression():
    """With one component the conditional mean is the regression of x_m on x_o."""
    rng = np.random.default_rng(23)
    covariance = np.array([[2.0, 0.8, 0.3], [0.8, 1.0, -0.2], [0.3, -0.2, 0.5]])
    X = rng.multivariate_normal([1.0, -1.0, 0.5], covariance, size=200)
    model = GaussianMixture(1, random_state=0).fit(X)
    X_missing = X.copy()
    X_missing[:, 0] = np.nan
    X_imputed = impute_conditional_means(model, X_missing)
    mu, sigma = model.means_[0], model.covariances_[0]
    coefficients = np.linalg.solve(sigma[1:, 1:], sigma[1:, 0])
    # The same regression by two solves (condition number ~4): ~10 u relative,
    # more where the imputed value is near 0. Largest seen 8e-14; bound 1e-10.
    assert_allclose(
        X_imputed[:, 0], mu[0] + (X[:, 1:] - mu[1:]) @ coefficients, rtol=1e-10
    )
