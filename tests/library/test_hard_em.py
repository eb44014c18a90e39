"""gmmlib.hard_em: Lloyd's k-means against sklearn.cluster.KMeans, and the hard-EM limit."""

import numpy as np
import pytest
from bounds import assert_never_decreases, assert_never_increases, assert_not_less
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.cluster import KMeans

from gmmlib import (
    LloydKMeans,
    classification_em,
    fixed_variance_em,
    harden,
    isotropic_parameters,
)
from gmmlib.covariance import precision_cholesky_from_covariances
from gmmlib.em_steps import MixtureParameters, estimate_log_prob_resp
from gmmlib.hard_em import (
    classification_log_likelihood,
    hard_responsibilities,
    inertia,
    lloyd,
    nearest_centres,
)

SEEDS = [0, 1, 2]
#: Centres are means of the same members summed in another order (scikit-learn
#: sums sequentially in Cython): at most n u max|x| = 900 u 10 = 1e-12 apart,
#: typically ~sqrt(n) u |x|. Largest seen 1.1e-15.
CENTRE_TOL = 1e-12
#: Sums of n <= 900 squared distances (terms of one sign): n u = 1e-13 relative.
#: Largest seen 2e-16.
INERTIA_RTOL = 1e-11


def random_centres(X, n_clusters, seed):
    rng = np.random.default_rng(seed)
    return X[rng.choice(len(X), n_clusters, replace=False)]


def fit_both(X, n_clusters, sample_weight=None, **options):
    ours = LloydKMeans(n_clusters, **options).fit(X, sample_weight=sample_weight)
    theirs = KMeans(n_clusters, algorithm="lloyd", **options).fit(
        X, sample_weight=sample_weight
    )
    return ours, theirs


def assert_same_fit(ours, theirs):
    # Exact labels: in these fits no sample lies within 6e-5 (relative) of a tie
    # between its two nearest final centres, far above any rounding.
    assert_array_equal(ours.labels_, theirs.labels_)
    assert_allclose(
        ours.cluster_centers_, theirs.cluster_centers_, rtol=CENTRE_TOL, atol=CENTRE_TOL
    )
    assert_allclose(ours.inertia_, theirs.inertia_, rtol=INERTIA_RTOL)
    assert ours.n_iter_ == theirs.n_iter_


# ------------------------------------------------------ agreement with sklearn
@pytest.mark.parametrize("seed", SEEDS)
def test_same_centres_give_the_same_clustering(dataset, seed):
    _, X, n_clusters = dataset
    centres = random_centres(X, n_clusters, seed)
    assert_same_fit(*fit_both(X, n_clusters, init=centres, n_init=1))


@pytest.mark.parametrize("max_iter", [1, 2, 5])
@pytest.mark.parametrize("tol", [0.0, 1e-4, 1e-1])
def test_stopping_rules_match(dataset, max_iter, tol):
    _, X, n_clusters = dataset
    centres = random_centres(X, n_clusters, 4)
    assert_same_fit(
        *fit_both(X, n_clusters, init=centres, n_init=1, max_iter=max_iter, tol=tol)
    )


@pytest.mark.parametrize("init", ["k-means++", "random"])
@pytest.mark.parametrize("n_init", [1, 4, "auto"])
def test_same_random_state_gives_the_same_clustering(dataset, init, n_init):
    _, X, n_clusters = dataset
    assert_same_fit(
        *fit_both(X, n_clusters + 2, init=init, n_init=n_init, random_state=11)
    )


@pytest.mark.parametrize("init", ["k-means++", "random", "array"])
def test_sample_weight_matches(dataset, init):
    _, X, n_clusters = dataset
    sample_weight = np.random.default_rng(5).uniform(0.2, 3.0, len(X))
    init = random_centres(X, n_clusters, 5) if init == "array" else init
    assert_same_fit(
        *fit_both(
            X,
            n_clusters,
            sample_weight=sample_weight,
            init=init,
            n_init=1,
            random_state=3,
        )
    )


@pytest.mark.parametrize("n_far", [1, 2])
def test_empty_clusters_are_relocated_as_in_sklearn(dataset, n_far):
    """Centres placed far from all data start empty and take the farthest samples."""
    _, X, n_clusters = dataset
    centres = random_centres(X, n_clusters + n_far, 6)
    centres[-n_far:] = X.max(axis=0) + 100.0 * (1 + np.arange(n_far))[:, None]
    first_labels = nearest_centres(X, centres)
    assert not np.isin(n_clusters + np.arange(n_far), first_labels).any()
    ours, theirs = fit_both(X, n_clusters + n_far, init=centres, n_init=1)
    assert np.isin(n_clusters + np.arange(n_far), ours.labels_).all()
    assert_same_fit(ours, theirs)


def test_predict_and_score_match(dataset):
    _, X, n_clusters = dataset
    ours, theirs = fit_both(X, n_clusters, random_state=0)
    X_new = X[::3] + 0.1
    assert_array_equal(ours.predict(X_new), theirs.predict(X_new))
    assert_array_equal(ours.fit_predict(X), theirs.fit_predict(X))
    assert_allclose(ours.score(X_new), theirs.score(X_new), rtol=INERTIA_RTOL)
    weights = np.linspace(0.5, 2.0, len(X_new))
    assert_allclose(
        ours.score(X_new, sample_weight=weights),
        theirs.score(X_new, sample_weight=weights),
        rtol=INERTIA_RTOL,
    )


def test_lloyd_function_reproduces_the_estimator(dataset):
    _, X, n_clusters = dataset
    centres = random_centres(X, n_clusters, 7)
    estimator = LloydKMeans(n_clusters, init=centres).fit(X)
    tol = np.var(X, axis=0).mean() * 1e-4
    result = lloyd(X, centres, tol=tol)
    assert_array_equal(result.labels, estimator.labels_)
    assert_allclose(
        result.centres, estimator.cluster_centers_, rtol=CENTRE_TOL, atol=CENTRE_TOL
    )
    assert_allclose(
        result.inertia, inertia(X, result.centres, result.labels), rtol=INERTIA_RTOL
    )


# ------------------------------------------------------------- invariants
@pytest.mark.parametrize("seed", SEEDS)
def test_inertia_never_increases(dataset, seed):
    """Each assignment step and each update step lowers (or keeps) the inertia."""
    _, X, n_clusters = dataset
    fitted = LloydKMeans(
        n_clusters + 3, init="random", n_init=1, random_state=seed, tol=0.0
    ).fit(X)
    history = fitted.history_
    assert len(history) == fitted.n_iter_ >= 3
    # Once converged a step changes nothing but rounding: n u = 1e-13 of the
    # inertia, which only falls; slack 1e-12 of the first inertia.
    slack = 1e-12 * history["inertia_before"][0]
    assert_not_less(history["inertia_before"], history["inertia_after"], atol=slack)
    assert_not_less(
        history["inertia_after"][:-1], history["inertia_before"][1:], atol=slack
    )
    assert_allclose(history["inertia_after"][-1], fitted.inertia_, rtol=INERTIA_RTOL)


def test_result_is_a_fixed_point(dataset):
    _, X, n_clusters = dataset
    fitted = LloydKMeans(n_clusters, random_state=0, tol=0.0).fit(X)
    assert_array_equal(nearest_centres(X, fitted.cluster_centers_), fitted.labels_)
    for k in range(n_clusters):
        assert_allclose(
            fitted.cluster_centers_[k],
            X[fitted.labels_ == k].mean(axis=0),
            rtol=CENTRE_TOL,
            atol=CENTRE_TOL,
        )


def test_harden_is_one_hot_at_the_argmax():
    resp = np.array([[0.2, 0.5, 0.3], [0.9, 0.05, 0.05], [0.4, 0.4, 0.2]])
    assert_array_equal(harden(resp), [[0, 1, 0], [1, 0, 0], [1, 0, 0]])
    assert_array_equal(
        hard_responsibilities(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]]
    )


# ---------------------------------------------------------- the sigma limit
@pytest.fixture
def kmeans_fit(dataset):
    _, X, n_clusters = dataset
    return X, LloydKMeans(n_clusters, random_state=0).fit(X)


def test_responsibilities_harden_to_the_kmeans_assignment(kmeans_fit):
    """Equal weights, shared covariance sigma^2 I: r_nk tends to 1{k = k-means label}."""
    X, fitted = kmeans_fit
    scale = np.sqrt(np.var(X, axis=0).sum())
    sigmas = scale * np.logspace(1, -4, 30)
    max_resp, entropy = [], []
    for sigma in sigmas:
        _, resp = estimate_log_prob_resp(
            X, isotropic_parameters(fitted.cluster_centers_, sigma**2)
        )
        assert_array_equal(resp.argmax(axis=1), fitted.labels_)
        max_resp.append(resp.max(axis=1))
        entropy.append(-np.sum(resp * np.log(np.where(resp > 0, resp, 1.0)), axis=1))
    max_resp, entropy = np.array(max_resp), np.array(entropy)
    # Per sample: the largest responsibility grows and the entropy falls as sigma
    # shrinks; once they reach 1 and 0 only rounding (~u) moves them.
    assert_never_decreases(max_resp, atol=1e-12)
    assert_never_increases(entropy, atol=1e-12)
    assert max_resp[0].mean() < 0.99
    # At the smallest sigma the other responsibilities underflow: exactly one-hot
    # in every run seen; atol 1e-12.
    assert_allclose(
        resp, hard_responsibilities(fitted.labels_, len(resp.T)), atol=1e-12
    )


def test_scaled_log_likelihood_tends_to_minus_the_inertia(kmeans_fit):
    r"""-J <= 2 sigma^2 [l + n log K + n d/2 log(2 pi sigma^2)] <= -J + 2 sigma^2 n log K."""
    X, fitted = kmeans_fit
    n_samples, n_features = X.shape
    n_clusters = len(fitted.cluster_centers_)
    for sigma in [3.0, 1.0, 0.1, 0.01]:
        log_prob_norm, _ = estimate_log_prob_resp(
            X, isotropic_parameters(fitted.cluster_centers_, sigma**2)
        )
        scaled = (
            2
            * sigma**2
            * (
                log_prob_norm.sum()
                + n_samples * np.log(n_clusters)
                + n_samples * n_features / 2 * np.log(2 * np.pi * sigma**2)
            )
        )
        gap = 2 * sigma**2 * n_samples * np.log(n_clusters)
        # Slack 1e-9: scaled is 2 sigma^2 times sums of n terms that, at sigma = 3,
        # add up to ~40 times the inertia; their rounding, n u times that, is
        # ~3e-12 of the inertia.
        assert_not_less(scaled, -fitted.inertia_, rtol=1e-9)
        assert_not_less(-fitted.inertia_ + gap, scaled, atol=1e-9 * gap)


def test_fixed_variance_em_tends_to_lloyd(dataset):
    _, X, n_clusters = dataset
    centres = random_centres(X, n_clusters, 1)
    kmeans = LloydKMeans(n_clusters, init=centres, tol=0.0).fit(X)
    variance = 1e-6 * np.var(X, axis=0).sum()
    means, resp, _ = fixed_variance_em(X, centres, variance)
    # At sigma^2 = 1e-6 of the variance the responsibilities are one-hot after
    # underflow, so EM's means are k-means' up to summation order (n u |x|);
    # equal in every run seen.
    assert_allclose(means, kmeans.cluster_centers_, rtol=1e-10, atol=1e-10)
    assert_array_equal(resp.argmax(axis=1), kmeans.labels_)


def test_fixed_variance_em_collapses_for_large_sigma(dataset):
    """With sigma far above the spread of the data all means go to the data mean."""
    _, X, n_clusters = dataset
    means, resp, _ = fixed_variance_em(
        X, random_centres(X, n_clusters, 1), 1e8 * np.var(X, axis=0).sum()
    )
    # Responsibilities differ from 1/K by ~|x - mu|^2 / sigma^2 <~ 1e-7, so the
    # means start within ~1e-7 of the data mean and contract to it (7e-16 seen).
    assert_allclose(means, np.broadcast_to(X.mean(axis=0), means.shape), atol=1e-6)
    assert_allclose(resp, 1 / n_clusters, atol=1e-6)


def test_fixed_variance_em_is_an_em_step_of_the_isotropic_mixture(dataset):
    """One iteration: means are the responsibility-weighted averages."""
    _, X, n_clusters = dataset
    centres = random_centres(X, n_clusters, 2)
    variance = np.var(X, axis=0).mean()
    _, resp = estimate_log_prob_resp(X, isotropic_parameters(centres, variance))
    expected = (resp.T @ X) / resp.sum(axis=0)[:, None]
    means, _, n_iter = fixed_variance_em(X, centres, variance, max_iter=1)
    assert n_iter == 1
    # The same weighted means in another summation order: n u = 1e-13 relative
    # (largest seen 7.4e-15).
    assert_allclose(means, expected, rtol=1e-10)


# ------------------------------------------------------- classification EM
def full_parameters(X, n_components, seed=0):
    """Means from a k-means run, equal weights, covariances the data covariance / K."""
    means = LloydKMeans(n_components, random_state=seed).fit(X).cluster_centers_
    covariances = np.repeat(np.cov(X.T)[None] / n_components, n_components, axis=0)
    return MixtureParameters(
        np.full(n_components, 1 / n_components),
        means,
        covariances,
        precision_cholesky_from_covariances(covariances, "full"),
        "full",
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_classification_em_increases_the_classification_likelihood(dataset, seed):
    _, X, n_components = dataset
    start = full_parameters(X, n_components, seed)
    result = classification_em(X, start, reg_covar=0.0)
    history = result.history
    assert result.converged and len(history) == result.n_iter >= 2
    before = history["classification_log_likelihood_before"]
    after = history["classification_log_likelihood_after"]
    # Each step never lowers it; once converged only rounding of the sum
    # (n u |l| = 1e-13 |l|) moves it. Slack 1e-10 of the first value.
    slack = 1e-10 * abs(before[0])
    assert_not_less(after, before, atol=slack)
    assert_not_less(before[1:], after[:-1], atol=slack)


def test_classification_em_stops_at_a_fixed_point(dataset):
    _, X, n_components = dataset
    result = classification_em(X, full_parameters(X, n_components), reg_covar=0.0)
    value, labels = classification_log_likelihood(X, result.params)
    assert_array_equal(labels, result.labels)
    # The same value recomputed (2e-16 seen); rtol 1e-12.
    assert_allclose(
        value, result.history["classification_log_likelihood_after"][-1], rtol=1e-12
    )
    # Member means and covariances by the M-step and by numpy: the same sums in
    # another order, ~n u = 1e-13 relative, more for covariance entries near 0
    # (n u |x|^2 = 1e-11 absolute). Largest seen 1.1e-15 (means), 6.8e-14
    # (covariances).
    for k in range(n_components):
        members = X[result.labels == k]
        assert_allclose(result.params.weights[k], len(members) / len(X), rtol=1e-12)
        assert_allclose(
            result.params.means[k], members.mean(axis=0), rtol=1e-10, atol=1e-10
        )
        assert_allclose(
            result.params.covariances[k],
            np.cov(members.T, bias=True),
            rtol=1e-9,
            atol=1e-10,
        )


def test_classification_log_likelihood_is_the_log_joint_at_the_labels(dataset):
    _, X, n_components = dataset
    params = full_parameters(X, n_components, 3)
    log_prob_norm, resp = estimate_log_prob_resp(X, params)
    value, labels = classification_log_likelihood(X, params)
    assert_array_equal(labels, resp.argmax(axis=1))
    # The log joint at the labels two ways: sums over n <= 900 samples of
    # log-densities (terms up to ~100, each ~100 u): ~1e-13 relative; largest
    # seen 1.2e-16.
    assert_allclose(value, np.sum(log_prob_norm + np.log(resp.max(axis=1))), rtol=1e-10)
    other = (labels + 1) % n_components
    log_joint = np.log(resp[np.arange(len(X)), other]) + log_prob_norm
    assert_allclose(
        classification_log_likelihood(X, params, other)[0], log_joint.sum(), rtol=1e-10
    )
    assert logsumexp(log_joint) <= logsumexp(log_prob_norm)


def test_first_classification_step_is_a_lloyd_step(dataset):
    """From equal weights and a shared sigma^2 I, the first hard E- and M-step are Lloyd's."""
    _, X, n_components = dataset
    centres = random_centres(X, n_components, 5)
    start = isotropic_parameters(centres, np.var(X, axis=0).mean())
    result = classification_em(X, start, max_iter=1, reg_covar=0.0)
    step = lloyd(X, centres, max_iter=1)
    # Member means two ways (n u |x| = 1e-12); largest seen 9e-16.
    assert_allclose(result.params.means, step.centres, rtol=1e-10, atol=1e-10)


# ----------------------------------------------------------------- errors
def test_explicit_centres_force_a_single_start(dataset):
    _, X, n_clusters = dataset
    with pytest.warns(RuntimeWarning, match="performing only one init in LloydKMeans"):
        LloydKMeans(n_clusters, init=random_centres(X, n_clusters, 0), n_init=3).fit(X)


@pytest.mark.parametrize(
    "shape, message",
    [
        ((2, 2), "does not match the number of clusters 3"),
        ((3, 5), "does not match the number of features of the data 2"),
    ],
)
def test_wrong_init_shape_is_an_error(shape, message):
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match=message):
        LloydKMeans(3, init=np.zeros(shape)).fit(X)


def test_too_few_samples_is_an_error():
    with pytest.raises(ValueError, match="n_samples=2 should be >= n_clusters=3"):
        LloydKMeans(3).fit(np.zeros((2, 2)))


def test_estimator_conventions():
    X = np.random.default_rng(0).normal(size=(50, 2))
    estimator = LloydKMeans(3, random_state=0)
    assert clone(estimator).get_params() == estimator.get_params()
    assert not hasattr(estimator, "labels_")
    estimator.fit(X)
    assert estimator.n_features_in_ == 2
    with pytest.raises(ValueError, match="X has 3 features"):
        estimator.predict(np.zeros((2, 3)))
