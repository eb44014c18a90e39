"""Fair timing of EM iterations, for the benchmark and chapter "Empirical performance".

Two implementations of EM are compared fairly only on the same data, from the
same starting parameters, for the same number of iterations (``tol=0``), in
one process, alternating them so that both see the same state of the machine.
The time per iteration is the difference between a fit of ``1 + iterations``
iterations and a fit of one, divided by ``iterations``: validation and set-up
cancel. Medians over repeats resist the odd slow run. When the iterations
take less time than the noise of one fit, the difference is meaningless (it
can even be negative): time more iterations then.
"""

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning


def fit_seconds(model, X):
    """Wall-clock seconds of ``model.fit(X)`` (convergence warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X)
        return time.perf_counter() - start


def compare_iteration_times(factories, X, iterations=5, repeats=3):
    """Median seconds per EM iteration of several estimators, fitted alternately.

    Parameters
    ----------
    factories : dict of str to callable
        ``factories[name](max_iter)`` returns an unfitted estimator with
        ``tol=0`` and fixed starting parameters.
    X : array-like of shape (n_samples, n_features), or dict of str to array-like
        The data, or the data of each estimator (for instance in two dtypes).
    iterations : int, default=5
        Iterations timed beyond the first.
    repeats : int, default=3
        Runs of each estimator; the median is reported.

    Returns
    -------
    seconds : dict of str to float
        Seconds per iteration of each estimator: the median time of the long
        fits minus that of the one-iteration fits, divided by ``iterations``.
    models : dict of str to estimator
        Each estimator after its last fit of ``1 + iterations`` iterations.
    """
    data = X if isinstance(X, dict) else dict.fromkeys(factories, X)
    short = {name: [] for name in factories}
    long = {name: [] for name in factories}
    models = {}
    for _ in range(repeats):
        for name, factory in factories.items():
            short[name].append(fit_seconds(factory(1), data[name]))
            models[name] = factory(1 + iterations)
            long[name].append(fit_seconds(models[name], data[name]))
    seconds = {
        name: (np.median(long[name]) - np.median(short[name])) / iterations
        for name in factories
    }
    return {name: float(value) for name, value in seconds.items()}, models


def common_start(X, n_components, covariance_type="full", random_state=0):
    """Starting parameters to give two implementations of EM, in scikit-learn's form.

    Weights drawn from a Dirichlet distribution, distinct data points as means,
    and the inverse of the data covariance as every component's precision (kept
    in the layout of ``covariance_type``).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_components : int
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    random_state : int, default=0
        Seed of the weights and of the choice of means.

    Returns
    -------
    start : dict
        ``weights_init``, ``means_init`` and ``precisions_init``, to pass to
        either library's ``GaussianMixture``.
    """
    rng = np.random.default_rng(random_state)
    weights = rng.dirichlet(np.full(n_components, 10.0))
    means = X[rng.choice(len(X), n_components, replace=False)]
    precision = np.linalg.inv(np.atleast_2d(np.cov(X.T)))
    precisions = {
        "full": np.repeat(precision[None], n_components, axis=0),
        "tied": precision,
        "diag": np.repeat(np.diag(precision)[None], n_components, axis=0),
        "spherical": np.full(n_components, np.diag(precision).mean()),
    }[covariance_type]
    return dict(weights_init=weights, means_init=means, precisions_init=precisions)


def max_relative_difference(
    model, reference, names=("weights_", "means_", "covariances_")
):
    r"""Largest :math:`\max|a - b| / \max|b|` over fitted arrays of two mixtures."""
    return max(
        float(
            np.max(
                np.abs(
                    np.asarray(getattr(model, name), dtype=np.float64)
                    - getattr(reference, name)
                )
            )
            / np.max(np.abs(getattr(reference, name)))
        )
        for name in names
    )
