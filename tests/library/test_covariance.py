"""Precision Cholesky factors and their inverses (gmmlib.covariance)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from gmmlib.covariance import (
    DEGENERATE_COVARIANCE_MESSAGE,
    DegenerateCovarianceError,
    covariances_from_cholesky,
    precision_cholesky_from_covariances,
    precisions_from_cholesky,
    rounding_floor,
)


def random_covariances(n_components, n_features, dtype, seed=0):
    rng = np.random.default_rng(seed)
    factors = rng.standard_normal((n_components, n_features, n_features))
    return (factors @ factors.transpose(0, 2, 1) + np.eye(n_features)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_precision_factors_are_upper_triangular_inverse_roots(covariance_type, dtype):
    covariances = random_covariances(3, 4, dtype)
    if covariance_type == "tied":
        covariances = covariances[0]
    factors = precision_cholesky_from_covariances(covariances, covariance_type)
    assert factors.dtype == dtype and factors.shape == covariances.shape
    assert_array_equal(np.tril(factors, -1), 0)
    # Inverting a matrix of condition number kappa <= 12 (these three) costs
    # ~ d kappa u: 5e-15 in float64, 3e-6 in float32 (u = 6e-8). Largest seen
    # 1.3e-7 (float32); bounds 1e-10 and 1e-4.
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    assert_allclose(
        precisions_from_cholesky(factors, covariance_type),
        np.linalg.inv(covariances.astype(np.float64)),
        rtol=rtol,
        atol=rtol,
    )
    assert_allclose(
        covariances_from_cholesky(factors, covariance_type),
        covariances,
        rtol=rtol,
        atol=rtol,
    )


def test_covariances_from_cholesky_ignores_the_lower_triangle():
    factors = precision_cholesky_from_covariances(
        random_covariances(2, 3, np.float64), "full"
    )
    noisy = factors + np.tril(np.full((3, 3), 7.0), -1)
    assert_array_equal(
        covariances_from_cholesky(noisy, "full"),
        covariances_from_cholesky(factors, "full"),
    )


def test_a_variance_at_the_rounding_floor_is_degenerate(covariance_type):
    """Positive definite, but no larger than rounding noise: the component is named."""
    variances = np.array([[1.0, 1.0], [1.0, 1e-17]])
    covariances = {
        "full": np.stack([np.diag(row) for row in variances]),
        "tied": np.diag(variances[1]),
        "diag": variances,
        "spherical": variances.min(axis=1),
    }[covariance_type]
    precision_cholesky_from_covariances(
        covariances, covariance_type
    )  # no floor: accepted
    # Only component 1 is degenerate. A tied covariance belongs to no one
    # component, so for it the name is not checked.
    component = r"Component \d+" if covariance_type == "tied" else "Component 1"
    with pytest.raises(
        ValueError,
        match=component + " has a covariance that is not "
        "positive definite, or singular to",
    ):
        precision_cholesky_from_covariances(covariances, covariance_type, floor=1e-15)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_the_degenerate_error_is_a_value_error_naming_its_component(covariance_type):
    """scikit-learn's message and type (ValueError), and the component as an attribute."""
    covariances = {
        "full": np.stack([np.eye(2), np.zeros((2, 2))]),
        "diag": np.array([[1.0, 1.0], [1.0, 0.0]]),
        "spherical": np.array([1.0, 0.0]),
    }[covariance_type]
    with pytest.raises(DegenerateCovarianceError) as error:
        precision_cholesky_from_covariances(covariances, covariance_type)
    assert isinstance(error.value, ValueError)
    assert error.value.component == 1
    assert str(error.value).startswith(DEGENERATE_COVARIANCE_MESSAGE)


def test_rounding_floor_scales_with_the_second_moments(covariance_type):
    """10 d u times the largest second moment per component (per entry for 'diag')."""
    nk = np.array([2.0, 4.0])
    diagonals = np.array([[2.0, 8.0], [4.0, 4.0]])
    second_moments = {
        "full": np.stack([np.diag(row) for row in diagonals]),
        "tied": np.diag(diagonals.sum(axis=0)),
        "diag": diagonals,
        "spherical": diagonals,
    }[covariance_type]
    u10 = 10 * np.finfo(np.float64).eps
    expected = {
        "full": u10 * 2 * np.array([4.0, 1.0]),
        "tied": u10 * 2 * 12.0 / 6.0,
        "diag": u10 * diagonals / nk[:, None],
        "spherical": u10 * np.array([4.0, 1.0]),
    }[covariance_type]
    # The same two or three products in another order: a few u; rtol 1e-12.
    assert_allclose(
        rounding_floor(nk, second_moments, covariance_type), expected, rtol=1e-12
    )
