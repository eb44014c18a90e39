"""MAP EM with mclust's conjugate prior (gmmlib.priors, GaussianMixture(prior=...)).

The building blocks are checked against scipy (the log prior density) and
against the definition (the M-step maximises Q + log p), the fits against R's
mclust from the same start (marked ``requires_mclust``), and the estimator
options (SQUAREM, missing values, dask, validation) on their own.
"""

import warnings

import numpy as np
import pytest
from bounds import assert_not_less
from mclust_reference import requires_mclust, run_mclust
from numpy.testing import assert_allclose
from scipy import stats
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

from gmmlib import GaussianMixture
from gmmlib.covariance import (
    COVARIANCE_TYPES,
    full_covariances,
    precision_cholesky_from_covariances,
)
from gmmlib.datasets import load_old_faithful, make_blobs_mixture, remove_at_random
from gmmlib.em_steps import (
    MixtureParameters,
    SufficientStatistics,
    estimate_log_gaussian_prob,
    parameters_from_model,
    statistics_from_resp,
)
from gmmlib.priors import (
    ConjugatePrior,
    check_prior,
    default_prior,
    log_prior,
    map_m_step,
)
from gmmlib.timing import common_start

#: gmmlib's covariance types and mclust's names for the same models.
MCLUST_MODELS = {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII"}

FAITHFUL = load_old_faithful()
IRIS = load_iris().data
DATA = {"faithful": FAITHFUL, "iris": IRIS}


def prior_for(X, n_components, covariance_type):
    """mclust's default prior for X, validated."""
    prior = default_prior(
        X.mean(axis=0), np.cov(X.T), len(X), n_components, covariance_type
    )
    return check_prior(prior, covariance_type, X.shape[1])


def statistics(X, resp, covariance_type):
    """The sufficient statistics of given responsibilities, centred on the data mean."""
    shift = X.mean(axis=0)
    nk, first, second = statistics_from_resp(X, resp, covariance_type, shift=shift)
    return SufficientStatistics(nk, first, second, np.nan, float(len(X)), shift)


def random_resp(n_samples, n_components, seed=0):
    return np.random.default_rng(seed).dirichlet(np.ones(n_components), n_samples)


def fit_quietly(model, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X)


def r_full_covariances(flat, n_components, n_features):
    """mclust's sigma array (p, p, G), passed out as aperm(sigma, c(3, 1, 2))."""
    return flat.reshape(n_components, n_features, n_features, order="F")


# ------------------------------------------------------------ the log prior
@pytest.mark.parametrize("shrinkage", [0.01, 0.0])
def test_log_prior_matches_scipy(covariance_type, shrinkage):
    X = FAITHFUL
    n_components = 3
    prior = prior_for(X, n_components, covariance_type)
    prior = ConjugatePrior(shrinkage, prior.mean, prior.degrees_of_freedom, prior.scale)
    params = map_m_step(
        statistics(X, random_resp(len(X), n_components), covariance_type),
        prior,
        covariance_type,
    )
    covariances = full_covariances(params.covariances, covariance_type, 3, 2)
    expected = 0.0
    for mean, covariance in zip(params.means, covariances, strict=True):
        if shrinkage > 0:
            expected += stats.multivariate_normal.logpdf(
                mean, prior.mean, covariance / shrinkage
            )
        if covariance_type == "full":
            expected += stats.invwishart.logpdf(
                covariance, df=prior.degrees_of_freedom, scale=prior.scale
            )
        elif covariance_type == "diag":
            expected += stats.invgamma.logpdf(
                np.diag(covariance),
                0.5 * prior.degrees_of_freedom,
                scale=0.5 * prior.scale,
            ).sum()
        elif covariance_type == "spherical":
            expected += stats.invgamma.logpdf(
                covariance[0, 0],
                0.5 * prior.degrees_of_freedom,
                scale=0.5 * prior.scale,
            )
    if covariance_type == "tied":
        expected += stats.invwishart.logpdf(
            params.covariances, df=prior.degrees_of_freedom, scale=prior.scale
        )
    # Sums of a few logs and quadratic forms of size ~10: rounding ~1e-15
    # relative in both; scipy's multigammaln and slogdet agree to that.
    # Largest difference seen across OpenBLAS kernels, thread counts and gmmlib's block size: 3.6e-16
    # relative; bound 1e-12.
    assert_allclose(log_prior(params, prior), expected, rtol=1e-12)


# ---------------------------------------------------------------- M-step
def objective(X, resp, params, prior):
    r"""Q(Theta) + log p(Theta) for given responsibilities, from the densities."""
    log_dens = estimate_log_gaussian_prob(
        X, params.means, params.precisions_cholesky, params.covariance_type
    )
    q = np.sum(resp * (log_dens + np.log(params.weights)))
    return q + log_prior(params, prior)


def perturbed(params, rng, size):
    """The parameters moved by a random relative step of the given size."""
    weights = params.weights * np.exp(size * rng.standard_normal(params.weights.shape))
    means = params.means + size * rng.standard_normal(params.means.shape)
    covariances = full_covariances(
        params.covariances, params.covariance_type, *params.means.shape
    )
    factor = np.eye(params.means.shape[1]) + size * rng.standard_normal(
        covariances.shape
    )
    covariances = factor @ covariances @ np.swapaxes(factor, 1, 2)
    kept = {
        "full": covariances,
        "tied": covariances[0],
        "diag": np.diagonal(covariances, axis1=1, axis2=2).copy(),
        "spherical": np.diagonal(covariances, axis1=1, axis2=2).mean(axis=1),
    }[params.covariance_type]
    return MixtureParameters(
        weights / weights.sum(),
        means,
        kept,
        precision_cholesky_from_covariances(kept, params.covariance_type),
        params.covariance_type,
    )


@pytest.mark.parametrize("shrinkage", [0.01, 1.0, 0.0])
def test_map_m_step_maximises_q_plus_log_prior(covariance_type, shrinkage):
    X = FAITHFUL
    resp = random_resp(len(X), 3, seed=1)
    prior = prior_for(X, 3, covariance_type)
    prior = ConjugatePrior(shrinkage, prior.mean, prior.degrees_of_freedom, prior.scale)
    best = map_m_step(statistics(X, resp, covariance_type), prior, covariance_type)
    peak = objective(X, resp, best, prior)
    rng = np.random.default_rng(2)
    for size in (1e-2, 1e-3):
        for _ in range(20):
            other = objective(X, resp, perturbed(best, rng, size), prior)
            # At the maximiser the loss is second order in the step: at
            # least ~size^2 times the curvature (~1), far above the rounding
            # of sums of 272 terms of size ~1e3 (~1e-10).
            assert other < peak


# --------------------------------------------------------- against mclust
@requires_mclust
@pytest.mark.parametrize("n_components", [2, 3])
@pytest.mark.parametrize("data_name", sorted(DATA))
def test_default_prior_is_mclusts(data_name, n_components, covariance_type):
    X = DATA[data_name]
    model = MCLUST_MODELS[covariance_type]
    reference = run_mclust(
        f"""
        prior <- defaultPrior(X, G = {n_components}, modelName = "{model}")
        out("shrinkage", prior$shrinkage); out("mean", prior$mean)
        out("dof", prior$dof); out("scale", prior$scale)
        """,
        X=X,
    )
    ours = prior_for(X, n_components, covariance_type)
    assert ours.shrinkage == reference["shrinkage"].item()
    assert ours.degrees_of_freedom == reference["dof"].item()
    # Column means and covariances: sums of at most 150 terms, rounded
    # differently in numpy and R (~n u = 2e-14 relative); largest seen
    # across OpenBLAS kernels, thread counts and gmmlib's block size: 1.0e-15; bound 1e-12.
    assert_allclose(ours.mean, reference["mean"].ravel(), rtol=1e-12)
    expected_scale = reference["scale"]
    if covariance_type in ("diag", "spherical"):
        expected_scale = expected_scale.item()
    assert_allclose(ours.scale, expected_scale, rtol=1e-12)


@requires_mclust
@pytest.mark.parametrize("n_components", [2, 3])
def test_map_m_step_is_mclusts_mstep(n_components, covariance_type):
    X = FAITHFUL
    resp = random_resp(len(X), n_components, seed=3)
    ours = map_m_step(
        statistics(X, resp, covariance_type),
        prior_for(X, n_components, covariance_type),
        covariance_type,
    )
    reference = run_mclust(
        f"""
        m <- mstep(modelName = "{MCLUST_MODELS[covariance_type]}", data = X,
                   z = z, prior = priorControl())
        out("pro", m$parameters$pro); out("mean", t(m$parameters$mean))
        out("sigma", aperm(m$parameters$variance$sigma, c(3, 1, 2)))
        """,
        X=X,
        z=resp,
    )
    # One M-step from the same statistics, rounding only: sums of 272 terms
    # (n u = 3e-14) and the cancellation in T/N - mu mu^T, amplified by at
    # most the ratio of the data's second moments to a covariance (~1e3
    # here); largest difference seen across OpenBLAS kernels, thread counts and gmmlib's block size:
    # 4.4e-15 relative; bound 1e-10.
    assert_allclose(ours.weights, reference["pro"].ravel(), rtol=1e-10)
    assert_allclose(ours.means, reference["mean"], rtol=1e-10)
    assert_allclose(
        full_covariances(ours.covariances, covariance_type, n_components, 2),
        r_full_covariances(reference["sigma"], n_components, 2),
        rtol=1e-10,
        atol=1e-12,  # off-diagonal zeros of 'diag' and 'spherical'
    )


#: EM iterations compared with mclust's me(): enough to leave the start far
#: behind.
N_ITERATIONS = 60


@requires_mclust
@pytest.mark.parametrize("n_components", [2, 3])
@pytest.mark.parametrize("data_name", sorted(DATA))
def test_map_em_is_mclusts_me(data_name, n_components, covariance_type):
    """The same MAP EM from the same start as mclust's me(prior = priorControl())."""
    X = DATA[data_name]
    n_features = X.shape[1]
    start = common_start(X, n_components, covariance_type, random_state=4)
    settings = dict(
        covariance_type=covariance_type, prior="default", reg_covar=0.0, **start
    )
    resp = fit_quietly(
        GaussianMixture(n_components, max_iter=0, **settings), X
    ).predict_proba(X)
    ours = fit_quietly(
        GaussianMixture(n_components, max_iter=N_ITERATIONS, tol=0.0, **settings), X
    )
    model = MCLUST_MODELS[covariance_type]
    reference = run_mclust(
        f"""
        e <- me(X, modelName = "{model}", z = z, prior = priorControl(),
                control = emControl(tol = 0, itmax = {N_ITERATIONS}), warn = FALSE)
        out("pro", e$parameters$pro); out("mean", t(e$parameters$mean))
        out("sigma", aperm(e$parameters$variance$sigma, c(3, 1, 2)))
        out("loglik", e$loglik)
        out("bic", bic("{model}", e$loglik, nrow(X), ncol(X), ncol(z)))
        out("iterations", attr(e, "info")["iterations"])
        """,
        X=X,
        z=resp,
    )
    # me() stops early only if the log-likelihood repeats exactly (tol = 0);
    # gmmlib then takes as many iterations.
    n_iter = int(abs(reference["iterations"].item()))
    assert n_iter >= 5
    ours = fit_quietly(
        GaussianMixture(n_components, max_iter=n_iter, tol=0.0, **settings), X
    )
    # The same EM from the same start, rounding only: each step rounds at
    # ~u times the cancellation in T/N - mu mu^T (~1e3) and EM contracts
    # errors near its fixed point; the measurements of ML EM against
    # mclust found 7e-12 at most. Largest difference seen across OpenBLAS kernels, thread counts and gmmlib's block size:
    # 7.6e-13 relative (means), 2.5e-14 (log-likelihood); bound 1e-8.
    rtol = 1e-8
    assert_allclose(ours.weights_, reference["pro"].ravel(), rtol=rtol)
    assert_allclose(ours.means_, reference["mean"], rtol=rtol)
    assert_allclose(
        full_covariances(ours.covariances_, covariance_type, n_components, n_features),
        r_full_covariances(reference["sigma"], n_components, n_features),
        rtol=rtol,
        atol=rtol * np.abs(np.cov(X.T)).max(),  # entries that are zero
    )
    # mclust's loglik with a prior is the log-likelihood (not the
    # log-posterior) at its final parameters, and its BIC is
    # 2 loglik - p log n: gmmlib's bic is the same number, negated.
    log_likelihood = ours.score(X) * len(X)
    assert_allclose(log_likelihood, reference["loglik"].item(), rtol=rtol)
    assert_allclose(ours.bic(X), -reference["bic"].item(), rtol=rtol)


# -------------------------------------------------- the estimator option
@pytest.mark.parametrize("acceleration", [None, "squarem"])
def test_log_posterior_never_decreases(covariance_type, acceleration):
    X = FAITHFUL
    model = fit_quietly(
        GaussianMixture(
            3,
            covariance_type=covariance_type,
            prior="default",
            reg_covar=0.0,
            tol=1e-10,
            max_iter=500,
            random_state=0,
            acceleration=acceleration,
        ),
        X,
    )
    history = model.history_
    assert model.n_iter_ > 5
    # MAP EM never lowers the log-posterior; near convergence only rounding
    # (~1e-15 relative for a mean of 272 terms) moves it. Slack 1e-12.
    assert_not_less(
        history["log_likelihood_after"], history["log_likelihood_before"], rtol=1e-12
    )
    assert_not_less(
        history["log_likelihood_before"][1:],
        history["log_likelihood_after"][:-1],
        rtol=1e-12,
    )
    # lower_bound_ is the value at the parameters of the last E-step (those
    # the last M-step started from), as without a prior; the history's last
    # value is the mean log-posterior at the fitted parameters, recomputed
    # here from score() and log_prior (rounding only; largest seen
    # across OpenBLAS kernels, thread counts and gmmlib's block size: 1.4e-14).
    assert model.lower_bound_ == history["log_likelihood_before"][-1]
    log_posterior = model.score(X) + log_prior(
        parameters_from_model(model), model.prior_
    ) / len(X)
    assert_allclose(history["log_likelihood_after"][-1], log_posterior, rtol=1e-12)


def test_squarem_reaches_the_same_map_estimate():
    X = FAITHFUL
    settings = dict(
        prior="default",
        reg_covar=0.0,
        tol=1e-12,
        max_iter=5000,
        **common_start(X, 2, "full"),
    )
    plain = fit_quietly(GaussianMixture(2, **settings), X)
    fast = fit_quietly(GaussianMixture(2, acceleration="squarem", **settings), X)
    assert fast.n_iter_ < plain.n_iter_
    # Both stop within tol = 1e-12 of the same maximum; the parameters then
    # agree to about sqrt(1e-12 / curvature) ~ 1e-6 (largest seen across
    # kernels, threads and blocks: 2.2e-9); bound 1e-5. The lower bounds
    # differ by far less than the stopping tolerance (2.7e-15 seen); bound
    # 1e-12 relative.
    assert_allclose(fast.means_, plain.means_, rtol=1e-5)
    assert_allclose(fast.lower_bound_, plain.lower_bound_, rtol=1e-12)


def test_prior_keeps_a_component_from_collapsing(covariance_type):
    """Three copies of one point: plain EM collapses onto them, MAP EM does not."""
    rng = np.random.default_rng(5)
    X = np.vstack([rng.standard_normal((200, 2)), np.full((3, 2), 0.3)])
    start = dict(
        weights_init=[0.9, 0.1],
        means_init=[[0.0, 0.0], [0.3, 0.3]],
        precisions_init={
            "full": np.array([np.eye(2), 1e4 * np.eye(2)]),
            "tied": np.eye(2),
            "diag": np.array([[1.0, 1.0], [1e4, 1e4]]),
            "spherical": np.array([1.0, 1e4]),
        }[covariance_type],
    )
    settings = dict(covariance_type=covariance_type, reg_covar=0.0, max_iter=200)
    if covariance_type != "tied":  # one shared covariance cannot collapse
        with pytest.raises(ValueError, match="ill-defined empirical covariance"):
            fit_quietly(GaussianMixture(2, **settings, **start), X)
    model = fit_quietly(GaussianMixture(2, prior="default", **settings, **start), X)
    # The posterior mode's covariance is at least the prior's scale over its
    # denominator in the Loewner order, whatever the data; every type's
    # denominator is at most nu + d n + d + 2 + K (module gmmlib.priors).
    prior = model.prior_
    n_features = n_components = 2
    floor = np.min(np.linalg.eigvalsh(np.atleast_2d(prior.scale))) / (
        prior.degrees_of_freedom + n_features * len(X) + n_features + 2 + n_components
    )
    covariances = full_covariances(model.covariances_, covariance_type, 2, 2)
    assert np.linalg.eigvalsh(covariances).min() >= floor
    assert np.isfinite(model.lower_bound_)


@requires_mclust
def test_prior_removes_the_degenerate_maxima_on_diabetes():
    """mclust's diabetes data, 6 full components from ten k-means starts."""
    X = run_mclust('data(diabetes); out("X", diabetes[, -1])')["X"]
    smallest = {}
    for prior in (None, "default"):
        smallest[prior] = []
        for seed in range(10):
            try:
                model = fit_quietly(
                    GaussianMixture(6, prior=prior, max_iter=1000, random_state=seed),
                    X,
                )
            except ValueError:  # a collapse that reg_covar did not catch
                smallest[prior].append(0.0)
                continue
            smallest[prior].append(np.linalg.eigvalsh(model.covariances_).min())
    # Without a prior some start ends on a component whose smallest
    # eigenvalue is reg_covar (1e-6) itself, against data variances of 3e2
    # to 1e5 (seen: 1.0e-6 from one start of ten) ...
    assert min(smallest[None]) < 10 * GaussianMixture().reg_covar
    # ... with the prior none can: every covariance is at least the prior's
    # scale over nu + N_k + d + 2 <= (d + 2) + n + d + 2, whose smallest
    # eigenvalue is 0.52 here (the smallest seen at the fits: 5.8).
    prior = model.prior_
    floor = np.linalg.eigvalsh(prior.scale).min() / (
        prior.degrees_of_freedom + len(X) + X.shape[1] + 2
    )
    assert floor > 0.5
    assert min(smallest["default"]) >= floor


def test_prior_with_missing_values_never_lowers_the_log_posterior(covariance_type):
    X = make_blobs_mixture(
        300, n_components=3, n_features=3, separation=2.0, random_state=10
    )[0]
    X = remove_at_random(X, 0.2, random_state=11)
    model = fit_quietly(
        GaussianMixture(
            3,
            covariance_type=covariance_type,
            prior="default",
            missing_values="marginalize",
            tol=1e-10,
            max_iter=300,
            random_state=0,
        ),
        X,
    )
    history = model.history_
    assert model.n_iter_ > 5
    # As without missing values: MAP EM on the expected statistics never
    # lowers the observed-data log-posterior; rounding ~1e-15; with
    # reg_covar = 1e-6 added after the mode, steps near convergence can
    # lose ~1e-6 times the curvature (seen: none below); slack 1e-10.
    assert_not_less(
        history["log_likelihood_after"], history["log_likelihood_before"], rtol=1e-10
    )


def test_prior_on_a_dask_array_is_the_in_memory_fit(covariance_type):
    da = pytest.importorskip("dask.array")
    X = make_blobs_mixture(1000, n_components=3, n_features=3, random_state=12)[0]
    settings = dict(
        covariance_type=covariance_type,
        prior="default",
        tol=0.0,
        max_iter=10,
        **common_start(X, 3, covariance_type),
    )
    in_memory = fit_quietly(GaussianMixture(3, **settings), X)
    on_dask = fit_quietly(
        GaussianMixture(3, **settings), da.from_array(X, chunks=(200, -1))
    )
    # As in test_distributed: the same EM with the sums split into dask's
    # chunks, rounding only (~n u per sum); the prior's column covariance is
    # one more such sum. Largest seen across OpenBLAS kernels, thread counts and gmmlib's block size:
    # 3.8e-15 (means), 1.7e-13 (covariances); bound 1e-10.
    assert_allclose(on_dask.means_, in_memory.means_, rtol=1e-10)
    assert_allclose(
        on_dask.covariances_, in_memory.covariances_, rtol=1e-10, atol=1e-13
    )
    assert_allclose(on_dask.lower_bounds_, in_memory.lower_bounds_, rtol=1e-10)
    assert_allclose(on_dask.prior_.scale, in_memory.prior_.scale, rtol=1e-10)


def test_dict_prior_replaces_only_what_it_names():
    X = FAITHFUL
    model = fit_quietly(GaussianMixture(2, prior={"shrinkage": 0.5}, max_iter=1), X)
    default = prior_for(X, 2, "full")
    assert model.prior_.shrinkage == 0.5
    assert model.prior_.degrees_of_freedom == default.degrees_of_freedom
    # The data's mean and covariance, computed by the data source (rounding).
    assert_allclose(model.prior_.mean, default.mean, rtol=1e-12)
    assert_allclose(model.prior_.scale, default.scale, rtol=1e-12)


def test_prior_object_is_used_as_given():
    X = FAITHFUL
    prior = ConjugatePrior(0.0, np.zeros(2), 4.0, np.eye(2))
    model = fit_quietly(GaussianMixture(2, prior=prior, max_iter=1), X)
    assert model.prior_.shrinkage == 0.0
    assert_allclose(model.prior_.scale, np.eye(2), rtol=0)


def test_no_prior_is_maximum_likelihood():
    X = FAITHFUL
    settings = dict(tol=0.0, max_iter=5, **common_start(X, 2, "full"))
    default = fit_quietly(GaussianMixture(2, **settings), X)
    explicit = fit_quietly(GaussianMixture(2, prior=None, **settings), X)
    assert explicit.prior_ is None
    assert_allclose(explicit.means_, default.means_, rtol=0)
    assert default.lower_bound_ == default.history_["log_likelihood_before"][-1]


@pytest.mark.parametrize(
    ("prior", "covariance_type", "message"),
    [
        ({"kappa": 1.0}, "full", "Unknown prior hyperparameters"),
        ({"shrinkage": -1.0}, "full", "shrinkage must be"),
        ({"degrees_of_freedom": 1.0}, "full", "degrees_of_freedom must be"),
        ({"degrees_of_freedom": 0.0}, "diag", "degrees_of_freedom must be"),
        ({"mean": [0.0]}, "full", "mean must be"),
        ({"scale": np.eye(3)}, "tied", "scale must be of shape"),
        ({"scale": -np.eye(2)}, "full", "symmetric positive definite"),
        ({"scale": [1.0, 1.0]}, "spherical", "scale must be a positive number"),
        ({"scale": [1.0, -1.0]}, "diag", "scale must be a positive number or"),
    ],
)
def test_bad_priors_are_refused(prior, covariance_type, message):
    with pytest.raises(ValueError, match=message):
        GaussianMixture(2, covariance_type=covariance_type, prior=prior).fit(FAITHFUL)


def test_prior_needs_the_exact_m_step():
    with pytest.raises(ValueError, match="needs m_step='exact'"):
        GaussianMixture(2, prior="default", m_step="ecm").fit(FAITHFUL)


def test_partial_fit_refuses_a_prior():
    with pytest.raises(ValueError, match="partial_fit does not support a prior"):
        GaussianMixture(2, prior="default").partial_fit(FAITHFUL)


def test_prior_of_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="prior"):
        GaussianMixture(2, prior="mclust").fit(FAITHFUL)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_diag_and_spherical_default_scale_is_the_mean_variance(covariance_type):
    X = IRIS
    prior = prior_for(X, 3, covariance_type)
    expected = np.cov(X.T) / 3 ** (2 / 4)
    if covariance_type in ("diag", "spherical"):
        expected = np.trace(expected) / 4
    # The same few operations on the same numbers: rounding only.
    assert_allclose(prior.scale, expected, rtol=1e-14)
