"""Shared fixtures: the data sets every comparison runs on."""

import numpy as np
import pytest

from gmmlib.datasets import make_blobs_mixture

DATASETS = {
    "separated": dict(n_samples=600, n_components=3, n_features=2, separation=5.0,
                      random_state=0),
    "overlapping": dict(n_samples=600, n_components=3, n_features=2, separation=1.0,
                        random_state=1),
    "six_features": dict(n_samples=900, n_components=4, n_features=6, separation=2.5,
                         random_state=2),
}


@pytest.fixture(params=sorted(DATASETS))
def dataset(request):
    """(name, X, n_components) for each named data set."""
    spec = DATASETS[request.param]
    X, _ = make_blobs_mixture(**spec)
    return request.param, X, spec["n_components"]


def starting_parameters(X, n_components, covariance_type, seed=0):
    """Starting weights, means and precisions shared by gmmlib and scikit-learn.

    Means are distinct data points; covariances are the data covariance, so
    every covariance type starts from the same kind of point.
    """
    rng = np.random.default_rng(seed)
    n_features = X.shape[1]
    weights = rng.dirichlet(np.full(n_components, 10.0))
    means = X[rng.choice(len(X), n_components, replace=False)]
    precision = np.linalg.inv(np.cov(X.T))
    precisions = {
        "full": np.repeat(precision[None], n_components, axis=0),
        "tied": precision,
        "diag": np.repeat(np.diag(precision)[None], n_components, axis=0),
        "spherical": np.full(n_components, np.diag(precision).mean()),
    }[covariance_type]
    return dict(weights_init=weights, means_init=means,
                precisions_init=precisions.reshape(
                    precisions.shape if covariance_type != "full"
                    else (n_components, n_features, n_features)))
