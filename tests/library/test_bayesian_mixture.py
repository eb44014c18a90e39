"""gmmlib.BayesianGaussianMixture: against scikit-learn from the same start, and on its own."""

import numpy as np
import pytest
from bounds import assert_never_decreases
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp, softmax
from scipy.stats import multivariate_normal, wishart
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import BayesianGaussianMixture as SklearnBayesianGaussianMixture

from gmmlib import BayesianGaussianMixture
from gmmlib.bayesian_mixture import (
    VariationalPosterior,
    expected_log_gaussian_offset,
    expected_log_weights,
)
from gmmlib.covariance import COVARIANCE_TYPES, full_covariances
from gmmlib.datasets import make_blobs_mixture, make_mixture, remove_at_random
from gmmlib.em_steps import MixtureParameters, e_step, estimate_log_gaussian_prob
from gmmlib.free_energy import entropy_from_statistics
from gmmlib.timing import common_start

#: The same variational updates from the same start in two libraries: rounding
#: only, carried through up to 500 iterations of a slowly contracting map.
#: Largest differences seen: 1.8e-13 relative (lower bounds), 3.1e-4 of the
#: allowed error (posterior attributes, with ATOL). (Was 1e-6.)
RTOL = 1e-8
#: Posterior attributes that are zero up to rounding.
ATOL = 1e-12
#: Monte Carlo checks: the exact expectation lies within this many standard
#: errors of the sample mean (a correct formula fails once in ~2 million seeds).
N_STANDARD_ERRORS = 5
PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]
POSTERIOR_ATTRIBUTES = [
    "weights_",
    "means_",
    "covariances_",
    "precisions_",
    "precisions_cholesky_",
    "mean_precision_",
    "degrees_of_freedom_",
]
PRIOR_ATTRIBUTES = [
    "weight_concentration_prior_",
    "mean_precision_prior_",
    "mean_prior_",
    "degrees_of_freedom_prior_",
    "covariance_prior_",
]


def from_responsibilities(estimator, resp):
    """A subclass of ``estimator`` whose fits start from the given responsibilities.

    scikit-learn's estimator has no way to pass starting values, so the test
    replaces its ``_initialize_parameters``; gmmlib's replaces
    ``_starting_statistics`` (:class:`gmmlib.mixture.BaseMixture`). Both then make
    their first M-step from ``resp``.
    """
    if estimator is SklearnBayesianGaussianMixture:

        def _initialize_parameters(self, X, random_state, xp=None):
            self._initialize(X, resp.astype(X.dtype))

        methods = dict(_initialize_parameters=_initialize_parameters)
    else:

        def _starting_statistics(self, data, random_state):
            return data.statistics_from_responsibilities(
                resp.astype(data.dtype), self.covariance_type
            )

        methods = dict(_starting_statistics=_starting_statistics)
    return type(estimator.__name__, (estimator,), methods)


def starting_responsibilities(n_samples, n_components, seed=0):
    """Soft random responsibilities (rows from a Dirichlet), the same for both libraries."""
    return np.random.default_rng(seed).dirichlet(
        np.full(n_components, 0.5), size=n_samples
    )


def assert_within_standard_errors(exact, samples):
    """``exact`` lies within N_STANDARD_ERRORS standard errors of the column means."""
    __tracebackhide__ = True
    standard_errors = samples.std(axis=0) / np.sqrt(len(samples))
    z_scores = (samples.mean(axis=0) - exact) / standard_errors
    assert_allclose(z_scores, 0.0, atol=N_STANDARD_ERRORS)


def fit_both(X, resp=None, **settings):
    classes = [BayesianGaussianMixture, SklearnBayesianGaussianMixture]
    if resp is not None:
        classes = [from_responsibilities(cls, resp) for cls in classes]
    return [cls(**settings).fit(X) for cls in classes]


def assert_same_fit(ours, theirs, rtol=RTOL):
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.converged_ == theirs.converged_
    assert_allclose(ours.lower_bounds_, np.ravel(theirs.lower_bounds_), rtol=rtol)
    assert_allclose(ours.lower_bound_, np.ravel(theirs.lower_bound_)[0], rtol=rtol)
    for name in POSTERIOR_ATTRIBUTES:
        assert_allclose(
            getattr(ours, name),
            getattr(theirs, name),
            rtol=rtol,
            atol=ATOL,
            err_msg=name,
        )
    for ours_part, theirs_part in zip(
        np.atleast_2d(ours.weight_concentration_),
        np.atleast_2d(theirs.weight_concentration_),
        strict=True,
    ):
        assert_allclose(ours_part, theirs_part, rtol=rtol)
    # Priors: the same few formulas on data moments (n u = 1e-13); largest
    # difference seen 2e-15.
    for name in PRIOR_ATTRIBUTES:
        assert_allclose(
            getattr(ours, name), getattr(theirs, name), rtol=1e-12, err_msg=name
        )


# ------------------------------------------------------- against scikit-learn
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_same_start_gives_the_same_lower_bounds_and_posterior(
    dataset, prior_type, covariance_type
):
    """Soft random start; up to 200 iterations (converged or not, both must agree)."""
    _, X, n_components = dataset
    resp = starting_responsibilities(len(X), n_components + 2)
    ours, theirs = fit_both(
        X,
        resp,
        n_components=n_components + 2,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        tol=1e-4,
        max_iter=200,
    )
    assert ours.n_iter_ > 5
    assert_same_fit(ours, theirs)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_fixed_iterations_match_tightly(prior_type, covariance_type):
    """tol=0: both run max_iter iterations and agree to 1e-8 (``RTOL``)."""
    X, _ = make_blobs_mixture(500, n_components=3, separation=2.0, random_state=3)
    resp = starting_responsibilities(len(X), 6, seed=1)
    ours, theirs = fit_both(
        X,
        resp,
        n_components=6,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        tol=0.0,
        max_iter=40,
    )
    assert_same_fit(ours, theirs)


@pytest.mark.parametrize(
    "init_params", ["kmeans", "k-means++", "random", "random_from_data"]
)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_same_random_state_gives_the_same_fit(init_params, prior_type):
    """gmmlib draws its starting responsibilities exactly as scikit-learn does."""
    X, _ = make_blobs_mixture(400, n_components=3, separation=4.0, random_state=4)
    ours, theirs = fit_both(
        X,
        n_components=5,
        init_params=init_params,
        weight_concentration_prior_type=prior_type,
        random_state=7,
        n_init=2,
        max_iter=200,
    )
    assert_same_fit(ours, theirs)


def test_user_priors_match(covariance_type):
    X, _ = make_blobs_mixture(300, n_components=2, n_features=3, random_state=5)
    covariance_prior = {
        "full": np.diag([2.0, 1.0, 0.5]) + 0.1,
        "tied": np.diag([2.0, 1.0, 0.5]) + 0.1,
        "diag": np.array([2.0, 1.0, 0.5]),
        "spherical": 0.7,
    }[covariance_type]
    ours, theirs = fit_both(
        X,
        n_components=4,
        covariance_type=covariance_type,
        weight_concentration_prior=0.3,
        mean_precision_prior=0.05,
        mean_prior=[1.0, -1.0, 0.5],
        degrees_of_freedom_prior=5.0,
        covariance_prior=covariance_prior,
        random_state=0,
        max_iter=500,
    )
    assert_same_fit(ours, theirs)
    assert_array_equal(ours.mean_prior_, [1.0, -1.0, 0.5])  # kept as given
    assert ours.degrees_of_freedom_prior_ == 5.0


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_predictions_match(prior_type, covariance_type):
    X, _ = make_blobs_mixture(400, n_components=3, separation=3.0, random_state=6)
    new, _ = make_blobs_mixture(50, n_components=3, separation=3.0, random_state=7)
    ours, theirs = fit_both(
        X,
        n_components=5,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        random_state=0,
        max_iter=200,
    )
    # Exact labels: no point's two largest log-responsibilities are closer than
    # 1.5e-3, far above the two libraries' rounding differences (~1e-12).
    assert_array_equal(ours.predict(new), theirs.predict(new))
    # Responsibilities that underflow to ~0 differ in absolute terms only.
    assert_allclose(
        ours.predict_proba(new), theirs.predict_proba(new), rtol=RTOL, atol=1e-10
    )
    assert_allclose(ours.score_samples(new), theirs.score_samples(new), rtol=RTOL)
    assert_allclose(ours.score(new), theirs.score(new), rtol=RTOL)
    settings = (
        theirs.get_params()
    )  # scikit-learn's parameters, all of which gmmlib takes
    assert_array_equal(
        BayesianGaussianMixture(**settings).fit_predict(X),
        SklearnBayesianGaussianMixture(**settings).fit_predict(X),
    )


# -------------------------------------------------- independent references
def test_expected_log_weights_by_monte_carlo():
    rng = np.random.default_rng(0)
    alpha = np.array([3.0, 0.5, 7.0, 1.2])
    draws = rng.dirichlet(alpha, size=400_000)
    assert_within_standard_errors(
        expected_log_weights(alpha, "dirichlet_distribution"), np.log(draws)
    )
    a, b = np.array([4.0, 2.0, 1.5, 1.0]), np.array([6.0, 3.0, 0.7, 0.2])
    sticks = rng.beta(a, b, size=(400_000, 4))
    weights = sticks * np.cumprod(
        np.hstack([np.ones((len(sticks), 1)), 1 - sticks[:, :-1]]), axis=1
    )
    assert_within_standard_errors(
        expected_log_weights((a, b), "dirichlet_process"), np.log(weights)
    )


def test_expected_log_density_by_monte_carlo():
    r"""E_q[log N(x | mu, Lambda^{-1})] under a Normal-Wishart, by sampling."""
    rng = np.random.default_rng(1)
    n_features, nu, beta = 2, 6.5, 3.0
    scale = np.array([[0.5, 0.1], [0.1, 0.3]])  # W
    mean = np.array([1.0, -2.0])  # m
    x = np.array([[1.5, -1.0], [0.0, 0.0]])
    precisions = wishart(df=nu, scale=scale).rvs(size=100_000, random_state=rng)
    covariances = np.linalg.inv(precisions)
    mus = mean + np.einsum(
        "nij,nj->ni",
        np.linalg.cholesky(covariances / beta),
        rng.standard_normal((len(precisions), n_features)),
    )
    diff = x[:, None, :] - mus[None]
    maha = np.einsum("xni,nij,xnj->xn", diff, precisions, diff)
    log_det = np.linalg.slogdet(precisions)[1]
    sampled = 0.5 * log_det - 0.5 * n_features * np.log(2 * np.pi) - 0.5 * maha

    covariance = np.linalg.inv(nu * scale)[None]  # scikit-learn's covariances_
    precisions_cholesky = np.linalg.cholesky(np.linalg.inv(covariance)[0])[None]
    posterior = VariationalPosterior(
        None,
        np.array([beta]),
        mean[None],
        np.array([nu]),
        covariance,
        precisions_cholesky,
    )
    exact = estimate_log_gaussian_prob(x, mean[None], precisions_cholesky, "full")[
        :, 0
    ] + expected_log_gaussian_offset(posterior, n_features)
    assert_within_standard_errors(exact, sampled.T)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_entropy_from_statistics_equals_the_direct_sum(covariance_type, offset):
    """-sum r log r from N_k, S_k, T_k equals the sum over the responsibilities themselves."""
    X, _ = make_blobs_mixture(
        700, n_components=3, n_features=3, separation=2.0, random_state=16
    )
    X = X + offset
    start = common_start(X, 4, covariance_type, random_state=3)
    model = BayesianGaussianMixture(
        n_components=4,
        covariance_type=covariance_type,
        max_iter=3,
        tol=0.0,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning):
        model.fit(X)
    params = MixtureParameters(
        start["weights_init"],
        start["means_init"],
        None,
        model.precisions_cholesky_,
        covariance_type,
    )
    log_weights = np.log(start["weights_init"]) + np.array([0.3, -1.0, 2.0, -40.0])
    shift = X.mean(axis=0)
    stats = e_step(X, params, shift=shift, log_weights=log_weights)
    # The reference works on centred data too (densities are translation
    # invariant): uncentred, at offset 1e4 its own rounding reached 5e-9.
    log_rho = (
        estimate_log_gaussian_prob(
            X - shift, params.means - shift, params.precisions_cholesky, covariance_type
        )
        + log_weights
    )
    log_resp = log_rho - np.logaddexp.reduce(log_rho, axis=1, keepdims=True)
    direct = -np.sum(np.exp(log_resp) * log_resp)
    assert direct > 1.0
    # The entropy (~150) is the difference of two sums of 700 terms, each ~6000
    # in all: at most ~n u 6000 / 150 = 3e-12 relative. Largest seen 1.4e-14.
    assert_allclose(
        entropy_from_statistics(stats, params, log_weights), direct, rtol=1e-11
    )


# ------------------------------------------------------------- behaviour
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "random"])
def test_lower_bound_never_decreases(prior_type, covariance_type, init_params):
    X, _ = make_blobs_mixture(400, n_components=3, separation=3.0, random_state=8)
    model = BayesianGaussianMixture(
        n_components=6,
        covariance_type=covariance_type,
        init_params=init_params,
        weight_concentration_prior_type=prior_type,
        tol=1e-6,
        max_iter=300,
        random_state=0,
    ).fit(X)
    bounds = np.asarray(model.lower_bounds_)
    assert len(bounds) == model.n_iter_ > 1
    # Coordinate ascent on the ELBO; once converged only rounding of the ELBO
    # (sums over 400 samples, ~n u = 4e-14 relative) moves it. Slack 1e-10.
    assert_never_decreases(bounds, rtol=1e-10)


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unneeded_components_are_pruned(prior_type, seed):
    """Ten components on three well-separated clusters: three keep weight > 0.01."""
    covariances = [
        [[1.0, 0.6], [0.6, 1.0]],
        [[1.0, -0.5], [-0.5, 2.0]],
        [[2.0, 0.0], [0.0, 0.5]],
    ]
    X, labels = make_mixture(
        600, [0.3, 0.3, 0.4], [[0, 0], [8, 0], [0, 8]], covariances, random_state=seed
    )
    model = BayesianGaussianMixture(
        n_components=10,
        weight_concentration_prior_type=prior_type,
        weight_concentration_prior=0.01,
        max_iter=500,
        random_state=seed,
    ).fit(X)
    assert np.sum(model.weights_ > 0.01) == 3
    assert_allclose(model.weights_.sum(), 1.0, rtol=1e-12)  # a sum of 10 terms
    kept = np.sort(model.weights_[model.weights_ > 0.01])
    # The kept weights are the label frequencies up to (a) points assigned across
    # clusters at least 5.7 standard deviations apart, < 1e-3 of the weight, and
    # (b) with a Dirichlet process, the one pseudo-count that each stick's
    # Beta(1 + N_k, alpha + N_>k) posterior adds: up to K / N = 10 / 600 = 0.017
    # of the weight moved between sticks. Largest seen 0.0079 (dirichlet_process,
    # seed 2); 1e-4 with a Dirichlet distribution.
    atol = model.n_components / len(X) + 1e-3
    assert_allclose(kept, np.sort(np.bincount(labels) / len(labels)), atol=atol)


def test_warm_start_continues_from_the_last_fit():
    X, _ = make_blobs_mixture(400, random_state=9)
    model = BayesianGaussianMixture(
        n_components=4, max_iter=3, tol=0.0, warm_start=True, random_state=0
    )
    with pytest.warns(ConvergenceWarning):
        model.fit(X)
    first = model.lower_bound_
    with pytest.warns(ConvergenceWarning):
        model.fit(X)
    assert model.lower_bound_ >= first
    reference = BayesianGaussianMixture(
        n_components=4, max_iter=6, tol=0.0, random_state=0
    )
    with pytest.warns(ConvergenceWarning):
        reference.fit(X)
    # The same six iterations by the same arithmetic: equal in every run seen.
    assert_allclose(model.means_, reference.means_, rtol=1e-10)
    assert_allclose(model.lower_bound_, reference.lower_bound_, rtol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_best_of_n_init_is_kept():
    X, _ = make_blobs_mixture(400, n_components=4, separation=2.0, random_state=10)
    settings = dict(n_components=6, init_params="random_from_data", max_iter=100)
    multi = BayesianGaussianMixture(n_init=4, random_state=0, **settings).fit(X)
    first = BayesianGaussianMixture(n_init=1, random_state=0, **settings).fit(X)
    assert multi.lower_bound_ >= first.lower_bound_


def test_convergence_warning_when_max_iter_is_too_small():
    X, _ = make_blobs_mixture(300, random_state=11)
    model = BayesianGaussianMixture(n_components=3, max_iter=2, tol=0.0)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        model.fit(X)
    assert not model.converged_ and model.n_iter_ == 2 and len(model.lower_bounds_) == 2


def test_samples_come_from_the_fitted_mixture():
    X, _ = make_blobs_mixture(500, n_components=3, separation=5.0, random_state=12)
    model = BayesianGaussianMixture(n_components=3, random_state=0).fit(X)
    draws, labels = model.sample(30_000)
    assert draws.shape == (30_000, 2) and labels.shape == (30_000,)
    frequencies = np.bincount(labels, minlength=3) / len(labels)
    # Within five binomial standard errors.
    assert np.all(
        np.abs(frequencies - model.weights_)
        < 5 * np.sqrt(model.weights_ * (1 - model.weights_) / len(labels))
    )
    for k in range(3):
        # Each sample covariance entry has standard error
        # sqrt((S_ij^2 + S_ii S_jj) / n_k) (was: rtol 0.1, atol 0.05).
        group, covariance = draws[labels == k], model.covariances_[k]
        diagonal = np.diag(covariance)
        standard_errors = np.sqrt(
            (covariance**2 + np.outer(diagonal, diagonal)) / len(group)
        )
        z_scores = (np.cov(group.T) - covariance) / standard_errors
        assert_allclose(z_scores, 0.0, atol=N_STANDARD_ERRORS)


def test_float32_input_keeps_its_dtype():
    X, _ = make_blobs_mixture(300, random_state=13)
    model = BayesianGaussianMixture(n_components=3, random_state=0).fit(
        X.astype(np.float32)
    )
    assert model.means_.dtype == np.float32 and model.covariances_.dtype == np.float32
    reference = BayesianGaussianMixture(n_components=3, random_state=0).fit(X)
    # float32 blocks (u = 6e-8) through a full fit: the largest difference seen
    # is 3.4e-3 of the allowed rtol 1e-4 plus atol 1e-4.
    assert_allclose(model.means_, reference.means_, rtol=1e-4, atol=1e-4)


def test_verbose_prints_progress(capsys):
    X, _ = make_blobs_mixture(200, random_state=14)
    BayesianGaussianMixture(
        n_components=3, verbose=2, verbose_interval=1, random_state=0
    ).fit(X)
    out = capsys.readouterr().out
    assert "Initialization 0" in out and "Iteration 1" in out and "converged" in out


# ---------------------------------------------------------------- errors
@pytest.fixture
def small():
    return make_blobs_mixture(50, random_state=15)[0]


@pytest.mark.parametrize(
    "settings, error, message",
    [
        (
            dict(degrees_of_freedom_prior=0.5),
            ValueError,
            r"The parameter 'degrees_of_freedom_prior' should be greater than 1, but got 0.500",
        ),
        (
            dict(mean_prior=[0.0, 0.0, 0.0]),
            ValueError,
            r"The parameter 'means' should have the shape of \(2,\), but got \(3,\)",
        ),
        (
            dict(covariance_prior=np.eye(3)),
            ValueError,
            r"The parameter 'full covariance_prior' should have the shape of \(2, 2\)",
        ),
        (
            dict(covariance_prior=[[1.0, 2.0], [2.0, 1.0]]),
            ValueError,
            r"'full precision' should be symmetric, positive-definite",
        ),
        (
            dict(covariance_type="diag", covariance_prior=[1.0, -1.0]),
            ValueError,
            r"'diag precision' should be positive",
        ),
        (
            dict(covariance_type="spherical", covariance_prior=[1.0, 2.0]),
            ValueError,
            (
                r"The parameter 'spherical covariance_prior' should be a float, but got an array "
                r"of shape \(2,\)"
            ),
        ),
        (
            dict(weight_concentration_prior_type="pitman_yor"),
            ValueError,
            r"The 'weight_concentration_prior_type' parameter .* must be a str among",
        ),
        (
            dict(weight_concentration_prior=0.0),
            ValueError,
            (
                r"The 'weight_concentration_prior' parameter .* must be None or a float in the "
                r"range \(0.0, inf\)"
            ),
        ),
        (
            dict(covariance_type="banded"),
            ValueError,
            r"The 'covariance_type' parameter .* must be a str among",
        ),
        (
            dict(n_components=60),
            ValueError,
            r"Expected n_samples >= n_components but got n_components = 60, n_samples = 50",
        ),
    ],
)
def test_bad_settings_are_clear_errors(small, settings, error, message):
    with pytest.raises(error, match=message):
        BayesianGaussianMixture(**settings).fit(small)


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "score_samples", "score"]
)
def test_methods_before_fit_raise_not_fitted(small, method):
    with pytest.raises(NotFittedError, match="is not fitted yet"):
        getattr(BayesianGaussianMixture(), method)(small)


def test_feature_count_mismatch_at_predict(small):
    model = BayesianGaussianMixture(n_components=2, random_state=0).fit(small)
    with pytest.raises(
        ValueError,
        match="X has 3 features, but BayesianGaussianMixture "
        "is expecting 2 features as input",
    ):
        model.predict(np.zeros((4, 3)))


# ------------------------------------------- sample weights and missing values
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sample_weight_two_is_a_repeated_sample(covariance_type):
    X, _ = make_blobs_mixture(300, n_components=3, random_state=8)
    sample_weight = np.ones(len(X))
    sample_weight[::4] = 2.0
    repeated = np.vstack([X, X[::4]])
    resp = starting_responsibilities(len(X), 4, seed=2)
    settings = dict(
        n_components=4, covariance_type=covariance_type, tol=0.0, max_iter=30
    )
    weighted = from_responsibilities(BayesianGaussianMixture, resp)(**settings)
    weighted.fit(X, sample_weight=sample_weight)
    duplicated = from_responsibilities(
        BayesianGaussianMixture, np.vstack([resp, resp[::4]])
    )(**settings)
    duplicated.fit(repeated)
    # The same statistics summed in another order, priors from the same
    # weighted column moments: rounding only, as RTOL.
    for name in PRIOR_ATTRIBUTES + POSTERIOR_ATTRIBUTES:
        assert_allclose(
            getattr(weighted, name),
            getattr(duplicated, name),
            rtol=RTOL,
            atol=ATOL,
            err_msg=name,
        )
    assert_allclose(weighted.lower_bounds_, duplicated.lower_bounds_, rtol=RTOL)


def missing_data(n_samples=400, fraction=0.2, seed=9):
    X, _ = make_blobs_mixture(
        n_samples, n_components=3, n_features=3, separation=3.0, random_state=seed
    )
    return X, remove_at_random(X, fraction, random_state=seed)


def test_marginalize_without_nan_is_the_ordinary_fit(covariance_type):
    X, _ = missing_data()
    settings = dict(n_components=4, covariance_type=covariance_type, random_state=0)
    plain = BayesianGaussianMixture(**settings).fit(X)
    marginal = BayesianGaussianMixture(missing_values="marginalize", **settings).fit(X)
    for name in POSTERIOR_ATTRIBUTES:
        assert_array_equal(getattr(marginal, name), getattr(plain, name), err_msg=name)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_bound_with_missing_values_never_decreases(covariance_type):
    """Coordinate ascent on the bound with q(z, x_missing): each update raises it."""
    _, X_missing = missing_data()
    model = BayesianGaussianMixture(
        n_components=5,
        covariance_type=covariance_type,
        missing_values="marginalize",
        tol=0.0,
        max_iter=60,
        random_state=0,
    ).fit(X_missing)
    # Each bound is a sum of n = 400 terms of size ~10: ~n u = 1e-13 relative
    # of rounding. Bound 1e-10 relative.
    assert_never_decreases(model.lower_bounds_, rtol=1e-10)
    assert model.lower_bounds_[-1] > model.lower_bounds_[0] + 1.0


def test_responsibilities_with_missing_values_follow_the_formula(covariance_type):
    r"""r_nk ∝ exp(E[log w_k] + c_k) N(x_o | m_k,o, [(ν_k W_k)^{-1}]_oo), from scipy.stats."""
    _, X_missing = missing_data()
    model = BayesianGaussianMixture(
        n_components=4,
        covariance_type=covariance_type,
        missing_values="marginalize",
        max_iter=300,
        random_state=0,
    ).fit(X_missing)
    posterior = VariationalPosterior(
        model.weight_concentration_,
        model.mean_precision_,
        model.means_,
        model.degrees_of_freedom_,
        model.covariances_,
        model.precisions_cholesky_,
    )
    n_features = X_missing.shape[1]
    log_weights = expected_log_weights(
        model.weight_concentration_, model.weight_concentration_prior_type
    ) + expected_log_gaussian_offset(posterior, n_features)
    covariances = full_covariances(model.covariances_, covariance_type, 4, n_features)
    rows = X_missing[:40]
    log_rho = np.empty((len(rows), 4))
    for n, row in enumerate(rows):
        o = ~np.isnan(row)
        for k in range(4):
            log_rho[n, k] = log_weights[k] + multivariate_normal.logpdf(
                row[o], model.means_[k, o], covariances[k][np.ix_(o, o)]
            )
    # Log-densities of size ~10 by two routes: ~100 u each; responsibilities
    # are exponentials of their differences. Bound 1e-9 (tiny ones: atol).
    assert_allclose(model.score_samples(rows), logsumexp(log_rho, axis=1), rtol=1e-9)
    assert_allclose(
        model.predict_proba(rows), softmax(log_rho, axis=1), rtol=1e-9, atol=1e-300
    )
