"""Checks of user-supplied starting parameters and sample weights.

The messages follow scikit-learn's wording (``sklearn/mixture/_gaussian_mixture.py``)
so that code written against one library reads the same errors from the other.
"""

import numpy as np
from sklearn.utils import check_array


def _check_shape(array, expected, name):
    if array.shape != expected:
        raise ValueError(
            f"The parameter '{name}' should have the shape of {expected}, "
            f"but got {array.shape}"
        )


def check_n_samples(n_samples, n_components):
    """Refuse data with fewer samples than components (scikit-learn's message).

    Parameters
    ----------
    n_samples : int
    n_components : int

    Raises
    ------
    ValueError
        When ``n_samples < n_components``.
    """
    if n_samples < n_components:
        raise ValueError(
            "Expected n_samples >= n_components but got n_components = "
            f"{n_components}, n_samples = {n_samples}"
        )


def check_weights(weights, n_components):
    """Validate starting mixing weights: shape, range [0, 1] and sum one.

    Parameters
    ----------
    weights : array-like of shape (n_components,)
        Mixing proportions.
    n_components : int
        Number of components.

    Returns
    -------
    weights : ndarray of shape (n_components,)
    """
    weights = check_array(weights, dtype=[np.float64, np.float32], ensure_2d=False)
    _check_shape(weights, (n_components,), "weights")
    if np.any(weights < 0.0) or np.any(weights > 1.0):
        raise ValueError(
            "The parameter 'weights' should be in the range [0, 1], but got "
            f"max value {weights.max():.5f}, min value {weights.min():.5f}"
        )
    atol = 1e-6 if weights.dtype == np.float32 else 1e-8
    if abs(1.0 - weights.sum()) > atol:
        raise ValueError(
            "The parameter 'weights' should be normalized, but got "
            f"sum(weights) = {weights.sum():.5f}"
        )
    return weights


def check_means(means, n_components, n_features):
    """Validate starting means: shape (n_components, n_features), finite.

    Returns
    -------
    means : ndarray of shape (n_components, n_features)
    """
    means = check_array(means, dtype=[np.float64, np.float32], ensure_2d=False)
    _check_shape(means, (n_components, n_features), "means")
    return means


def _check_positive(values, name):
    if np.any(values <= 0.0):
        raise ValueError(f"'{name}' should be positive")


def _check_symmetric_positive_definite(matrix, name):
    if not (np.allclose(matrix, matrix.T) and np.all(np.linalg.eigvalsh(matrix) > 0.0)):
        raise ValueError(f"'{name}' should be symmetric, positive-definite")


def check_precisions(precisions, covariance_type, n_components, n_features):
    """Validate starting precisions: shape by covariance type, and positivity.

    Shapes: 'full' (n_components, n_features, n_features); 'tied'
    (n_features, n_features); 'diag' (n_components, n_features); 'spherical'
    (n_components,). Matrices must be symmetric positive definite, vectors
    strictly positive.

    Returns
    -------
    precisions : ndarray
    """
    precisions = check_array(
        precisions,
        dtype=[np.float64, np.float32],
        ensure_2d=False,
        allow_nd=covariance_type == "full",
    )
    shapes = {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }
    _check_shape(precisions, shapes[covariance_type], f"{covariance_type} precision")
    if covariance_type == "full":
        for precision in precisions:
            _check_symmetric_positive_definite(
                precision, f"{covariance_type} precision"
            )
    elif covariance_type == "tied":
        _check_symmetric_positive_definite(precisions, f"{covariance_type} precision")
    else:
        _check_positive(precisions, f"{covariance_type} precision")
    return precisions


def check_sample_weight(sample_weight, n_samples):
    """Validate per-sample weights: one finite, non-negative number per sample.

    ``None`` means every sample has weight one.

    Returns
    -------
    sample_weight : ndarray of shape (n_samples,) or None
    """
    if sample_weight is None:
        return None
    sample_weight = check_array(
        sample_weight, dtype=np.float64, ensure_2d=False, input_name="sample_weight"
    )
    _check_shape(sample_weight, (n_samples,), "sample_weight")
    if np.any(sample_weight < 0):
        raise ValueError("Negative values in data passed to sample_weight")
    if not sample_weight.sum() > 0:
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight


def check_mean_prior(mean_prior, n_features):
    """Validate the prior mean :math:`m_0` of a normal-Wishart prior.

    Returns
    -------
    mean_prior : ndarray of shape (n_features,)
    """
    mean_prior = check_array(
        mean_prior, dtype=[np.float64, np.float32], ensure_2d=False
    )
    _check_shape(mean_prior, (n_features,), "means")
    return mean_prior


def check_degrees_of_freedom_prior(degrees_of_freedom_prior, n_features):
    """Refuse Wishart degrees of freedom :math:`\\nu_0 \\le d - 1` (no proper prior then).

    Raises
    ------
    ValueError
        scikit-learn's message, also for NaN.
    """
    if not degrees_of_freedom_prior > n_features - 1.0:
        raise ValueError(
            "The parameter 'degrees_of_freedom_prior' should be greater than "
            f"{n_features - 1}, but got {degrees_of_freedom_prior:.3f}."
        )


def check_covariance_prior(covariance_prior, covariance_type, n_features, names=None):
    """Validate the scale of a Wishart prior by covariance type.

    The scale is :math:`W_0^{-1}` of :class:`gmmlib.BayesianGaussianMixture` and
    :math:`\\Psi_0` of :class:`gmmlib.GibbsGaussianMixture` ('full' only there):
    a symmetric positive-definite (n_features, n_features) matrix for 'full' and
    'tied', n_features positive numbers for 'diag', one positive float for
    'spherical'.

    Parameters
    ----------
    covariance_prior : float or array-like
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    n_features : int
    names : tuple of two str, optional
        What the messages call the parameter when its shape is wrong and when
        its values are; by default scikit-learn's wording for
        ``BayesianGaussianMixture``, ``('<type> covariance_prior', '<type> precision')``.

    Returns
    -------
    covariance_prior : ndarray or float
    """
    shape_name, value_name = names or (
        f"{covariance_type} covariance_prior",
        f"{covariance_type} precision",
    )
    if covariance_type == "spherical":
        if np.ndim(covariance_prior) != 0:
            raise ValueError(
                f"The parameter '{shape_name}' should be a float, but got "
                f"an array of shape {np.shape(covariance_prior)}"
            )
        _check_positive(np.asarray(covariance_prior), value_name)
        return float(covariance_prior)
    covariance_prior = check_array(
        covariance_prior, dtype=[np.float64, np.float32], ensure_2d=False
    )
    if covariance_type == "diag":
        _check_shape(covariance_prior, (n_features,), shape_name)
        _check_positive(covariance_prior, value_name)
    else:
        _check_shape(covariance_prior, (n_features, n_features), shape_name)
        _check_symmetric_positive_definite(covariance_prior, value_name)
    return covariance_prior
