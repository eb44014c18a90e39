"""Seconds per iteration of BayesianGaussianMixture: gmmlib against scikit-learn.

Plain Python, run as ``python benchmarks/bench_bayes.py``. Both libraries start
from the same responsibilities (``init_params='random_from_data'`` with the same
``random_state``: gmmlib draws them exactly as scikit-learn does), run a fixed
number of iterations (``tol=0``), and are timed alternately in one process.
The time per iteration is ``(t(n_iter) - t(0)) / n_iter``, which removes the
initialisation (and scikit-learn's final E-step) from both.
"""

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture as SklearnBayesianGaussianMixture

from gmmlib import BayesianGaussianMixture
from gmmlib.datasets import make_blobs_mixture

COMPARED = ["weights_", "means_", "covariances_", "precisions_cholesky_",
            "mean_precision_", "degrees_of_freedom_", "lower_bounds_"]


def _fit_seconds(estimator, X, max_iter, settings):
    model = estimator(max_iter=max_iter, tol=0.0, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X)
        return time.perf_counter() - start, model


def max_relative_difference(ours, theirs):
    """Largest relative difference over the fitted attributes of two models."""
    worst = 0.0
    for name in COMPARED:
        a = np.ravel(np.asarray(getattr(ours, name), dtype=np.float64))
        b = np.ravel(np.asarray(getattr(theirs, name), dtype=np.float64))
        worst = max(worst, float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300))))
    return worst


def bench_bayesian_mixture(n_samples=100_000, n_features=2, n_components=10,
                           covariance_type="full",
                           weight_concentration_prior_type="dirichlet_process",
                           n_iter=20, repeats=3, random_state=0):
    """Time both libraries per iteration from the same start.

    Returns
    -------
    result : dict
        ``sklearn_seconds`` and ``gmmlib_seconds`` (median seconds per
        iteration), ``ratio`` (scikit-learn / gmmlib) and ``max_relative_difference``
        of the fitted attributes and lower bounds.
    """
    X, _ = make_blobs_mixture(n_samples, n_components=5, n_features=n_features,
                              separation=3.0, random_state=random_state)
    settings = dict(n_components=n_components, covariance_type=covariance_type,
                    weight_concentration_prior_type=weight_concentration_prior_type,
                    init_params="random_from_data", random_state=random_state)
    per_iteration = {"sklearn": [], "gmmlib": []}
    models = {}
    for _ in range(repeats):
        for name, estimator in [("sklearn", SklearnBayesianGaussianMixture),
                                ("gmmlib", BayesianGaussianMixture)]:
            t_init, _ = _fit_seconds(estimator, X, 0, settings)
            t_run, models[name] = _fit_seconds(estimator, X, n_iter, settings)
            per_iteration[name].append((t_run - t_init) / n_iter)
    sklearn_seconds = float(np.median(per_iteration["sklearn"]))
    gmmlib_seconds = float(np.median(per_iteration["gmmlib"]))
    return dict(sklearn_seconds=sklearn_seconds, gmmlib_seconds=gmmlib_seconds,
                ratio=sklearn_seconds / gmmlib_seconds,
                max_relative_difference=max_relative_difference(models["gmmlib"],
                                                                models["sklearn"]))


def main():
    print(f"{'configuration':<44} {'sklearn s/it':>12} {'gmmlib s/it':>12} "
          f"{'ratio':>6} {'max rel diff':>13}")
    for prior in ["dirichlet_process", "dirichlet_distribution"]:
        result = bench_bayesian_mixture(weight_concentration_prior_type=prior)
        label = f"100,000 x 2, 10 full, {prior}"
        print(f"{label:<44} {result['sklearn_seconds']:12.4f} "
              f"{result['gmmlib_seconds']:12.4f} {result['ratio']:6.2f} "
              f"{result['max_relative_difference']:13.1e}")


if __name__ == "__main__":
    main()
