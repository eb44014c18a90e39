"""gmmlib.timing: what it fits and how it compares (no timing is asserted)."""

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from gmmlib import GaussianMixture
from gmmlib.datasets import make_blobs_mixture
from gmmlib.timing import common_start, compare_iteration_times, max_relative_difference


@pytest.mark.parametrize("iterations, repeats", [(1, 1), (4, 2)])
def test_each_estimator_runs_the_asked_iterations_from_the_same_start(
    iterations, repeats
):
    X, _ = make_blobs_mixture(300, random_state=0)
    start = common_start(X, 3, "full")
    factories = {
        name: (
            lambda max_iter, estimator=estimator: estimator(
                3, tol=0.0, max_iter=max_iter, **start
            )
        )
        for name, estimator in [
            ("ours", GaussianMixture),
            ("scikit-learn", SklearnGaussianMixture),
        ]
    }
    seconds, models = compare_iteration_times(factories, X, iterations, repeats)
    assert set(seconds) == set(models) == {"ours", "scikit-learn"}
    assert all(np.isfinite(value) for value in seconds.values())
    assert models["ours"].n_iter_ == models["scikit-learn"].n_iter_ == 1 + iterations
    # The same iterations from the same start in two libraries: rounding only
    # (5.1e-15 seen, relative to the largest entry); bound 1e-10.
    assert max_relative_difference(models["ours"], models["scikit-learn"]) < 1e-10


def test_max_relative_difference_scales_by_the_largest_entry():
    class Fitted:
        def __init__(self, means):
            self.means_ = np.asarray(means)

    reference = Fitted([[10.0, 0.0], [-20.0, 5.0]])
    moved = Fitted([[10.0, 0.5], [-20.0, 5.0]])
    assert max_relative_difference(moved, reference, names=("means_",)) == 0.5 / 20.0
    assert max_relative_difference(reference, reference, names=("means_",)) == 0.0
