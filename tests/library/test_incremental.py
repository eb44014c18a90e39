"""Incremental EM: coordinate ascent on the free energy that reaches the EM fixed point."""

import numpy as np
import pytest
from bounds import assert_never_decreases, assert_not_less
from conftest import DATASETS
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from test_free_energy import parameters

from gmmlib import GaussianMixture, incremental_em
from gmmlib.covariance import COVARIANCE_TYPES
from gmmlib.datasets import make_blobs_mixture
from gmmlib.em_steps import (
    SufficientStatistics,
    estimate_log_prob_resp,
    m_step,
    statistics_from_resp,
)
from gmmlib.free_energy import free_energy, log_likelihood
from gmmlib.timing import common_start

#: Free energies and log-likelihoods: sums over n <= 900 samples of terms of one
#: sign, each a log-density built from terms up to ~100 (~100 u): at most
#: ~n u = 1e-13 relative per computation. Largest difference seen 7.2e-16.
SUM_RTOL = 1e-12
#: Parameters from the same statistics summed in another order (the algorithm
#: against its spelled-out reference, or one batch against batch EM), carried
#: through a few M-steps: largest difference seen 1.9e-14 relative.
SAME_STEPS_RTOL = 1e-9


def blobs(name):
    spec = DATASETS[name]
    return make_blobs_mixture(**spec)[0], spec["n_components"]


def reference_incremental_em(X, params, n_batches, n_sweeps, reg_covar):
    """Incremental EM spelled out: q stored for every sample, F from its definition."""
    shift = X.mean(axis=0)
    covariance_type = params.covariance_type

    def m_step_from(resp):
        nk, first, second = statistics_from_resp(X - shift, resp, covariance_type)
        return m_step(
            SufficientStatistics(nk, first, second, 0.0, 0.0, shift),
            covariance_type,
            reg_covar,
        )

    _, resp = estimate_log_prob_resp(X, params)
    free_energies = [free_energy(X, resp, params)]
    params = m_step_from(resp)
    free_energies.append(free_energy(X, resp, params))
    for _ in range(n_sweeps):
        for rows in np.array_split(np.arange(len(X)), n_batches):
            resp[rows] = estimate_log_prob_resp(X[rows], params)[1]
            free_energies.append(free_energy(X, resp, params))
            params = m_step_from(resp)
            free_energies.append(free_energy(X, resp, params))
    return params, np.array(free_energies)


def ascent_sequence(history):
    """F after each half-step, in order: E, M, E, M, ..."""
    return np.column_stack(
        [history["free_energy_after_e_step"], history["free_energy_after_m_step"]]
    ).ravel()


def test_matches_the_algorithm_spelled_out(covariance_type):
    X, n_components = blobs("overlapping")
    start = parameters(X, n_components, covariance_type)
    result = incremental_em(X, start, n_batches=7, n_sweeps=2)
    params, free_energies = reference_incremental_em(X, start, 7, 2, reg_covar=1e-6)
    assert_allclose(ascent_sequence(result.history), free_energies, rtol=SUM_RTOL)
    for name in ["weights", "means", "covariances"]:
        assert_allclose(
            getattr(result.params, name),
            getattr(params, name),
            rtol=SAME_STEPS_RTOL,
            err_msg=name,
        )
    history = result.history
    assert_array_equal(history["step"], np.arange(1 + 2 * 7))
    assert_array_equal(history["sweep"], [0] + [1] * 7 + [2] * 7)
    assert_array_equal(history["batch"], [-1] + list(range(7)) * 2)


@pytest.mark.parametrize("reg_covar", [0.0, 1e-6])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_free_energy_never_decreases(name, covariance_type, reg_covar):
    X, n_components = blobs(name)
    result = incremental_em(
        X,
        parameters(X, n_components, covariance_type),
        n_batches=10,
        n_sweeps=5,
        reg_covar=reg_covar,
    )
    free_energies = ascent_sequence(result.history)
    # Coordinate ascent: F never decreases, up to the rounding of F (SUM_RTOL).
    assert_never_decreases(free_energies, rtol=SUM_RTOL)
    assert free_energies[-1] - free_energies[0] > 1.0
    # The bound: after every sweep, l(Theta) >= F(q, Theta) at the same Theta.
    after_sweeps = result.history["free_energy_after_m_step"][::10]
    assert_not_less(result.log_likelihoods[1:], after_sweeps, rtol=SUM_RTOL)
    # Right after the first full E-step the bound is tight.
    assert_allclose(free_energies[0], result.log_likelihoods[0], rtol=SUM_RTOL)


@pytest.mark.parametrize(
    "name, covariance_type",
    [
        ("separated", "full"),
        ("separated", "tied"),
        ("separated", "diag"),
        ("separated", "spherical"),
        ("six_features", "tied"),
        ("six_features", "diag"),
    ],
)
def test_reaches_the_batch_em_fixed_point(name, covariance_type):
    X, n_components = blobs(name)
    result = incremental_em(
        X, parameters(X, n_components, covariance_type), n_batches=10, n_sweeps=50
    )
    batch = GaussianMixture(
        n_components,
        covariance_type=covariance_type,
        tol=1e-13,
        max_iter=5000,
        **common_start(X, n_components, covariance_type),
    ).fit(X)
    # Both stop short of the fixed point: batch EM at a change below 1e-13, the
    # incremental one after 50 sweeps. The log-likelihood is flat there (3.7e-14
    # relative seen; bound 1e-10); the parameters, of size ~1, differ by 0.09 of
    # the allowed rtol 1e-4 plus atol 1e-5 at most.
    assert_allclose(result.log_likelihoods[-1], batch.score(X) * len(X), rtol=1e-10)
    for attribute in ["weights", "means", "covariances"]:
        assert_allclose(
            getattr(result.params, attribute),
            getattr(batch, attribute + "_"),
            rtol=1e-4,
            atol=1e-5,
            err_msg=attribute,
        )


def test_one_batch_is_batch_em(covariance_type):
    X, n_components = blobs("six_features")
    start = common_start(X, n_components, covariance_type)
    sample_weight = np.random.default_rng(0).uniform(0, 2, len(X))
    result = incremental_em(
        X,
        parameters(X, n_components, covariance_type),
        n_batches=1,
        n_sweeps=4,
        sample_weight=sample_weight,
    )
    with pytest.warns(ConvergenceWarning):
        batch = GaussianMixture(
            n_components, covariance_type=covariance_type, tol=0.0, max_iter=5, **start
        ).fit(X, sample_weight=sample_weight)
    # One batch is batch EM: the same E- and M-steps (equal in every run seen).
    assert_allclose(
        result.log_likelihoods[1:] / sample_weight.sum(),
        batch.history_["log_likelihood_after"],
        rtol=SUM_RTOL,
    )
    assert_allclose(result.params.means, batch.means_, rtol=SAME_STEPS_RTOL)
    assert_allclose(
        log_likelihood(X, result.params, sample_weight),
        result.log_likelihoods[-1],
        rtol=SUM_RTOL,
    )


def test_rejects_bad_numbers_of_batches():
    X, n_components = blobs("separated")
    start = parameters(X, n_components, "full")
    for n_batches in [0, len(X) + 1]:
        with pytest.raises(
            ValueError, match="n_batches must be between 1 and n_samples"
        ):
            incremental_em(X, start, n_batches=n_batches)
