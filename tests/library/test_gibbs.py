"""gmmlib.gibbs: conjugate updates, the two full conditionals, agreement with EM, relabelling."""

import numpy as np
import pytest
from conftest import DATASETS
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from scipy.optimize import linear_sum_assignment
from sklearn.utils import check_random_state
from sklearn.utils.estimator_checks import parametrize_with_checks

from gmmlib import GaussianMixture, GibbsGaussianMixture
from gmmlib.datasets import make_blobs_mixture
from gmmlib.em_steps import MixtureParameters, estimate_log_prob_resp
from gmmlib.gibbs import (
    GibbsChain,
    NormalInverseWishart,
    chain_log_resp,
    default_prior,
    posterior,
    relabel_by_ordering,
    relabel_stephens,
    sample_inverse_wishart_cholesky,
    sample_labels,
    sample_parameters,
)

#: Conjugate updates and log-likelihoods computed two ways: sums over n <= 900
#: samples of terms of one sign or of centred data, ~n u = 1e-13 relative.
#: Largest seen 2.9e-15.
FORMULA_RTOL = 1e-10


@pytest.fixture(scope="module")
def separated():
    X, _ = make_blobs_mixture(**DATASETS["separated"])
    return X, DATASETS["separated"]["n_components"]


@pytest.fixture(scope="module")
def separated_chain(separated):
    X, n_components = separated
    return (
        GibbsGaussianMixture(
            n_components, n_draws=600, burn_in=100, relabel=None, random_state=0
        )
        .fit(X)
        .raw_chain_
    )


def random_labels(n_samples, n_components, seed):
    return np.random.default_rng(seed).integers(n_components, size=n_samples)


def single_prior(n_features, n_components=1, seed=0):
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=(n_features, n_features))
    return NormalInverseWishart(
        weight_concentration=np.full(n_components, 2.0),
        mean=np.tile(rng.normal(size=n_features), (n_components, 1)),
        mean_precision=np.full(n_components, 0.5),
        degrees_of_freedom=np.full(n_components, n_features + 3.0),
        scale=np.tile(factor @ factor.T + np.eye(n_features), (n_components, 1, 1)),
    )


# ------------------------------------------------------ the conjugate update
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_posterior_matches_the_textbook_formulas(name):
    X, _ = make_blobs_mixture(**DATASETS[name])
    n_components = DATASETS[name]["n_components"]
    labels = random_labels(len(X), n_components, 1)
    prior = default_prior(X, n_components, mean_precision_prior=0.3)
    post = posterior(X, labels, prior, shift=X.mean(axis=0))
    for k in range(n_components):
        members = X[labels == k]
        count, xbar = len(members), members.mean(axis=0)
        scatter = (members - xbar).T @ (members - xbar)
        kappa0, m0 = prior.mean_precision[k], prior.mean[k]
        # Prior values plus integer counts: exact (default rtol).
        assert_allclose(
            post.weight_concentration[k], prior.weight_concentration[k] + count
        )
        assert_allclose(post.mean_precision[k], kappa0 + count)
        assert_allclose(post.degrees_of_freedom[k], prior.degrees_of_freedom[k] + count)
        assert_allclose(
            post.mean[k],
            (kappa0 * m0 + count * xbar) / (kappa0 + count),
            rtol=FORMULA_RTOL,
        )
        expected = (
            prior.scale[k]
            + scatter
            + kappa0 * count / (kappa0 + count) * np.outer(xbar - m0, xbar - m0)
        )
        assert_allclose(post.scale[k], expected, rtol=FORMULA_RTOL)


def test_posterior_updates_sequentially():
    """Updating with A then with B is updating with A and B together."""
    X, _ = make_blobs_mixture(**DATASETS["six_features"])
    labels = random_labels(len(X), 4, 2)
    prior = default_prior(X, 4)
    half = len(X) // 2
    both = posterior(X, labels, prior)
    sequential = posterior(
        X[half:], labels[half:], posterior(X[:half], labels[:half], prior)
    )
    for field in [
        "weight_concentration",
        "mean",
        "mean_precision",
        "degrees_of_freedom",
        "scale",
    ]:
        assert_allclose(
            getattr(sequential, field),
            getattr(both, field),
            rtol=FORMULA_RTOL,
            err_msg=field,
        )


def test_empty_component_keeps_its_prior():
    X, _ = make_blobs_mixture(**DATASETS["separated"])
    prior = default_prior(X, 3)
    post = posterior(X, np.zeros(len(X), dtype=int), prior)
    # No data: the prior comes back unchanged (equal in every run; default rtol).
    for field in [
        "weight_concentration",
        "mean",
        "mean_precision",
        "degrees_of_freedom",
        "scale",
    ]:
        assert_allclose(
            getattr(post, field)[1:], getattr(prior, field)[1:], err_msg=field
        )


def test_default_prior_follows_fraley_and_raftery():
    X, _ = make_blobs_mixture(**DATASETS["six_features"])
    prior = default_prior(X, 4)
    # The same formulas: equal in every run; the default rtol 1e-7 allows
    # another order of the operations.
    assert_allclose(prior.weight_concentration, 1.0)
    assert_allclose(prior.mean, np.tile(X.mean(axis=0), (4, 1)))
    assert_allclose(prior.mean_precision, 0.01)
    assert_allclose(prior.degrees_of_freedom, 6 + 2)
    assert_allclose(prior.scale[0], np.cov(X.T) / 4 ** (2 / 6))


# ------------------------------------------------------------ the draws
@pytest.mark.parametrize("n_features, dof", [(1, 2.5), (2, 4.0), (3, 7.0)])
def test_inverse_wishart_draws_match_scipy(n_features, dof):
    prior = single_prior(n_features)
    n_draws = 4000
    random_state = check_random_state(0)
    factors = sample_inverse_wishart_cholesky(
        np.repeat(prior.scale, n_draws, axis=0), np.full(n_draws, dof), random_state
    )
    # Products of triangular factors: every entry above the diagonal is a sum
    # of products with an exact zero, so it is exactly zero.
    assert_array_equal(np.triu(factors, k=1), 0.0)
    ours = factors @ factors.transpose(0, 2, 1)
    theirs = stats.invwishart(df=dof, scale=prior.scale[0]).rvs(n_draws, random_state=1)
    theirs = theirs.reshape(n_draws, n_features, n_features)
    # Same law entry by entry (two-sample Kolmogorov-Smirnov) and for the
    # log-determinant; p > 1e-3 fails a correct sampler once in 1000 seeds.
    for i, j in zip(*np.tril_indices(n_features), strict=True):
        assert stats.ks_2samp(ours[:, i, j], theirs[:, i, j]).pvalue > 1e-3
    assert (
        stats.ks_2samp(np.linalg.slogdet(ours)[1], np.linalg.slogdet(theirs)[1]).pvalue
        > 1e-3
    )
    # E[Sigma^{-1}] = nu Psi^{-1}, within five Monte Carlo standard errors.
    precisions = np.linalg.inv(ours)
    error = precisions.std(axis=0) / np.sqrt(n_draws)
    assert np.all(
        np.abs(precisions.mean(axis=0) - dof * np.linalg.inv(prior.scale[0]))
        < 5 * error
    )


def test_parameter_draws_have_the_posterior_moments():
    prior = single_prior(2, n_components=3, seed=3)
    prior.weight_concentration = np.array([1.0, 3.0, 6.0])
    random_state = check_random_state(4)
    draws = [sample_parameters(prior, random_state) for _ in range(4000)]
    weights = np.array([d.weights for d in draws])
    means = np.array([d.means for d in draws])
    covariances = np.array([d.covariances for d in draws])
    n = len(draws)

    def within(samples, expected):
        """Within five Monte Carlo standard errors (fails once in ~2e6 seeds)."""
        error = samples.std(axis=0) / np.sqrt(n)
        assert np.all(np.abs(samples.mean(axis=0) - expected) < 5 * error)

    within(weights, prior.weight_concentration / prior.weight_concentration.sum())
    within(means, prior.mean)
    nu, d = prior.degrees_of_freedom[:, None, None], 2
    within(covariances, prior.scale / (nu - d - 1))
    # Cov(mu_k) = E[Sigma_k] / kappa_k.
    centred = means - prior.mean
    within(
        np.einsum("ski,skj->skij", centred, centred),
        prior.scale / (nu - d - 1) / prior.mean_precision[:, None, None],
    )
    # Precision factors invert the covariances: kappa u for condition numbers
    # kappa <~ 1e2 (largest difference seen 2e-16 relative); rtol 1e-10.
    assert_allclose(
        np.linalg.inv(draws[0].covariances),
        draws[0].precisions_cholesky @ draws[0].precisions_cholesky.transpose(0, 2, 1),
        rtol=1e-10,
    )


def test_label_draws_follow_the_responsibilities():
    """Frequencies of z_n over many draws match r_nk within 5 binomial standard errors."""
    X = np.array([[0.0, 0.0], [1.0, 0.5], [1.6, 1.2], [3.0, 2.0], [-1.0, 2.0]])
    covariances = np.array([np.eye(2), [[1.0, 0.3], [0.3, 0.5]], 2 * np.eye(2)])
    precisions_cholesky = np.linalg.inv(np.linalg.cholesky(covariances)).transpose(
        0, 2, 1
    )
    params = MixtureParameters(
        np.array([0.5, 0.3, 0.2]),
        np.array([[0.0, 0.0], [1.5, 1.0], [0.0, 2.0]]),
        covariances,
        precisions_cholesky,
        "full",
    )
    _, resp = estimate_log_prob_resp(X, params)
    random_state = check_random_state(5)
    n_draws = 200_000
    labels, _ = sample_labels(np.tile(X, (n_draws, 1)), params, random_state)
    labels = labels.reshape(n_draws, len(X))
    frequencies = np.stack([(labels == k).mean(axis=0) for k in range(3)], axis=1)
    error = np.sqrt(resp * (1 - resp) / n_draws)
    # (+1e-12: where resp rounds to 1 its standard error is 0, and the frequency,
    # exactly 1, differs from it by rounding only.)
    assert np.all(np.abs(frequencies - resp) < 5 * error + 1e-12)
    assert resp.min() > 0.001


def test_label_draws_return_the_log_likelihood(separated_chain, separated):
    X, _ = separated
    params = MixtureParameters(
        separated_chain.weights[-1],
        separated_chain.means[-1],
        separated_chain.covariances[-1],
        separated_chain.precisions_cholesky[-1],
        "full",
    )
    log_prob_norm, _ = estimate_log_prob_resp(X, params)
    _, log_likelihood = sample_labels(X, params, check_random_state(0))
    # The same log-likelihood of 600 samples by two routes: ~n u = 7e-14
    # relative; equal or within 2e-16 in every run seen.
    assert_allclose(log_likelihood, log_prob_norm.sum(), rtol=1e-12)
    assert_allclose(separated_chain.log_likelihood[-1], log_likelihood, rtol=1e-12)


# ------------------------------------------------------------- the sampler
def test_chain_is_reproducible(separated):
    X, n_components = separated
    options = dict(n_draws=30, burn_in=5, store_labels=True)
    first = GibbsGaussianMixture(n_components, random_state=3, **options).fit(X)
    second = GibbsGaussianMixture(n_components, random_state=3, **options).fit(X)
    other = GibbsGaussianMixture(n_components, random_state=4, **options).fit(X)
    for field in ["weights", "means", "covariances", "log_likelihood", "labels"]:
        assert_array_equal(
            getattr(first.raw_chain_, field), getattr(second.raw_chain_, field)
        )
    assert not np.array_equal(first.raw_chain_.means, other.raw_chain_.means)


def test_burn_in_and_thinning_keep_the_right_sweeps(separated):
    X, n_components = separated
    every = (
        GibbsGaussianMixture(
            n_components, n_draws=15, burn_in=0, random_state=2, relabel=None
        )
        .fit(X)
        .raw_chain_
    )
    thinned = (
        GibbsGaussianMixture(
            n_components, n_draws=4, burn_in=3, thin=3, random_state=2, relabel=None
        )
        .fit(X)
        .raw_chain_
    )
    assert_array_equal(thinned.means, every.means[3::3])
    assert_array_equal(thinned.log_likelihood, every.log_likelihood[3::3])


@pytest.mark.parametrize("relabel", ["stephens", "order"])
def test_posterior_means_agree_with_em(separated, relabel):
    """Well separated data: |posterior mean - EM| < 3 posterior sd, for every parameter."""
    X, n_components = separated
    sampler = GibbsGaussianMixture(
        n_components, n_draws=600, burn_in=100, relabel=relabel, random_state=0
    ).fit(X)
    em = GaussianMixture(n_components, tol=1e-8, max_iter=500, random_state=0).fit(X)
    # Match the two labellings once, by the distance between means.
    distances = np.linalg.norm(sampler.means_[:, None] - em.means_[None], axis=2)
    _, order = linear_sum_assignment(distances.T)
    chain = sampler.chain_
    for draws, estimate in [
        (chain.weights, em.weights_),
        (chain.means, em.means_),
        (chain.covariances, em.covariances_),
    ]:
        draws = draws[:, order]
        spread = draws.std(axis=0)
        # Posterior mean and MLE differ by O(1/n) against a posterior sd of
        # O(1/sqrt(n)), n = 600; the chain's Monte Carlo error is sd / sqrt(~500).
        # Seen: at most 0.59 sd apart (covariances); sd at most 0.11 of the
        # largest estimate.
        assert np.all(np.abs(draws.mean(axis=0) - estimate) < 3 * spread)
        assert np.all(spread < 0.2 * np.abs(estimate).max())


def test_relabelling_repairs_a_permuted_chain(separated_chain, separated):
    X, n_components = separated
    n_draws = len(separated_chain.weights)
    rng = np.random.default_rng(0)
    scrambles = np.array([rng.permutation(n_components) for _ in range(n_draws)])
    scrambled = separated_chain.permuted(scrambles)
    assert np.mean(np.any(scrambles != np.arange(n_components), axis=1)) > 0.5
    # Reference: the original chain's own mean classification probabilities.
    _, resp = chain_log_resp(separated_chain, X)
    repaired = scrambled.permuted(
        relabel_stephens(scrambled, X, reference_resp=resp.mean(axis=0))
    )
    assert_array_equal(repaired.means, separated_chain.means)
    assert_array_equal(repaired.covariances, separated_chain.covariances)
    # Without a reference the chain is repaired up to one permutation for all draws.
    permutations = relabel_stephens(scrambled, X)
    repaired = scrambled.permuted(permutations)
    global_order = np.argsort(repaired.means[0, :, 0])
    original_order = np.argsort(separated_chain.means[0, :, 0])
    assert_array_equal(
        repaired.means[:, global_order], separated_chain.means[:, original_order]
    )
    # Ordering by the first coordinate repairs it too here: the means are far apart.
    ordered = scrambled.permuted(relabel_by_ordering(scrambled))
    assert_array_equal(
        ordered.weights,
        separated_chain.permuted(relabel_by_ordering(separated_chain)).weights,
    )


def test_permuted_renames_parameters_and_labels():
    chain = GibbsChain(
        weights=np.array([[0.2, 0.8], [0.6, 0.4]]),
        means=np.array([[[0.0], [5.0]], [[1.0], [4.0]]]),
        covariances=np.ones((2, 2, 1, 1)) * np.array([1.0, 2.0])[:, None, None],
        precisions_cholesky=np.ones((2, 2, 1, 1)),
        log_likelihood=np.zeros(2),
        labels=np.array([[0, 1, 1], [1, 0, 0]]),
    )
    permuted = chain.permuted(np.array([[1, 0], [0, 1]]))
    assert_array_equal(permuted.weights, [[0.8, 0.2], [0.6, 0.4]])
    assert_array_equal(permuted.means[:, :, 0], [[5.0, 0.0], [1.0, 4.0]])
    assert_array_equal(permuted.labels, [[1, 0, 0], [1, 0, 0]])


def test_stephens_lowers_its_objective_on_a_switching_chain():
    """Overlapping data: the relabelled chain fits its own q better than the raw chain."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-1.5, 1, 15), rng.normal(1.5, 1, 15)])[:, None]
    chain = (
        GibbsGaussianMixture(
            2,
            n_draws=400,
            burn_in=50,
            init_params="random",
            relabel=None,
            random_state=2,
        )
        .fit(X)
        .raw_chain_
    )
    log_resp, resp = chain_log_resp(chain, X)

    def objective(permutations):
        relabelled = np.take_along_axis(log_resp, permutations[:, None, :], axis=2)
        probabilities = np.exp(relabelled)
        log_q = np.log(probabilities.mean(axis=0))
        return np.sum(probabilities * (relabelled - log_q))

    identity = np.tile(np.arange(2), (len(resp), 1))
    assert objective(relabel_stephens(chain, X)) <= objective(identity)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "options, message",
    [
        (dict(degrees_of_freedom_prior=0.5), "should be greater than 1, but got 0.500"),
        (
            dict(covariance_prior=np.array([[1.0, 2.0], [2.0, 1.0]])),
            "symmetric, positive-definite",
        ),
        (
            dict(covariance_prior=np.eye(3)),
            "'covariance_prior' should have the shape of",
        ),
        (dict(mean_prior=np.zeros(3)), "'means' should have the shape of"),
    ],
)
def test_bad_priors_are_errors(options, message):
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match=message):
        GibbsGaussianMixture(2, n_draws=2, **options).fit(X)


def test_too_few_samples_is_an_error():
    with pytest.raises(ValueError, match="Expected n_samples >= n_components"):
        GibbsGaussianMixture(5, n_draws=2).fit(
            np.random.default_rng(0).normal(size=(3, 2))
        )


@parametrize_with_checks(
    [GibbsGaussianMixture(2, n_draws=20, burn_in=5, random_state=0)]
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
