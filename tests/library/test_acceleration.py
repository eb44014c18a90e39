"""SQUAREM (gmmlib.acceleration and GaussianMixture(acceleration='squarem'))."""

import numpy as np
import pytest
from bounds import assert_never_decreases
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from gmmlib import GaussianMixture
from gmmlib.acceleration import mixture_to_vector, vector_to_mixture
from gmmlib.datasets import load_old_faithful, make_blobs_mixture
from gmmlib.em_steps import parameters_from_model
from gmmlib.timing import common_start

X_SLOW = load_old_faithful()


def test_coordinates_round_trip(covariance_type):
    X, _ = make_blobs_mixture(300, n_components=3, n_features=3, random_state=0)
    params = parameters_from_model(
        GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    )
    again = vector_to_mixture(mixture_to_vector(params), params)
    # Weights renormalised (a sum of 3: an ulp), factors recomputed from the
    # same covariances: a few u relative. Bound 1e-12.
    assert_allclose(again.weights, params.weights, rtol=1e-12)
    assert_array_equal(again.means, params.means)
    assert_array_equal(again.covariances, params.covariances)
    assert_allclose(again.precisions_cholesky, params.precisions_cholesky, rtol=1e-12)


@pytest.mark.parametrize("damage", ["weight", "covariance"])
def test_an_invalid_jump_is_refused(covariance_type, damage):
    X, _ = make_blobs_mixture(300, n_components=3, n_features=3, random_state=1)
    params = parameters_from_model(
        GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    )
    vector = mixture_to_vector(params)
    # The first weight, or the first covariance entry (a variance), made negative.
    vector[0 if damage == "weight" else 3 + 9] = -1.0
    with pytest.raises(ValueError):
        vector_to_mixture(vector, params)


def test_squarem_finds_em_fixed_point_in_fewer_iterations(covariance_type):
    start = common_start(X_SLOW, 3, covariance_type, random_state=0)
    settings = dict(covariance_type=covariance_type, tol=1e-12, max_iter=20000, **start)
    plain = GaussianMixture(3, **settings).fit(X_SLOW)
    fast = GaussianMixture(3, acceleration="squarem", **settings).fit(X_SLOW)
    assert plain.converged_ and fast.converged_
    # The same fixed point: both stopped with changes below 1e-12 per
    # iteration on a linear rate below 0.99, so within ~1e-10 of the limit.
    # Bound 1e-8 on the log-likelihood, 1e-4 relative on the parameters
    # (a flat likelihood: parameters move ~sqrt of the likelihood gap).
    assert_allclose(fast.score(X_SLOW), plain.score(X_SLOW), rtol=1e-8)
    order = np.argsort(fast.means_[:, 0])
    reference = np.argsort(plain.means_[:, 0])
    assert_allclose(fast.means_[order], plain.means_[reference], rtol=1e-4)
    # Far fewer cycles than EM iterations on this slow problem.
    assert fast.n_iter_ < plain.n_iter_ / 2


@pytest.mark.parametrize("m_step", ["exact", "ecm", "gradient"])
def test_squarem_never_lowers_the_log_likelihood(covariance_type, m_step):
    start = common_start(X_SLOW, 3, covariance_type, random_state=0)
    with pytest.warns(ConvergenceWarning):
        model = GaussianMixture(
            3,
            covariance_type=covariance_type,
            m_step=m_step,
            acceleration="squarem",
            tol=0.0,
            max_iter=60,
            **start,
        ).fit(X_SLOW)
    history = model.history_
    # Each cycle keeps a result only if its log-likelihood did not go down
    # (exact comparisons inside the cycle): no slack needed.
    assert np.all(history["log_likelihood_after"] >= history["log_likelihood_before"])
    assert_never_decreases(history["log_likelihood_after"])


def test_squarem_with_missing_values_keeps_its_guarantee():
    X, _ = make_blobs_mixture(
        400, n_components=3, n_features=3, separation=1.5, random_state=2
    )
    X[::7, 1] = np.nan
    model = GaussianMixture(
        3,
        missing_values="marginalize",
        acceleration="squarem",
        tol=1e-10,
        max_iter=2000,
        random_state=0,
    ).fit(X)
    assert model.converged_
    assert_never_decreases(model.history_["log_likelihood_after"])


def test_acceleration_is_checked():
    with pytest.raises(
        ValueError, match="The 'acceleration' parameter of GaussianMixture must be"
    ):
        GaussianMixture(2, acceleration="aitken").fit(X_SLOW)
