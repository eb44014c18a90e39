"""Weighted EM: a sample of weight w counts as w copies of it."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning

from gmmlib import GaussianMixture
from gmmlib.datasets import make_blobs_mixture
from gmmlib.timing import common_start

#: Weighted rows against repeated rows: the same EM on the same statistics,
#: summed in another order (n u = 1e-13 relative per sum), through up to 500
#: iterations. Largest relative differences seen: 1.8e-13 (parameters),
#: 4.7e-16 (lower bound, bound 1e-10).
SAME_EM_RTOL = 1e-9


def test_integer_weights_equal_repeated_samples(covariance_type):
    X, _ = make_blobs_mixture(300, n_components=3, random_state=10)
    weights = np.random.default_rng(0).integers(0, 4, size=len(X))
    start = common_start(X, 3, covariance_type)
    options = dict(
        n_components=3, covariance_type=covariance_type, tol=1e-8, max_iter=500, **start
    )
    weighted = GaussianMixture(**options).fit(X, sample_weight=weights)
    repeated = GaussianMixture(**options).fit(np.repeat(X, weights, axis=0))
    # Both stop at the same iteration: the change of the lower bound nearest to
    # tol = 1e-8 ('diag': 1.0025e-8) is 2.5e-11 away from it, 1e4 times the two
    # fits' difference in it.
    assert weighted.n_iter_ == repeated.n_iter_
    for name in ["weights_", "means_", "covariances_"]:
        assert_allclose(
            getattr(weighted, name),
            getattr(repeated, name),
            rtol=SAME_EM_RTOL,
            atol=1e-12,
            err_msg=name,
        )
    assert_allclose(weighted.lower_bound_, repeated.lower_bound_, rtol=1e-10)


def test_weight_two_equals_duplicating_one_point():
    X, _ = make_blobs_mixture(200, n_components=2, random_state=11)
    start = common_start(X, 2, "full")
    weights = np.ones(len(X))
    weights[7] = 2.0
    options = dict(n_components=2, tol=0.0, max_iter=20, **start)
    with pytest.warns(ConvergenceWarning):
        weighted = GaussianMixture(**options).fit(X, sample_weight=weights)
    with pytest.warns(ConvergenceWarning):
        duplicated = GaussianMixture(**options).fit(np.vstack([X, X[7:8]]))
    # As above, through 20 iterations only: rtol 1e-10 (3.8e-15 seen).
    assert_allclose(weighted.means_, duplicated.means_, rtol=1e-10)
    assert_allclose(weighted.covariances_, duplicated.covariances_, rtol=1e-10)


def test_unit_weights_change_nothing():
    X, _ = make_blobs_mixture(200, n_components=2, random_state=12)
    plain = GaussianMixture(2, random_state=0).fit(X)
    unit = GaussianMixture(2, random_state=0).fit(X, sample_weight=np.ones(len(X)))
    # Multiplying by 1.0 changes no bit, but the weighted path may sum in another
    # order: ~n u = 2e-14. Largest seen 2.4e-16.
    assert_allclose(plain.means_, unit.means_, rtol=1e-12)
    assert_allclose(plain.lower_bounds_, unit.lower_bounds_, rtol=1e-12)
