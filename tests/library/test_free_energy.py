"""The free energy F = Q + H, its gap KL and the identity l = F + KL."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from gmmlib.covariance import (
    covariances_from_cholesky,
    full_covariances,
    precision_cholesky_from_precisions,
)
from gmmlib.em_steps import (
    MixtureParameters,
    SufficientStatistics,
    estimate_log_prob_resp,
    statistics_from_resp,
)
from gmmlib.free_energy import (
    entropy,
    expected_complete_log_likelihood,
    expected_complete_log_likelihood_from_statistics,
    free_energy,
    kl_gap,
    log_likelihood,
)
from gmmlib.timing import common_start

#: Each check compares two computations of one sum over n <= 900 samples of
#: terms of one sign (log p, r log p, r log r), directly, from statistics centred
#: elsewhere, or by scipy.stats and scikit-learn. Each term is a log-density of
#: size ~10 built from terms up to |x - c|^2 |Lambda| ~ 100: ~100 u = 1e-14
#: relative; a sum of n such terms adds at most n u = 1e-13. Largest seen 3.2e-16.
RTOL = 1e-12


def parameters(X, n_components, covariance_type, seed=0):
    """MixtureParameters from the shared starting point of the comparison tests."""
    start = common_start(X, n_components, covariance_type, seed)
    factors = precision_cholesky_from_precisions(
        start["precisions_init"], covariance_type
    )
    return MixtureParameters(
        start["weights_init"],
        start["means_init"],
        covariances_from_cholesky(factors, covariance_type),
        factors,
        covariance_type,
    )


def scipy_log_joint(X, params):
    """log w_k + log N(x_n | mu_k, Sigma_k) from scipy.stats, an independent reference."""
    covariances = full_covariances(
        params.covariances, params.covariance_type, *params.means.shape
    )
    return np.column_stack(
        [
            np.log(w) + stats.multivariate_normal.logpdf(X, mean, cov)
            for w, mean, cov in zip(
                params.weights, params.means, covariances, strict=True
            )
        ]
    )


def random_resp(n_samples, n_components, seed, sparse=False):
    """Random rows on the simplex; with ``sparse``, about a third of the entries are 0."""
    rng = np.random.default_rng(seed)
    resp = rng.dirichlet(np.ones(n_components), size=n_samples)
    if sparse:
        resp[rng.random(resp.shape) < 0.3] = 0.0
        resp[resp.sum(axis=1) == 0, 0] = 1.0
        resp /= resp.sum(axis=1, keepdims=True)
    return resp


@pytest.mark.parametrize("weighted", [False, True])
def test_log_likelihood_is_free_energy_plus_gap(dataset, covariance_type, weighted):
    _, X, n_components = dataset
    params = parameters(X, n_components, covariance_type)
    sample_weight = np.random.default_rng(1).uniform(0, 3, len(X)) if weighted else None
    l = log_likelihood(X, params, sample_weight)
    _, posterior = estimate_log_prob_resp(X, params)
    for resp in [
        random_resp(len(X), n_components, 2),
        random_resp(len(X), n_components, 3, sparse=True),
    ]:
        F = free_energy(X, resp, params, sample_weight)
        KL = kl_gap(X, resp, params, sample_weight)
        assert KL > 1.0
        assert F < l
        assert_allclose(F + KL, l, rtol=RTOL)
    # With the posterior the bound is tight: KL = 0 and F = l. KL is then a sum
    # of n terms r (log r - log r) that are rounding only, each ~u |log r| <~ 1e-14.
    assert_allclose(
        kl_gap(X, posterior, params, sample_weight), 0.0, atol=RTOL * abs(l)
    )
    assert_allclose(free_energy(X, posterior, params, sample_weight), l, rtol=RTOL)


def test_expected_complete_log_likelihood_against_scipy(dataset, covariance_type):
    _, X, n_components = dataset
    params = parameters(X, n_components, covariance_type)
    resp = random_resp(len(X), n_components, 4)
    sample_weight = np.random.default_rng(5).uniform(0, 2, len(X))
    reference = scipy_log_joint(X, params)
    assert_allclose(
        expected_complete_log_likelihood(X, resp, params),
        np.sum(resp * reference),
        rtol=RTOL,
    )
    assert_allclose(
        expected_complete_log_likelihood(X, resp, params, sample_weight),
        np.sum(sample_weight[:, None] * resp * reference),
        rtol=RTOL,
    )


def test_log_likelihood_against_scikit_learn(dataset, covariance_type):
    _, X, n_components = dataset
    params = parameters(X, n_components, covariance_type)
    reference = SklearnGaussianMixture(n_components, covariance_type=covariance_type)
    reference.weights_, reference.means_ = params.weights, params.means
    reference.precisions_cholesky_ = params.precisions_cholesky
    sample_weight = np.random.default_rng(6).uniform(0, 2, len(X))
    assert_allclose(log_likelihood(X, params), reference.score(X) * len(X), rtol=RTOL)
    assert_allclose(
        log_likelihood(X, params, sample_weight),
        reference.score_samples(X) @ sample_weight,
        rtol=RTOL,
    )


def test_q_from_statistics_equals_q_from_data(dataset, covariance_type):
    _, X, n_components = dataset
    params = parameters(X, n_components, covariance_type, seed=7)
    resp = random_resp(len(X), n_components, 8, sparse=True)
    sample_weight = np.random.default_rng(9).uniform(0, 2, len(X))
    for shift in [np.zeros(X.shape[1]), X.mean(axis=0) + 1.5]:
        for weights in [None, sample_weight]:
            nk, first, second = statistics_from_resp(
                X - shift, resp, covariance_type, weights
            )
            statistics = SufficientStatistics(nk, first, second, 0.0, 0.0, shift)
            assert_allclose(
                expected_complete_log_likelihood_from_statistics(statistics, params),
                expected_complete_log_likelihood(X, resp, params, weights),
                rtol=RTOL,
            )


def test_one_hot_q_gives_the_complete_data_log_likelihood():
    """With q the true labels, H = 0 and F is log p(X, Z) (terms with q = 0 drop out)."""
    X, labels = np.random.default_rng(10).normal(size=(50, 2)), np.arange(50) % 3
    params = parameters(X, 3, "full")
    resp = np.eye(3)[labels]
    assert entropy(resp) == 0.0
    complete = np.sum(scipy_log_joint(X, params)[np.arange(50), labels])
    assert_allclose(free_energy(X, resp, params), complete, rtol=RTOL)


def test_entropy_values():
    n_samples, n_components = 40, 5
    uniform = np.full((n_samples, n_components), 1.0 / n_components)
    assert_allclose(entropy(uniform), n_samples * np.log(n_components), rtol=RTOL)
    resp = random_resp(n_samples, n_components, 11, sparse=True)
    assert_allclose(entropy(resp), sum(stats.entropy(row) for row in resp), rtol=RTOL)
    sample_weight = np.arange(n_samples, dtype=float)
    assert_allclose(
        entropy(resp, sample_weight),
        sum(w * stats.entropy(row) for w, row in zip(sample_weight, resp, strict=True)),
        rtol=RTOL,
    )


def test_posterior_maximises_the_free_energy(covariance_type):
    """F(q, Theta) <= F(posterior, Theta) = l(Theta), including q close to the posterior."""
    X = np.random.default_rng(12).normal(size=(200, 3))
    params = parameters(X, 4, covariance_type)
    _, posterior = estimate_log_prob_resp(X, params)
    best = free_energy(X, posterior, params)
    # Strict inequalities: even at mix = 1e-3 the gap (KL, ~n mix^2 = 6e-4) is
    # 1e6 times the rounding in F (~n u |F| = 2e-11).
    for mix in [1e-3, 0.1, 0.5, 1.0]:
        resp = (1 - mix) * posterior + mix * random_resp(len(X), 4, 13)
        assert free_energy(X, resp, params) < best
        assert kl_gap(X, resp, params) > 0
