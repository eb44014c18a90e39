"""Generalized EM (gmmlib.gem): M-steps that increase Q without maximising it."""

from dataclasses import replace

import numpy as np
import pytest
from bounds import assert_never_decreases, assert_not_less
from conftest import DATASETS
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.utils._param_validation import InvalidParameterError

from gmmlib import GaussianMixture, conditional_m_step, ecm_m_step, gradient_m_step
from gmmlib.covariance import (
    COVARIANCE_TYPES,
    full_covariances,
    precision_cholesky_from_precisions,
    precisions_from_cholesky,
)
from gmmlib.datasets import make_blobs_mixture
from gmmlib.em_steps import (
    MixtureParameters,
    e_step,
    estimate_log_prob_resp,
    m_step,
    parameters_from_model,
)
from gmmlib.free_energy import expected_complete_log_likelihood
from gmmlib.gem import M_STEPS, mean_displacement_covariances
from gmmlib.timing import common_start

GEM_STEPS = ["ecm", "gradient"]
#: Q and log-likelihoods are sums over n <= 900 samples of terms of one sign,
#: each carrying ~100 u of rounding (log-densities built from terms up to
#: |x - c|^2 |Lambda| ~ 100): at most ~n u = 1e-13 relative. A gain that EM
#: guarantees non-negative may come out negative by that much once the fit has
#: converged; and two computations of the same value agree to it.
ROUNDING_RTOL = 1e-12


def start(X, n_components, covariance_type, seed=0):
    """The shared starting point of tests/conftest.py as MixtureParameters."""
    given = common_start(X, n_components, covariance_type, seed)
    return MixtureParameters(
        given["weights_init"],
        given["means_init"],
        None,
        precision_cholesky_from_precisions(given["precisions_init"], covariance_type),
        covariance_type,
    )


def penalised_q(X, resp, params, reg_covar):
    r"""Reference :math:`Q_\epsilon = Q - \tfrac{\epsilon}{2} \sum_k N_k \operatorname{tr}\Lambda_k`.

    Q from the data point by point (gmmlib.free_energy), independently of gmmlib.gem.
    """
    # The precisions have the layout of the covariances of their type.
    precisions = full_covariances(
        precisions_from_cholesky(params.precisions_cholesky, params.covariance_type),
        params.covariance_type,
        *params.means.shape,
    )
    traces = np.trace(precisions, axis1=1, axis2=2)
    return (
        expected_complete_log_likelihood(X, resp, params)
        - 0.5 * reg_covar * resp.sum(axis=0) @ traces
    )


def run(X, params, step, n_iter, reg_covar, sample_weight=None):
    """GEM by hand: the gains in Q and the log-likelihood at every iteration."""
    q_gains, log_likelihoods, q_scale = [], [], []
    for _ in range(n_iter):
        stats = e_step(X, params, sample_weight)
        _, resp = estimate_log_prob_resp(X, params)
        new = step(stats, params, reg_covar)
        before = penalised_q(X, resp, params, reg_covar)
        q_gains.append(penalised_q(X, resp, new, reg_covar) - before)
        q_scale.append(abs(before))
        log_likelihoods.append(stats.log_likelihood)
        params = new
    return np.array(q_gains), np.array(log_likelihoods), np.array(q_scale), params


@pytest.mark.parametrize("reg_covar", [0.0, 1e-2])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("name", ["exact", *GEM_STEPS])
def test_q_and_log_likelihood_never_decrease(dataset, covariance_type, name, reg_covar):
    _, X, n_components = dataset
    q_gains, log_likelihoods, q_scale, _ = run(
        X, start(X, n_components, covariance_type), M_STEPS[name], 40, reg_covar
    )
    # Q(new, old) >= Q(old, old) up to rounding, at every iteration ...
    assert_not_less(q_gains, 0.0, atol=ROUNDING_RTOL * q_scale)
    # ... and it climbs for real while the fit is far from converged.
    assert q_gains[0] > 1e-3 * q_scale[0]
    if reg_covar == 0:
        # The log-likelihood then never decreases either. (With reg_covar > 0 the
        # M-step climbs Q minus a penalty weighted by the N_k of the E-step, which
        # is not a fixed function of the parameters: no monotonicity is claimed.)
        assert_never_decreases(log_likelihoods, rtol=ROUNDING_RTOL)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("name", GEM_STEPS)
def test_estimator_history_never_decreases(dataset, covariance_type, name):
    _, X, n_components = dataset
    model = GaussianMixture(
        n_components,
        covariance_type=covariance_type,
        m_step=name,
        tol=1e-8,
        max_iter=300,
        reg_covar=0.0,
        **common_start(X, n_components, covariance_type),
    )
    model.fit(X)
    history = model.history_
    assert len(history) == model.n_iter_ > 1
    assert_array_equal(history["iteration"], np.arange(1, model.n_iter_ + 1))
    assert_not_less(
        history["log_likelihood_after"],
        history["log_likelihood_before"],
        rtol=ROUNDING_RTOL,
    )
    assert_allclose(
        history["log_likelihood_after"][:-1],
        history["log_likelihood_before"][1:],
        rtol=ROUNDING_RTOL,
    )
    assert_allclose(
        history["log_likelihood_after"][-1], model.score(X), rtol=ROUNDING_RTOL
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("name", GEM_STEPS)
def test_variants_reach_the_optimum_of_exact_em(covariance_type, name):
    X, _ = make_blobs_mixture(**DATASETS["separated"])
    # tol = 1e-13 (mean log-likelihood |l| ~ 3.5, resolved to ~1e-15): the
    # slowest variant (the gradient step, up to 82 iterations) then stops with
    # l within ~1e-13 of the optimum and its parameters within ~1e-6 of it.
    # Largest differences seen: 7e-14 relative (lower bound), 6.5e-7 (parameters,
    # of size ~1); bounds 1e-11 and 1e-5. (With tol = 1e-10 the parameters were
    # only ~6e-5 from the optimum, against a bound of 1e-4.)
    settings = dict(
        n_components=3,
        covariance_type=covariance_type,
        tol=1e-13,
        max_iter=5000,
        random_state=0,
    )
    exact = GaussianMixture(**settings).fit(X)
    variant = GaussianMixture(m_step=name, **settings).fit(X)
    assert variant.converged_
    assert_allclose(variant.lower_bound_, exact.lower_bound_, rtol=1e-11)
    for attribute in ["weights_", "means_", "covariances_"]:
        assert_allclose(
            getattr(variant, attribute),
            getattr(exact, attribute),
            atol=1e-5,
            err_msg=attribute,
        )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("name", GEM_STEPS)
def test_the_em_solution_is_a_fixed_point(covariance_type, name):
    X, _ = make_blobs_mixture(**DATASETS["separated"])
    model = GaussianMixture(
        3, covariance_type=covariance_type, tol=1e-12, max_iter=5000, random_state=0
    ).fit(X)
    params = parameters_from_model(model)
    new = M_STEPS[name](e_step(X, params), params, model.reg_covar)
    # EM stopped when l changed by < 1e-12; it converges here by a factor ~100
    # per iteration, so one more step of any variant moves the parameters by far
    # less than sqrt(1e-12) = 1e-6: at most 2.6e-9 seen (means); bounds >= 40x.
    assert_allclose(new.weights, params.weights, rtol=1e-7)
    assert_allclose(new.means, params.means, rtol=1e-7, atol=1e-7)
    assert_allclose(new.covariances, params.covariances, rtol=1e-6)


def test_ecm_with_means_before_covariances_is_exact_em(covariance_type):
    X, _ = make_blobs_mixture(**DATASETS["six_features"])
    params = start(X, 4, covariance_type)
    stats = e_step(X, params)
    exact = m_step(stats, covariance_type, 1e-6)
    ecm = ecm_m_step(stats, params, 1e-6, blocks=("weights", "means", "covariances"))
    for field in ["weights", "means", "covariances", "precisions_cholesky"]:
        # The same formulas on the same statistics: equal in every run seen;
        # 1e-12 allows another order of the same few operations.
        assert_allclose(
            getattr(ecm, field),
            getattr(exact, field),
            rtol=1e-12,
            atol=1e-14,
            err_msg=field,
        )
    # The default order (covariances around the old means first) is another step.
    assert not np.allclose(
        ecm_m_step(stats, params, 1e-6).covariances, exact.covariances
    )


def test_conditional_covariances_are_the_scatter_around_the_held_means(covariance_type):
    X, _ = make_blobs_mixture(**DATASETS["overlapping"])
    params = start(X, 3, covariance_type)
    stats = e_step(X, params)
    _, resp = estimate_log_prob_resp(X, params)
    new = conditional_m_step(stats, params, "covariances", 0.5)
    assert_array_equal(new.means, params.means)
    assert_array_equal(new.weights, params.weights)
    # Direct sums over the data: sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T / N_k.
    nk = resp.sum(axis=0)
    centred = X[None, :, :] - params.means[:, None, :]
    scatter = np.einsum("nk,kni,knj->kij", resp, centred, centred)
    expected = {
        "full": scatter / nk[:, None, None] + 0.5 * np.eye(2),
        "tied": scatter.sum(axis=0) / nk.sum() + 0.5 * np.eye(2),
        "diag": np.diagonal(scatter, axis1=1, axis2=2) / nk[:, None] + 0.5,
        "spherical": np.trace(scatter, axis1=1, axis2=2) / (2 * nk) + 0.5,
    }[covariance_type]
    # Direct sums around the means against T / N - m m^T from statistics about
    # the origin (|m|^2 <~ 2 against variances >~ 0.5): a few n u = 2e-13
    # relative for n = 600. Largest seen 2.4e-14; bound 1e-12.
    assert_allclose(new.covariances, expected, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("block", ["weights", "means", "covariances"])
def test_each_cm_step_maximises_q_over_its_block(covariance_type, block):
    X, _ = make_blobs_mixture(**DATASETS["overlapping"])
    params = start(X, 3, covariance_type)
    stats = e_step(X, params)
    _, resp = estimate_log_prob_resp(X, params)
    best = conditional_m_step(stats, params, block, 0.0)
    best_q = penalised_q(X, resp, best, 0.0)
    assert best_q > penalised_q(X, resp, params, 0.0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        # Move only the block (multiplicatively for weights and covariances).
        if block == "weights":
            factor = np.exp(0.05 * rng.standard_normal(best.weights.shape))
            trial = replace(
                best, weights=best.weights * factor / (best.weights @ factor)
            )
        elif block == "means":
            trial = replace(
                best, means=best.means + 0.05 * rng.standard_normal(best.means.shape)
            )
        else:
            precisions = precisions_from_cholesky(
                best.precisions_cholesky, covariance_type
            )
            trial = replace(
                best,
                covariances=None,
                precisions_cholesky=precision_cholesky_from_precisions(
                    precisions * (1 + 0.05 * rng.uniform(-1, 1)), covariance_type
                ),
            )
        assert penalised_q(X, resp, trial, 0.0) < best_q


def test_gradient_step_on_the_means_is_an_exact_line_search(covariance_type):
    X, _ = make_blobs_mixture(**DATASETS["six_features"])
    params = start(X, 4, covariance_type)
    stats = e_step(X, params)
    _, resp = estimate_log_prob_resp(X, params)
    new = gradient_m_step(stats, params, 0.0)
    # Along the step taken, Q is largest at the step itself (shorter or longer is worse).
    direction = new.means - params.means
    assert np.all(np.linalg.norm(direction, axis=1) > 0)
    value = penalised_q(X, resp, replace(params, means=new.means), 0.0)
    assert value > penalised_q(X, resp, params, 0.0)
    for factor in [0.9, 1.1]:
        shorter_or_longer = replace(params, means=params.means + factor * direction)
        assert penalised_q(X, resp, shorter_or_longer, 0.0) < value
    # The gradient step is not the exact M-step for the means (unless spherical).
    exact_means = m_step(stats, covariance_type, 0.0).means
    if covariance_type == "spherical":
        # The same S_k / N_k reached by another order of a few operations.
        assert_allclose(new.means, exact_means, rtol=ROUNDING_RTOL)
    else:
        assert not np.allclose(new.means, exact_means)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", GEM_STEPS)
def test_sample_weight_two_equals_a_duplicated_sample(name):
    X, _ = make_blobs_mixture(200, n_components=2, random_state=3)
    sample_weight = np.ones(len(X))
    sample_weight[:50] = 2
    settings = dict(
        n_components=2,
        m_step=name,
        tol=0.0,
        max_iter=15,
        means_init=X[[0, 100]],
        weights_init=[0.5, 0.5],
        precisions_init=np.repeat(np.eye(2)[None], 2, axis=0),
    )
    weighted = GaussianMixture(**settings).fit(X, sample_weight=sample_weight)
    duplicated = GaussianMixture(**settings).fit(np.vstack([X, X[:50]]))
    # The same 15 iterations on the same statistics summed in another order
    # (n u = 3e-14 each): largest difference seen 3.2e-12; bound 1e-9.
    assert_allclose(weighted.means_, duplicated.means_, rtol=1e-9)
    assert_allclose(weighted.covariances_, duplicated.covariances_, rtol=1e-9)


def test_invalid_m_step_raises_invalid_parameter_error():
    X, _ = make_blobs_mixture(100, random_state=0)
    with pytest.raises(
        InvalidParameterError,
        match="The 'm_step' parameter of GaussianMixture must be a str "
        "among .* Got 'newton' instead.",
    ):
        GaussianMixture(2, m_step="newton").fit(X)


def test_invalid_block_raises():
    X, _ = make_blobs_mixture(100, random_state=0)
    params = start(X, 2, "full")
    with pytest.raises(ValueError, match="block must be one of"):
        conditional_m_step(e_step(X, params), params, "precisions", 0.0)


def test_mean_displacement_matches_outer_products():
    nk = np.array([1.0, 3.0])
    displacement = np.array([[1.0, 2.0], [0.0, -1.0]])
    outer = np.einsum("ki,kj->kij", displacement, displacement)
    # Small integers and quarters: exact, or a rounding or two (default rtol 1e-7).
    assert_allclose(mean_displacement_covariances(nk, displacement, "full"), outer)
    assert_allclose(
        mean_displacement_covariances(nk, displacement, "tied"),
        (outer[0] + 3 * outer[1]) / 4,
    )
    assert_allclose(
        mean_displacement_covariances(nk, displacement, "diag"),
        [[1.0, 4.0], [0.0, 1.0]],
    )
    assert_allclose(
        mean_displacement_covariances(nk, displacement, "spherical"), [2.5, 0.5]
    )
