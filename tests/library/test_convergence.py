"""Stopping rules and the rate of convergence (gmmlib.convergence)."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from gmmlib import BayesianGaussianMixture, GaussianMixture
from gmmlib.convergence import aitken_gap, has_converged, rate_from_history
from gmmlib.datasets import load_old_faithful
from gmmlib.timing import common_start

X_SLOW = load_old_faithful()


def test_aitken_gap_is_exact_for_a_geometric_sequence():
    limit, scale, rate = -3.0, 2.0, 0.9
    values = [limit - scale * rate**t for t in range(10)]
    # Three subtractions and a division of numbers ~1: ~10 u relative to the
    # gap of size ~0.8. Bound 1e-12.
    assert_allclose(aitken_gap(values), scale * rate**9, rtol=1e-12)


@pytest.mark.parametrize(
    "values, expected",
    [
        ([1.0, 2.0], math.inf),  # too few values
        ([-math.inf, 1.0, 2.0], math.inf),  # the start of a fresh run
        ([1.0, 2.0, 4.0], math.inf),  # growing steps: no limit yet
        ([1.0, 2.0, 1.5], math.inf),  # oscillation
        ([1.0, 2.0, 2.0], 0.0),  # nothing changed
    ],
)
def test_aitken_gap_refuses_to_guess(values, expected):
    assert aitken_gap(values) == expected


def test_aitken_rule_needs_two_estimates_below_tol():
    limit, rate = -3.0, 0.5
    values = [limit - rate**t for t in range(12)]
    # The estimated gaps halve at each step (2^-10 at t = 10, 2^-11 at t = 11):
    # at t = 10 one estimate is below tol, but the one before is not.
    tol = 2.0**-10 * 1.5
    stops = [has_converged(values[: t + 1], tol, "aitken") for t in range(12)]
    assert stops.index(True) == 11
    assert aitken_gap(values[:11]) < tol  # one estimate alone would have stopped


def test_change_rule_is_scikit_learns():
    assert has_converged([-math.inf, -1.0, -1.0 + 5e-4], 1e-3, "change")
    assert not has_converged([-math.inf, -1.0], 1e-3, "change")


def test_aitken_stops_closer_to_the_maximum():
    start = common_start(X_SLOW, 3, "full", random_state=0)
    limit = (
        GaussianMixture(3, tol=1e-13, max_iter=20000, acceleration="squarem", **start)
        .fit(X_SLOW)
        .score(X_SLOW)
    )
    change = GaussianMixture(3, tol=1e-6, max_iter=5000, **start).fit(X_SLOW)
    aitken = GaussianMixture(
        3, tol=1e-6, max_iter=5000, stopping="aitken", **start
    ).fit(X_SLOW)
    assert change.converged_ and aitken.converged_
    # The change rule stops where a step gains 1e-6, c / (1 - c) ~ 7 times
    # that below the limit (c ~ 0.88 here); Aitken stops within tol of it.
    # Seen: 6.5e-6 and 7.7e-7; rounding moves these by ~1e-15.
    assert limit - aitken.score(X_SLOW) < 1e-6
    assert limit - change.score(X_SLOW) > 3e-6


def test_rate_from_history_settles_at_a_constant():
    start = common_start(X_SLOW, 3, "full", random_state=0)
    model = GaussianMixture(3, tol=1e-11, max_iter=5000, **start).fit(X_SLOW)
    ratios = rate_from_history(model.history_)
    late = ratios[-60:-30]
    assert 0.0 < late.mean() < 1.0
    # Linear convergence: over 30 late steps the ratio drifts by less than
    # 0.02 (seen 0.006 as the slowest direction takes over).
    assert np.ptp(late) < 0.02


def test_bayesian_mixture_takes_the_aitken_rule():
    model = BayesianGaussianMixture(
        n_components=4, stopping="aitken", tol=1e-6, max_iter=2000, random_state=0
    ).fit(X_SLOW)
    assert model.converged_
    assert aitken_gap([-math.inf] + list(model.lower_bounds_)) < 1e-6
