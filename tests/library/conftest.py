"""Shared fixtures: the data sets every comparison runs on, and the covariance types."""

import pytest

from gmmlib.covariance import COVARIANCE_TYPES
from gmmlib.datasets import make_blobs_mixture

DATASETS = {
    "separated": dict(
        n_samples=600, n_components=3, n_features=2, separation=5.0, random_state=0
    ),
    "overlapping": dict(
        n_samples=600, n_components=3, n_features=2, separation=1.0, random_state=1
    ),
    "six_features": dict(
        n_samples=900, n_components=4, n_features=6, separation=2.5, random_state=2
    ),
}


@pytest.fixture(params=sorted(DATASETS))
def dataset(request):
    """(name, X, n_components) for each named data set."""
    spec = DATASETS[request.param]
    X, _ = make_blobs_mixture(**spec)
    return request.param, X, spec["n_components"]


@pytest.fixture(params=COVARIANCE_TYPES, ids=list(COVARIANCE_TYPES))
def covariance_type(request):
    """Each of gmmlib's covariance types in turn ("full", "tied", "diag", "spherical").

    A test that takes only some of them parametrizes covariance_type itself, which
    overrides this fixture; so do tests with other parametrizations whose ids name the
    covariance type after another parameter (the fixture's parameter would come first).
    """
    return request.param
