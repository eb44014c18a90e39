"""Properties of gmmlib.GaussianMixture that hold whatever scikit-learn does."""

import re

import numpy as np
import pytest
from bounds import assert_not_less
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from gmmlib import GaussianMixture
from gmmlib.covariance import COVARIANCE_TYPES, full_covariances
from gmmlib.datasets import make_blobs_mixture

#: Mean log-likelihoods (size ~4) of the same parameters computed twice, or a
#: mean over n <= 900 samples of log-densities each rounded to ~100 u
#: (terms up to |x - c|^2 |Lambda| ~ 100): ~1e-14 relative. Largest seen 2e-15.
MEAN_LOG_LIKELIHOOD_RTOL = 1e-12


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize(
    "init_params", ["kmeans", "k-means++", "random", "random_from_data"]
)
def test_log_likelihood_never_decreases(dataset, covariance_type, init_params):
    _, X, n_components = dataset
    model = GaussianMixture(
        n_components,
        covariance_type=covariance_type,
        init_params=init_params,
        tol=1e-8,
        max_iter=300,
        random_state=0,
    ).fit(X)
    history = model.history_
    assert len(history) == model.n_iter_ > 1
    assert_array_equal(history["iteration"], np.arange(1, model.n_iter_ + 1))
    # EM never lowers the log-likelihood. Near convergence the gain is below the
    # rounding of the two values compared (~1e-14 relative each); slack 1e-10.
    assert_not_less(
        history["log_likelihood_after"], history["log_likelihood_before"], rtol=1e-10
    )
    # The log-likelihood after one M-step is the one before the next.
    assert_allclose(
        history["log_likelihood_after"][:-1],
        history["log_likelihood_before"][1:],
        rtol=MEAN_LOG_LIKELIHOOD_RTOL,
    )
    assert_allclose(
        history["log_likelihood_before"],
        model.lower_bounds_,
        rtol=MEAN_LOG_LIKELIHOOD_RTOL,
    )
    assert_allclose(
        history["log_likelihood_after"][-1],
        model.score(X),
        rtol=MEAN_LOG_LIKELIHOOD_RTOL,
    )


def test_samples_have_the_moments_of_the_fitted_mixture(covariance_type):
    X, _ = make_blobs_mixture(800, n_components=3, n_features=3, random_state=4)
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    n_draws = 40_000
    draws, labels = model.sample(n_draws)
    assert draws.shape == (n_draws, 3)
    assert_array_equal(np.bincount(labels, minlength=3).sum(), n_draws)
    # Label frequencies: binomial standard error.
    frequencies = np.bincount(labels, minlength=3) / n_draws
    stderr = np.sqrt(model.weights_ * (1 - model.weights_) / n_draws)
    assert np.all(np.abs(frequencies - model.weights_) < 5 * stderr)
    covariances = full_covariances(
        model.covariances_, model.covariance_type, *model.means_.shape
    )
    for k in range(3):
        group = draws[labels == k]
        # Mean of each component: standard error sqrt(diag(Sigma_k) / n_k).
        mean_stderr = np.sqrt(np.diag(covariances[k]) / len(group))
        assert np.all(np.abs(group.mean(axis=0) - model.means_[k]) < 5 * mean_stderr)
        # Covariance entries: standard error of a sample covariance
        # sqrt((S_ij^2 + S_ii S_jj) / n_k).
        diag = np.diag(covariances[k])
        cov_stderr = np.sqrt((covariances[k] ** 2 + np.outer(diag, diag)) / len(group))
        assert np.all(np.abs(np.cov(group.T) - covariances[k]) < 5 * cov_stderr)


@pytest.mark.parametrize(
    "init_params", ["kmeans", "k-means++", "random", "random_from_data"]
)
def test_random_state_makes_fits_reproducible(init_params):
    X, _ = make_blobs_mixture(500, n_components=4, random_state=5)
    fits = [
        GaussianMixture(4, init_params=init_params, n_init=2, random_state=11).fit(X)
        for _ in range(2)
    ]
    assert_array_equal(fits[0].means_, fits[1].means_)
    assert_array_equal(fits[0].covariances_, fits[1].covariances_)
    assert_array_equal(fits[0].sample(20)[0], fits[1].sample(20)[0])
    other = GaussianMixture(
        4, init_params="random", max_iter=2, tol=0.0, random_state=12
    )
    with pytest.warns(ConvergenceWarning):
        other.fit(X)
    if init_params == "random":
        assert not np.allclose(other.means_, fits[0].means_)


def test_best_of_n_init_is_kept():
    X, _ = make_blobs_mixture(600, n_components=5, separation=3.0, random_state=6)
    single = [
        GaussianMixture(5, init_params="random_from_data", random_state=seed)
        .fit(X)
        .lower_bound_
        for seed in range(5)
    ]
    multi = GaussianMixture(
        5, init_params="random_from_data", n_init=5, random_state=0
    ).fit(X)
    # n_init=5 with seed 0 draws the same five starts as seeds would only by
    # chance; what must hold is that it is at least as good as its first start,
    # which is seed 0's single start, fitted by the same arithmetic: equal, or
    # better. (Here the median of the five single fits is that same fit.)
    assert multi.lower_bound_ >= single[0]
    assert multi.lower_bound_ >= np.median(single)


def test_convergence_warning_when_max_iter_is_too_small():
    X, _ = make_blobs_mixture(300, random_state=7)
    model = GaussianMixture(3, max_iter=2, tol=0.0, random_state=0)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        model.fit(X)
    assert not model.converged_ and model.n_iter_ == 2


def test_collapsed_component_raises_degenerate_covariance_error():
    """Components 0 and 1, started narrow on five copies of one point each, collapse
    at the first M-step; component 2 keeps four points in a square."""
    X = np.array(
        [[0.0, 0.0]] * 5
        + [[1.0, 1.0]] * 5
        + [[5.0, 2.0], [6.0, 2.0], [5.0, 3.0], [6.0, 3.0]]
    )
    model = GaussianMixture(
        3,
        reg_covar=0.0,
        weights_init=[5 / 14, 5 / 14, 4 / 14],
        means_init=[[0, 0], [1, 1], [5.5, 2.5]],
        precisions_init=np.stack([100 * np.eye(2)] * 3),
    )
    with pytest.raises(ValueError, match="ill-defined empirical covariance") as error:
        model.fit(X)
    # Which of the two tied components is named depends on rounding (here Cholesky
    # fails on 1, while 0 passes it and is caught by the floor): either is right.
    assert re.search(r"Component [01] has a covariance", str(error.value))


def test_warm_start_continues_from_the_last_fit():
    X, _ = make_blobs_mixture(500, random_state=8)
    model = GaussianMixture(3, max_iter=3, tol=0.0, warm_start=True, random_state=0)
    with pytest.warns(ConvergenceWarning):
        model.fit(X)
    first = model.lower_bound_
    with pytest.warns(ConvergenceWarning):
        model.fit(X)
    assert model.lower_bound_ >= first
    reference = GaussianMixture(3, max_iter=6, tol=0.0, random_state=0)
    with pytest.warns(ConvergenceWarning):
        reference.fit(X)
    # The same six EM iterations by the same arithmetic: equal in every run seen;
    # 1e-10 is far above any difference of summation order (~n u = 6e-14).
    assert_allclose(model.means_, reference.means_, rtol=1e-10)


def test_get_and_set_params_round_trip():
    model = GaussianMixture(2, covariance_type="diag", tol=1e-4)
    params = model.get_params()
    assert params["covariance_type"] == "diag" and params["tol"] == 1e-4
    model.set_params(n_components=4, covariance_type="tied")
    assert model.n_components == 4 and model.covariance_type == "tied"


def test_verbose_prints_progress(capsys):
    X, _ = make_blobs_mixture(200, random_state=9)
    GaussianMixture(3, verbose=2, verbose_interval=1, random_state=0).fit(X)
    out = capsys.readouterr().out
    assert "Initialization 0" in out and "Iteration 1" in out and "converged" in out
