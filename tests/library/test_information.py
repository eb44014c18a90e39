"""Louis' observed information, EM's rate and standard errors (gmmlib.information).

Finite differences are taken in "standard-error units": parameter i moves by
``h * s_i`` with ``s_i = 1 / sqrt(I_ii)``, and the error of a matrix entry is
measured relative to the diagonal, ``|A_ij - B_ij| / sqrt(I_ii I_jj)``. Both
make the check independent of the scale of each parameter (weights of ~0.3,
means of ~5, variances of ~1).
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import linalg
from sklearn.exceptions import NotFittedError

from gmmlib import (
    BayesianGaussianMixture,
    GaussianMixture,
    bootstrap_standard_errors,
    standard_errors,
)
from gmmlib.convergence import rate_from_history
from gmmlib.covariance import n_mixture_parameters
from gmmlib.datasets import load_old_faithful, make_blobs_mixture, make_mixture
from gmmlib.em_steps import parameters_from_model
from gmmlib.free_energy import expected_complete_log_likelihood, log_likelihood
from gmmlib.information import (
    complete_information,
    em_convergence_rate,
    free_parameters,
    louis_standard_errors,
    missing_information,
    missing_information_fraction,
    observed_information,
    observed_score,
    parameters_from_free,
)

X_FD, _ = make_blobs_mixture(
    n_samples=400, n_components=3, n_features=2, separation=2.0, random_state=0
)

# Central second differences of f in standard-error units: truncation error
# ~ C h^2 (C ~ 0.2 measured here: h = 1e-1, 1e-2 give 1.6e-3, 1.6e-5) and
# rounding error ~ u |f| / h^2 (|f| ~ 1.4e3 summed over 400 samples, u |f| ~
# 1.5e-13). The two balance at h = (u |f| / C)^(1/4) ~ 1e-3, where each is
# ~2e-7. Largest seen across kernels/threads/blocks, for I_o and for I_c:
# 2.8e-7; the bound of 1e-5 is 35 times that.
STEP = 1e-3
FD_BOUND = 1e-5


def _mle(covariance_type, X=X_FD, **kwargs):
    """An MLE: reg_covar=0 and EM run until a step gains < 1e-12 per sample."""
    return GaussianMixture(
        3,
        covariance_type=covariance_type,
        reg_covar=0.0,
        tol=1e-12,
        max_iter=5000,
        random_state=0,
        **kwargs,
    ).fit(X)


def _hessian(function, theta, scales, step=STEP):
    """Central finite-difference Hessian of ``function`` at ``theta``."""
    n = len(theta)
    hessian = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            di = np.zeros(n)
            dj = np.zeros(n)
            di[i] = step * scales[i]
            dj[j] = step * scales[j]
            second = (
                function(theta + di + dj)
                - function(theta + di - dj)
                - function(theta - di + dj)
                + function(theta - di - dj)
            ) / (4 * step**2 * scales[i] * scales[j])
            hessian[i, j] = hessian[j, i] = second
    return hessian


def _scaled_error(estimate, information):
    """Largest |A_ij - B_ij| / sqrt(B_ii B_jj)."""
    scales = 1.0 / np.sqrt(np.diag(information))
    return np.max(np.abs(estimate - information) * np.outer(scales, scales))


# ----------------------------------------------------------- free parameters
def test_free_parameters_count_and_round_trip(covariance_type):
    model = _mle(covariance_type)
    params = parameters_from_model(model)
    theta = free_parameters(params)
    assert len(theta) == model._n_parameters()
    assert len(theta) == n_mixture_parameters(covariance_type, 3, 2)
    back = parameters_from_free(theta, covariance_type, 3, 2)
    # Copies of the same numbers, except w_K = 1 - sum (one rounding per term)
    # and the Cholesky factors recomputed from the covariances (condition
    # number ~10 here): 1e-12. The covariances are rebuilt from their upper
    # triangle; a fitted covariance can differ from its transpose by an ulp
    # (the 'tied' M-step under OpenBLAS's Sandybridge kernel: 1.0e-15
    # relative), so the lower triangle matches to a few ulps: 1e-14.
    assert_allclose(back.weights, params.weights, rtol=1e-12)
    assert_allclose(back.means, params.means, rtol=0, atol=0)
    if covariance_type in ("full", "tied"):
        rows, cols = np.triu_indices(2)
        np.testing.assert_array_equal(
            back.covariances[..., rows, cols], model.covariances_[..., rows, cols]
        )
    else:
        np.testing.assert_array_equal(back.covariances, model.covariances_)
    assert_allclose(back.covariances, model.covariances_, rtol=1e-14)
    assert_allclose(
        back.precisions_cholesky, model.precisions_cholesky_, rtol=1e-12, atol=1e-12
    )


def test_free_parameter_order_is_documented():
    model = _mle("full")
    theta = free_parameters(parameters_from_model(model))
    rows, cols = np.triu_indices(2)
    expected = np.concatenate(
        [
            model.weights_[:2],
            model.means_.ravel(),
            model.covariances_[:, rows, cols].ravel(),
        ]
    )
    assert_allclose(theta, expected, rtol=0, atol=0)


def test_parameters_from_free_refuses_a_wrong_length():
    with pytest.raises(ValueError, match="Expected a vector of 17 free"):
        parameters_from_free(np.zeros(5), "full", 3, 2)


# ------------------------------------------------------ Louis against FD
def test_observed_information_is_the_hessian_of_the_log_likelihood(covariance_type):
    model = _mle(covariance_type)
    information = observed_information(model, X_FD)
    theta = free_parameters(parameters_from_model(model))

    def total(vector):
        return log_likelihood(X_FD, parameters_from_free(vector, covariance_type, 3, 2))

    scales = 1.0 / np.sqrt(np.diag(information))
    hessian = _hessian(total, theta, scales)
    assert _scaled_error(-hessian, information) < FD_BOUND


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_louis_identity_holds_away_from_the_maximum():
    # I_o = I_c - I_m is an identity at every theta: three EM steps from the
    # start, with reg_covar, are far from the maximum and the score is not 0.
    model = GaussianMixture(3, max_iter=3, tol=0.0, random_state=0, reg_covar=1e-2).fit(
        X_FD
    )
    information = observed_information(model, X_FD)
    scales = 1.0 / np.sqrt(np.diag(information))
    # The score in standard-error units: ~1 away from the maximum (~1e-5 at
    # the MLEs above).
    assert np.max(np.abs(observed_score(model, X_FD) * scales)) > 0.1
    theta = free_parameters(parameters_from_model(model))

    def total(vector):
        return log_likelihood(X_FD, parameters_from_free(vector, "full", 3, 2))

    # The same error model as at the maximum (FD_BOUND).
    hessian = _hessian(total, theta, scales)
    assert _scaled_error(-hessian, information) < FD_BOUND


def test_complete_information_is_the_hessian_of_q(covariance_type):
    model = _mle(covariance_type)
    information = complete_information(model, X_FD)
    resp = model.predict_proba(X_FD)  # held fixed: Q(theta' | theta)
    theta = free_parameters(parameters_from_model(model))

    def q(vector):
        return expected_complete_log_likelihood(
            X_FD, resp, parameters_from_free(vector, covariance_type, 3, 2)
        )

    scales = 1.0 / np.sqrt(np.diag(information))
    hessian = _hessian(q, theta, scales)
    # The error model of FD_BOUND: |Q| ~ |l| and Q is smoother than l.
    assert _scaled_error(-hessian, information) < FD_BOUND


def test_parts_add_up_and_are_symmetric(covariance_type):
    model = _mle(covariance_type)
    complete = complete_information(model, X_FD)
    missing = missing_information(model, X_FD)
    observed = observed_information(model, X_FD)
    # A subtraction of two sums of ~400 terms each: rounding ~ n u |I_c|.
    scale = np.abs(complete).max()
    assert np.abs(observed - (complete - missing)).max() < 1e-10 * scale
    assert np.abs(complete - complete.T).max() < 1e-10 * scale
    assert np.abs(missing - missing.T).max() < 1e-10 * scale
    # The missing information is a sum of covariance matrices.
    assert linalg.eigvalsh(missing).min() > -1e-10 * scale


def test_score_vanishes_at_the_mle(covariance_type):
    model = _mle(covariance_type)
    scales = 1.0 / np.sqrt(np.diag(observed_information(model, X_FD)))
    # EM stopped when a step gained < 1e-12 per sample: the gap to the
    # maximum is ~1e-11 per sample, ~4e-9 in total, and the score in
    # standard-error units ~sqrt(2 * 4e-9) ~ 1e-4 (largest seen across
    # kernels/threads/blocks: 1.5e-5).
    assert np.max(np.abs(observed_score(model, X_FD) * scales)) < 1e-3


# ------------------------------------------------------------ EM's rate
def test_largest_missing_fraction_is_the_measured_rate():
    X = load_old_faithful()
    # reg_covar=0: the fixed point of EM is then the MLE; with reg_covar > 0
    # the score there is not zero, the gap gets a term linear in the distance
    # and the measured ratio drifts in the last iterations.
    model = GaussianMixture(
        3, tol=1e-11, max_iter=10_000, reg_covar=0.0, random_state=0
    ).fit(X)
    assert model.converged_
    fraction = missing_information_fraction(model, X)
    eigenvalues = np.linalg.eigvals(fraction)
    rate = em_convergence_rate(model, X)
    # Eigenvalues of the pencil (I_m, I_c) of symmetric matrices, I_c > 0:
    # real, in [0, 1) at a maximum. eigvals of the unsymmetric product rounds
    # to ~u times its condition number (~1e4 here): 1e-8.
    assert np.abs(eigenvalues.imag).max() < 1e-8
    assert -1e-8 < eigenvalues.real.min() and eigenvalues.real.max() < 1.0
    assert abs(eigenvalues.real.max() - rate) < 1e-8

    # The parameters converge at rate lambda; the log-likelihood gap is a
    # quadratic form in theta_t - theta_hat, so the gains shrink by
    # lambda^2. The measured ratio differs from lambda^2 by terms of relative
    # order |theta_t - theta_hat|, ~9 sqrt(gain) here (seen: 1.1e-3 at gains
    # of 1.5e-8, 2.6e-4 at 1e-9), and by the rounding of the gains, ~3e-15
    # / gain. Where the gains are in [1e-10, 1e-9] (about 18 iterations)
    # these are below 3e-4 and 3e-5: bound 3e-3 (largest difference seen
    # across kernels/threads/blocks: 1.4e-4).
    gains = (
        model.history_["log_likelihood_after"] - model.history_["log_likelihood_before"]
    )
    ratios = rate_from_history(model.history_)
    window = (gains[1:] >= 1e-10) & (gains[1:] <= 1e-9)
    assert window.sum() >= 10
    measured = np.median(ratios[window])
    assert abs(measured - rate**2) < 3e-3
    # and it is lambda^2, not lambda (0.878 against 0.937 here).
    assert abs(measured - rate) > 0.03


# ------------------------------------------------------- standard errors
def test_standard_errors_have_the_shapes_of_the_fitted_attributes(covariance_type):
    model = _mle(covariance_type)
    errors = louis_standard_errors(model, X_FD)
    assert set(errors) == {"weights", "means", "covariances"}
    assert errors["weights"].shape == model.weights_.shape
    assert errors["means"].shape == model.means_.shape
    assert errors["covariances"].shape == model.covariances_.shape
    for value in errors.values():
        assert np.all(np.isfinite(value)) and np.all(value > 0)
    if covariance_type in ("full", "tied"):
        covariances = errors["covariances"]
        assert_allclose(covariances, np.swapaxes(covariances, -1, -2), rtol=0)


def test_standard_error_of_the_last_weight_by_the_delta_method():
    model = _mle("full")
    covariance = np.linalg.inv(observed_information(model, X_FD))
    errors = louis_standard_errors(model, X_FD)
    # w_3 = 1 - w_1 - w_2: Var w_3 = V_11 + V_22 + 2 V_12. Two inversions of a
    # matrix of condition ~1e3: 1e-10.
    assert_allclose(errors["weights"][2] ** 2, covariance[:2, :2].sum(), rtol=1e-10)


def test_sample_weight_counts_samples():
    model = _mle("full")
    weights = np.arange(len(X_FD)) % 3
    repeated = np.repeat(X_FD, weights, axis=0)
    # The same sums, in another order: rounding only (n u |I|, n ~ 400).
    assert_allclose(
        observed_information(model, X_FD, sample_weight=weights),
        observed_information(model, repeated),
        rtol=1e-10,
        atol=1e-10 * np.abs(observed_information(model, repeated)).max(),
    )
    tiled = np.tile(X_FD, (4, 1))
    # Four times the information of the same parameters: half the errors.
    for name, value in louis_standard_errors(model, tiled).items():
        assert_allclose(value, louis_standard_errors(model, X_FD)[name] / 2, rtol=1e-9)


TRUE_WEIGHTS = [0.3, 0.3, 0.4]
TRUE_MEANS = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
TRUE_COVARIANCES = [
    [[1.0, 0.3], [0.3, 1.0]],
    [[1.5, -0.2], [-0.2, 0.7]],
    [[0.8, 0.0], [0.0, 1.2]],
]


def _errors_by_true_component(n_samples, seed, covariance_type):
    X, _ = make_mixture(
        n_samples, TRUE_WEIGHTS, TRUE_MEANS, TRUE_COVARIANCES, random_state=seed
    )
    model = GaussianMixture(
        3, covariance_type=covariance_type, tol=1e-10, max_iter=1000, random_state=0
    ).fit(X)
    # The fitted component nearest each true mean (well separated: unique).
    distances = ((TRUE_MEANS[:, None, :] - model.means_[None]) ** 2).sum(axis=2)
    order = distances.argmin(axis=1)
    errors = louis_standard_errors(model, X)
    covariances = errors["covariances"]
    if covariance_type != "tied":
        covariances = covariances[order]
    return np.concatenate(
        [errors["weights"][order], errors["means"][order].ravel(), covariances.ravel()]
    )


def test_standard_errors_shrink_like_one_over_root_n(covariance_type):
    small = _errors_by_true_component(2000, 0, covariance_type)
    large = _errors_by_true_component(8000, 1, covariance_type)
    ratios = large / small
    # Each standard error is estimated with a relative sampling error of
    # ~1/sqrt(2 N_k) (a mean's) to ~sqrt(2 / N_k) (a variance's); across 20
    # pairs of seeds the ratio of one entry had a standard deviation of at
    # most 0.043 and their geometric mean one of at most 0.012. Bounds of
    # 4.7 and 4.3 of those standard deviations (these seeds: largest
    # deviations 0.063 and 0.0074, the same on every kernel).
    assert np.all(np.abs(ratios - 0.5) < 0.2)
    assert abs(np.exp(np.log(ratios).mean()) - 0.5) < 0.05


# ------------------------------------------------------------- bad input
def test_unfitted_model_is_refused():
    with pytest.raises(NotFittedError):
        observed_information(GaussianMixture(2), X_FD)


def test_wrong_number_of_features_is_refused():
    model = _mle("diag")
    with pytest.raises(ValueError, match="X has 3 features"):
        louis_standard_errors(model, np.ones((10, 3)))


def test_missing_values_are_refused():
    model = GaussianMixture(2, missing_values="marginalize", random_state=0).fit(X_FD)
    X = X_FD.copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="missing values"):
        observed_information(model, X)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="method must be one of"):
        observed_information(_mle("spherical"), X_FD, method="bootstrap")


def test_variational_mixture_is_refused():
    model = BayesianGaussianMixture(n_components=2, random_state=0).fit(X_FD)
    with pytest.raises(TypeError, match="variational posterior"):
        observed_information(model, X_FD)


# ------------------------------------------------- gmmlib.standard_errors
def test_standard_errors_dispatches_to_louis_and_the_bootstrap():
    X, _ = make_blobs_mixture(400, n_components=2, separation=6.0, random_state=5)
    model = GaussianMixture(2, tol=1e-10, random_state=0).fit(X)
    louis = standard_errors(model, X)
    assert_same_errors(louis, louis_standard_errors(model, X))
    bootstrap = standard_errors(
        model, X, method="bootstrap", n_bootstrap=20, random_state=0
    )
    reference = bootstrap_standard_errors(model, X, n_bootstrap=20, random_state=0)
    assert_same_errors(bootstrap, reference.standard_errors)


def assert_same_errors(ours, theirs):
    assert set(ours) == {"weights", "means", "covariances"} == set(theirs)
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name])


@pytest.mark.parametrize(
    "method, options, error, message",
    [
        ("delta", {}, ValueError, "method must be one of"),
        ("louis", {"n_bootstrap": 10}, TypeError, "apply to method='bootstrap' only"),
    ],
)
def test_standard_errors_refuses_what_it_cannot_honour(method, options, error, message):
    X, _ = make_blobs_mixture(200, n_components=2, random_state=6)
    model = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(error, match=message):
        standard_errors(model, X, method=method, **options)
