"""The two-Gaussian EM of chapter 2: its steps, its trace, and its agreement with
gmmlib.GaussianMixture and scikit-learn from the same starting parameters."""

import numpy as np
import pytest
from bounds import assert_never_decreases
from numpy.testing import assert_allclose
from scipy import optimize, stats
from scipy.special import expit, logit
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from gmmlib import (
    GaussianMixture,
    TwoGaussianParameters,
    e_step_two_gaussians,
    em_two_gaussians,
    expected_complete_log_likelihood_two_gaussians,
    log_joint_two_gaussians,
    log_likelihood_two_gaussians,
    m_step_two_gaussians,
)
from gmmlib.datasets import sample_two_gaussians

#: One-dimensional formulas evaluated two ways (log-space against scipy.stats
#: densities, or against scikit-learn at the same parameters): a few u per value,
#: at most n u = 1e-13 relative for sums over n <= 1000 samples. Largest seen
#: 4.8e-15.
FORMULA_RTOL = 1e-12
#: The same EM iterations in the chapter's function and in a mixture estimator
#: (1 to 100 iterations, 'full', 'diag' or 'spherical'): rounding only. Largest
#: seen 9.8e-13 relative (parameters, responsibilities), 1.7e-15 (lower bounds).
SAME_ITERATES_RTOL = 1e-8

#: (sampling parameters, starting parameters) for each data set.
CASES = {
    "chapter": (
        dict(n_samples=500, random_state=0),
        TwoGaussianParameters(0.5, -3.0, 2.0, 4.0, 2.0),
    ),
    "overlapping": (
        dict(
            n_samples=200,
            pi=0.7,
            mu0=0.0,
            sigma0=1.0,
            mu1=0.5,
            sigma1=3.0,
            random_state=1,
        ),
        TwoGaussianParameters(0.3, -1.0, 1.0, 1.0, 1.0),
    ),
    "rare_component": (
        dict(
            n_samples=1000,
            pi=0.1,
            mu0=0.0,
            sigma0=1.0,
            mu1=5.0,
            sigma1=0.5,
            random_state=2,
        ),
        TwoGaussianParameters(0.5, 1.0, 3.0, 2.0, 3.0),
    ),
}


@pytest.fixture(params=sorted(CASES))
def case(request):
    """(y, start) for each data set."""
    sampling, start = CASES[request.param]
    y, _ = sample_two_gaussians(**sampling)
    return y, start


def random_start(y, rng):
    """A start with means at two data points and standard deviations of order std(y)."""
    mu0, mu1 = rng.choice(y, size=2, replace=False)
    sigma0, sigma1 = y.std() * rng.uniform(0.2, 2.0, size=2)
    return TwoGaussianParameters(rng.uniform(0.05, 0.95), mu0, sigma0, mu1, sigma1)


def sklearn_layout(params, covariance_type):
    """``weights_init``, ``means_init`` and ``precisions_init`` for component 0, 1."""
    precisions = np.array([params.sigma0, params.sigma1]) ** -2.0
    shape = {"full": (2, 1, 1), "diag": (2, 1), "spherical": (2,)}[covariance_type]
    return dict(
        weights_init=np.array([1 - params.pi, params.pi]),
        means_init=np.array([[params.mu0], [params.mu1]]),
        precisions_init=precisions.reshape(shape),
    )


def set_sklearn_parameters(params):
    """A scikit-learn mixture with the given parameters, set by hand (no fitting)."""
    model = SklearnGaussianMixture(n_components=2, covariance_type="spherical")
    model.weights_ = np.array([1 - params.pi, params.pi])
    model.means_ = np.array([[params.mu0], [params.mu1]])
    model.precisions_cholesky_ = 1 / np.array([params.sigma0, params.sigma1])
    return model


# --------------------------------------------------------------------- E-step
def test_e_step_is_bayes_rule(case):
    y, start = case
    gamma = e_step_two_gaussians(y, *start)
    joint_1 = start.pi * stats.norm.pdf(y, start.mu1, start.sigma1)
    joint_0 = (1 - start.pi) * stats.norm.pdf(y, start.mu0, start.sigma0)
    assert gamma.shape == y.shape
    assert np.all((gamma >= 0) & (gamma <= 1))
    # (atol 1e-300: responsibilities that underflow alike.)
    assert_allclose(
        gamma, joint_1 / (joint_0 + joint_1), rtol=FORMULA_RTOL, atol=1e-300
    )
    assert_allclose(
        gamma,
        set_sklearn_parameters(start).predict_proba(y[:, None])[:, 1],
        rtol=FORMULA_RTOL,
        atol=1e-300,
    )


def test_e_step_stays_finite_where_the_densities_underflow():
    params = TwoGaussianParameters(0.4, -1.0, 0.8, 2.0, 1.2)
    far = np.array([-80.0, 90.0])
    with np.errstate(all="ignore"):
        assert np.all(stats.norm.pdf(far[:, None], [-1.0, 2.0], [0.8, 1.2]) == 0)
    gamma = e_step_two_gaussians(far, *params)
    # Far out, the wider component 1 takes all the responsibility on both sides
    # (1 - gamma underflows: equal to 1 in every run seen).
    assert_allclose(gamma, 1.0, rtol=FORMULA_RTOL)
    assert np.isfinite(log_likelihood_two_gaussians(far, *params))


def test_log_likelihood_matches_densities_and_sklearn(case):
    y, start = case
    g = (1 - start.pi) * stats.norm.pdf(
        y, start.mu0, start.sigma0
    ) + start.pi * stats.norm.pdf(y, start.mu1, start.sigma1)
    log_likelihood = log_likelihood_two_gaussians(y, *start)
    assert_allclose(log_likelihood, np.log(g).sum(), rtol=FORMULA_RTOL)
    assert_allclose(
        log_likelihood,
        set_sklearn_parameters(start).score_samples(y[:, None]).sum(),
        rtol=FORMULA_RTOL,
    )


# --------------------------------------------------------------------- M-step
def test_m_step_is_weighted_mean_and_variance(case):
    y, start = case
    gamma = e_step_two_gaussians(y, *start)
    params = m_step_two_gaussians(y, gamma)
    assert_allclose(params.pi, gamma.mean(), rtol=1e-14)  # the same mean: equal
    for weights, mu, sigma in [
        (1 - gamma, params.mu0, params.sigma0),
        (gamma, params.mu1, params.sigma1),
    ]:
        assert_allclose(mu, np.average(y, weights=weights), rtol=FORMULA_RTOL)
        assert_allclose(
            sigma**2, np.cov(y, aweights=weights, ddof=0), rtol=FORMULA_RTOL
        )


def test_m_step_with_known_labels_is_the_complete_data_estimate(case):
    """With gamma_n = z_n the M-step is the per-group proportion, mean and variance."""
    y, _ = case
    z = (y > np.median(y)).astype(float)
    params = m_step_two_gaussians(y, z)
    assert_allclose(params.pi, z.mean(), rtol=1e-14)  # the same mean: equal
    assert_allclose(
        [params.mu0, params.sigma0], stats.norm.fit(y[z == 0]), rtol=FORMULA_RTOL
    )
    assert_allclose(
        [params.mu1, params.sigma1], stats.norm.fit(y[z == 1]), rtol=FORMULA_RTOL
    )


def to_unconstrained(params):
    return np.array(
        [
            logit(params.pi),
            params.mu0,
            np.log(params.sigma0),
            params.mu1,
            np.log(params.sigma1),
        ]
    )


def from_unconstrained(x):
    return TwoGaussianParameters(expit(x[0]), x[1], np.exp(x[2]), x[3], np.exp(x[4]))


def test_m_step_is_a_stationary_point_of_q(case):
    """Central differences of Q in every coordinate vanish at the M-step output."""
    y, start = case
    gamma = e_step_two_gaussians(y, *start)
    params = np.array(m_step_two_gaussians(y, gamma))
    q_max = expected_complete_log_likelihood_two_gaussians(y, gamma, *params)
    step = 1e-5
    for i in range(5):
        shift = np.zeros(5)
        shift[i] = step
        derivative = (
            expected_complete_log_likelihood_two_gaussians(y, gamma, *(params + shift))
            - expected_complete_log_likelihood_two_gaussians(
                y, gamma, *(params - shift)
            )
        ) / (2 * step)
        # A derivative of order one would change Q by 1e-5 over the step; rounding
        # in the two differenced values of Q is about 1e-16 |Q| each.
        assert abs(derivative) < 1e-6 * abs(q_max), i


def test_m_step_is_the_maximum_of_q(case):
    """Q is lower at perturbed parameters, and a numerical optimiser finds the same point."""
    y, start = case
    gamma = e_step_two_gaussians(y, *start)
    params = m_step_two_gaussians(y, gamma)
    q_max = expected_complete_log_likelihood_two_gaussians(y, gamma, *params)
    rng = np.random.default_rng(0)
    # A nudge of 1e-3 lowers Q by ~n 1e-6 = 5e-4, 1e6 times its rounding (~n u |Q|).
    for _ in range(50):
        nudged = from_unconstrained(
            to_unconstrained(params) + 1e-3 * rng.standard_normal(5)
        )
        assert expected_complete_log_likelihood_two_gaussians(y, gamma, *nudged) < q_max
    result = optimize.minimize(
        lambda x: (
            -expected_complete_log_likelihood_two_gaussians(
                y, gamma, *from_unconstrained(x)
            )
        ),
        to_unconstrained(start),
        method="BFGS",
        options=dict(gtol=1e-8),
    )
    # BFGS stops at a gradient norm of 1e-8, not at the exact maximum: largest
    # relative distance seen 4.3e-7; bound 1e-5. It cannot beat the maximum by
    # more than the rounding of Q (n u |Q| = 1e-13 |Q|).
    assert_allclose(from_unconstrained(result.x), params, rtol=1e-5)
    assert -result.fun <= q_max + 1e-12 * abs(q_max)


# -------------------------------------------------------------- the iteration
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "estimator", [GaussianMixture, SklearnGaussianMixture], ids=["gmmlib", "sklearn"]
)
@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
@pytest.mark.parametrize("max_iter", [1, 10, 100])
def test_agrees_with_mixture_estimators(case, estimator, covariance_type, max_iter):
    """Same start, same number of iterations (tol=0), reg_covar=0: the same iterates.

    scikit-learn adds ``reg_covar`` (default 1e-6) to every variance in every M-step;
    the chapter's M-step adds nothing, so both estimators get ``reg_covar=0``. With one
    feature and two components, 'full', 'diag' and 'spherical' are the same model.
    """
    y, start = case
    trace = em_two_gaussians(y, *start, max_iter=max_iter, tol=0)
    model = estimator(
        n_components=2,
        covariance_type=covariance_type,
        tol=0,
        reg_covar=0,
        max_iter=max_iter,
        **sklearn_layout(start, covariance_type),
    ).fit(y[:, None])
    final = trace.parameters()
    assert trace.n_iter == model.n_iter_ == max_iter
    assert_allclose(model.weights_, [1 - final.pi, final.pi], rtol=SAME_ITERATES_RTOL)
    assert_allclose(
        model.means_.ravel(), [final.mu0, final.mu1], rtol=SAME_ITERATES_RTOL
    )
    assert_allclose(
        model.covariances_.ravel(),
        [final.sigma0**2, final.sigma1**2],
        rtol=SAME_ITERATES_RTOL,
    )
    # (atol 1e-12: responsibilities near 0.)
    assert_allclose(
        model.predict_proba(y[:, None])[:, 1],
        trace.gamma[-1],
        rtol=SAME_ITERATES_RTOL,
        atol=1e-12,
    )
    # lower_bounds_[t] is the mean log-likelihood at the parameters the (t+1)-th
    # M-step started from.
    assert_allclose(model.lower_bounds_, trace.log_likelihood[:-1] / len(y), rtol=1e-10)
    if estimator is GaussianMixture:
        assert_allclose(
            model.history_["log_likelihood_after"],
            trace.log_likelihood[1:] / len(y),
            rtol=1e-10,
        )


def test_sklearn_default_reg_covar_adds_to_the_variances(case):
    """After one iteration from the same start, scikit-learn's default variances are
    the chapter's M-step variances plus reg_covar = 1e-6; everything else is equal."""
    y, start = case
    final = em_two_gaussians(y, *start, max_iter=1, tol=0).parameters()
    model = SklearnGaussianMixture(
        n_components=2,
        covariance_type="spherical",
        tol=0,
        max_iter=1,
        **sklearn_layout(start, "spherical"),
    )
    with pytest.warns(Warning):  # one iteration does not converge
        model.fit(y[:, None])
    assert model.reg_covar == 1e-6
    # One iteration two ways: largest difference seen 2.6e-15 relative.
    assert_allclose(model.means_.ravel(), [final.mu0, final.mu1], rtol=FORMULA_RTOL)
    assert_allclose(
        model.covariances_,
        np.array([final.sigma0, final.sigma1]) ** 2 + 1e-6,
        rtol=FORMULA_RTOL,
    )


@pytest.mark.parametrize("seed", range(10))
def test_log_likelihood_never_decreases(case, seed):
    y, _ = case
    start = random_start(y, np.random.default_rng(seed))
    trace = em_two_gaussians(y, *start, max_iter=200, tol=1e-12)
    assert trace.n_iter > 1
    # Monotone up to rounding in the sum of N logarithms (n u = 1e-13 relative).
    assert_never_decreases(trace.log_likelihood, rtol=1e-12)
    assert trace.log_likelihood[-1] > trace.log_likelihood[0]


def test_trace_records_every_iteration(case):
    y, start = case
    trace = em_two_gaussians(y, *start, max_iter=7, tol=0)
    assert not trace.converged
    assert trace.n_iter == 7
    for name in TwoGaussianParameters._fields:
        assert getattr(trace, name).shape == (8,)
    assert trace.gamma.shape == (8, len(y))
    assert trace.log_likelihood.shape == (8,)
    assert trace.parameters(0) == start
    for t in range(1, 8):
        previous = trace.parameters(t - 1)
        # The same function on the same numbers: equal.
        assert_allclose(
            trace.gamma[t - 1], e_step_two_gaussians(y, *previous), rtol=1e-15
        )
        assert trace.parameters(t) == m_step_two_gaussians(y, trace.gamma[t - 1])
        assert trace.log_likelihood[t] == log_likelihood_two_gaussians(
            y, *trace.parameters(t)
        )


@pytest.mark.parametrize("tol", [1e-3, 1e-6, 1e-9])
def test_tol_stops_on_a_small_change(case, tol):
    y, start = case
    trace = em_two_gaussians(y, *start, max_iter=10_000, tol=tol)
    changes = np.abs(np.diff(trace.log_likelihood)) / len(y)
    assert trace.converged
    assert changes[-1] < tol
    assert np.all(changes[:-1] >= tol)


def test_max_iter_zero_returns_the_start(case):
    y, start = case
    trace = em_two_gaussians(y, *start, max_iter=0)
    assert trace.n_iter == 0 and not trace.converged
    assert trace.parameters() == start


def test_symmetric_start_is_a_fixed_point():
    """Equal components get equal responsibilities, pi, and stay equal: EM cannot
    leave the single-Gaussian fit (the stationary point of chapter 1)."""
    y, _ = sample_two_gaussians(300, random_state=4)
    trace = em_two_gaussians(y, 0.3, 1.0, 2.0, 1.0, 2.0, max_iter=20, tol=0)
    # Both components see the same numbers, so they stay equal; the values are
    # the sample mean and standard deviation up to summation order (4.4e-15 seen).
    assert_allclose(trace.gamma, 0.3, rtol=1e-12)
    assert_allclose(trace.pi, 0.3, rtol=1e-12)
    assert_allclose(trace.mu0[1:], y.mean(), rtol=1e-12)
    assert_allclose(trace.mu1[1:], y.mean(), rtol=1e-12)
    assert_allclose(trace.sigma0[1:], y.std(), rtol=1e-12)
    assert_allclose(trace.sigma1[1:], y.std(), rtol=1e-12)


def test_swapping_the_labels_swaps_the_trace(case):
    y, start = case
    swapped_start = TwoGaussianParameters(
        1 - start.pi, start.mu1, start.sigma1, start.mu0, start.sigma0
    )
    trace = em_two_gaussians(y, *start, max_iter=20, tol=0)
    swapped = em_two_gaussians(y, *swapped_start, max_iter=20, tol=0)
    # Mirror-image arithmetic (gamma against 1 - gamma) through 20 iterations:
    # largest difference seen 4.7e-15 relative (parameters), 9e-16 (gamma, near 0
    # in absolute terms); bounds 1e-10.
    assert_allclose(swapped.pi, 1 - trace.pi, rtol=1e-10)
    assert_allclose(
        [swapped.mu0, swapped.sigma0], [trace.mu1, trace.sigma1], rtol=1e-10
    )
    assert_allclose(
        [swapped.mu1, swapped.sigma1], [trace.mu0, trace.sigma0], rtol=1e-10
    )
    assert_allclose(swapped.gamma, 1 - trace.gamma, rtol=1e-10, atol=1e-12)
    assert_allclose(swapped.log_likelihood, trace.log_likelihood, rtol=1e-12)


def test_log_joint_columns():
    y = np.array([-1.0, 0.0, 3.0])
    params = TwoGaussianParameters(0.25, 0.0, 1.0, 2.0, 0.5)
    assert_allclose(
        log_joint_two_gaussians(y, *params),
        np.log(
            np.column_stack(
                [0.75 * stats.norm.pdf(y, 0.0, 1.0), 0.25 * stats.norm.pdf(y, 2.0, 0.5)]
            )
        ),
        rtol=1e-13,
    )  # three values, a few u each (1.6e-16 seen)


# ----------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "params, message",
    [
        (
            (0.0, 0.0, 1.0, 1.0, 1.0),
            r"'pi' should be in the range \(0, 1\), but got pi=0.0",
        ),
        (
            (1.2, 0.0, 1.0, 1.0, 1.0),
            r"'pi' should be in the range \(0, 1\), but got pi=1.2",
        ),
        ((0.5, 0.0, 0.0, 1.0, 1.0), r"'sigma0' should be positive, but got sigma0=0.0"),
        (
            (0.5, 0.0, 1.0, 1.0, -2.0),
            r"'sigma1' should be positive, but got sigma1=-2.0",
        ),
        ((0.5, np.nan, 1.0, 1.0, 1.0), r"'mu0' should be finite, but got mu0=nan"),
    ],
)
def test_invalid_parameters_raise(params, message):
    with pytest.raises(ValueError, match=message):
        em_two_gaussians(np.arange(5.0), *params)


def test_invalid_observations_raise():
    params = TwoGaussianParameters(0.5, 0.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="Expected 1D array of observations, got 2D"):
        e_step_two_gaussians(np.zeros((4, 1)), *params)
    with pytest.raises(
        ValueError, match="Expected n_samples >= 2 but got n_samples = 1"
    ):
        em_two_gaussians(np.array([1.0]), *params)
    with pytest.raises(ValueError, match="Input y contains NaN or infinity"):
        log_likelihood_two_gaussians(np.array([1.0, np.inf]), *params)
    with pytest.raises(
        ValueError, match="'max_iter' parameter must be a non-negative int"
    ):
        em_two_gaussians(np.arange(5.0), *params, max_iter=-1)
    with pytest.raises(
        ValueError, match=r"'tol' parameter must be a float in the range"
    ):
        em_two_gaussians(np.arange(5.0), *params, tol=-1.0)


def test_invalid_responsibilities_raise():
    y = np.arange(4.0)
    with pytest.raises(ValueError, match=r"gamma should have the shape of y, \(4,\)"):
        m_step_two_gaussians(y, np.full(3, 0.5))
    with pytest.raises(ValueError, match=r"'gamma' should be in the range \[0, 1\]"):
        m_step_two_gaussians(y, np.array([0.5, 0.5, 1.5, 0.5]))


@pytest.mark.parametrize(
    "gamma",
    [np.zeros(4), np.ones(4), np.array([0, 0, 1.0, 0])],
    ids=["component 1 empty", "component 0 empty", "singleton"],
)
def test_degenerate_responsibilities_raise(gamma):
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        m_step_two_gaussians(np.arange(4.0), gamma)


def test_collapse_onto_one_observation_raises():
    """A component started on one point with a tiny spread takes it alone: its variance
    underflows to zero and the likelihood is unbounded (chapter 1)."""
    y, _ = sample_two_gaussians(100, random_state=5)
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        em_two_gaussians(y, 0.01, y.mean(), y.std(), y[0], 1e-4, max_iter=50)
