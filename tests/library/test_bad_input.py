"""Every bad input fails with an exception that names the problem.

Messages follow scikit-learn's wording. Two deliberate differences: for
weights outside [0, 1] scikit-learn swaps the reported max and min, and for
``sample(0)`` it reports ``n_components`` instead of the requested number;
gmmlib reports the right values.
"""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from gmmlib import GaussianMixture

RNG = np.random.default_rng(0)
X = RNG.normal(size=(50, 2))
X_NAN = X.copy()
X_NAN[3, 1] = np.nan
X_INF = X.copy()
X_INF[3, 1] = np.inf
FULL_NOT_SYMMETRIC = np.array([[[1.0, 0.5], [0.0, 1.0]]] * 2)
FULL_NOT_POSITIVE = np.array([[[1.0, 2.0], [2.0, 1.0]]] * 2)


def fitted():
    return GaussianMixture(random_state=0).fit(X)


# (constructor options, action on the model, exception type, message pattern)
FIT_CASES = {
    "nan_in_X": ({}, lambda m: m.fit(X_NAN), ValueError, "Input X contains NaN"),
    "infinity_in_X": (
        {},
        lambda m: m.fit(X_INF),
        ValueError,
        "Input X contains infinity",
    ),
    "one_dimensional_X": (
        {},
        lambda m: m.fit(X[:, 0]),
        ValueError,
        "Expected 2D array, got 1D array instead",
    ),
    "three_dimensional_X": (
        {},
        lambda m: m.fit(X[:, :, None]),
        ValueError,
        r"Found array with dim 3, while dim <= 2 is required",
    ),
    "empty_X": (
        {},
        lambda m: m.fit(np.empty((0, 2))),
        ValueError,
        r"Found array with 0 sample\(s\) \(shape=\(0, 2\)\) while a minimum of 2",
    ),
    "no_features": (
        {},
        lambda m: m.fit(np.empty((5, 0))),
        ValueError,
        r"Found array with 0 feature\(s\)",
    ),
    "single_sample": (
        {},
        lambda m: m.fit(X[:1]),
        ValueError,
        r"Found array with 1 sample\(s\).*minimum of 2",
    ),
    "fewer_samples_than_components": (
        {"n_components": 5},
        lambda m: m.fit(X[:3]),
        ValueError,
        "Expected n_samples >= n_components but got n_components = 5, n_samples = 3",
    ),
    "strings": (
        {},
        lambda m: m.fit([["a", "b"], ["c", "d"], ["e", "f"]]),
        ValueError,
        "could not convert string to float: 'a'",
    ),
    "n_components_zero": (
        {"n_components": 0},
        lambda m: m.fit(X),
        InvalidParameterError,
        (
            r"'n_components' parameter of GaussianMixture must be an int "
            r"in the range \[1, inf\). Got 0 instead"
        ),
    ),
    "n_components_float": (
        {"n_components": 1.5},
        lambda m: m.fit(X),
        InvalidParameterError,
        r"'n_components'.*Got 1.5 instead",
    ),
    "covariance_type": (
        {"covariance_type": "banana"},
        lambda m: m.fit(X),
        InvalidParameterError,
        (
            r"'covariance_type' parameter of GaussianMixture must be a str "
            r"among .*Got 'banana' instead"
        ),
    ),
    "init_params": (
        {"init_params": "banana"},
        lambda m: m.fit(X),
        InvalidParameterError,
        r"'init_params' parameter .*Got 'banana' instead",
    ),
    "negative_tol": (
        {"tol": -1},
        lambda m: m.fit(X),
        InvalidParameterError,
        (
            r"'tol' parameter of GaussianMixture must be a float in the range "
            r"\[0.0, inf\)"
        ),
    ),
    "negative_reg_covar": (
        {"reg_covar": -1},
        lambda m: m.fit(X),
        InvalidParameterError,
        r"'reg_covar' parameter .*\[0.0, inf\)",
    ),
    "negative_max_iter": (
        {"max_iter": -1},
        lambda m: m.fit(X),
        InvalidParameterError,
        r"'max_iter' parameter .*\[0, inf\)",
    ),
    "zero_n_init": (
        {"n_init": 0},
        lambda m: m.fit(X),
        InvalidParameterError,
        r"'n_init' parameter .*\[1, inf\)",
    ),
    "weights_init_shape": (
        {"n_components": 2, "weights_init": [0.2, 0.3, 0.5]},
        lambda m: m.fit(X),
        ValueError,
        (
            r"The parameter 'weights' should have the shape of \(2,\), "
            r"but got \(3,\)"
        ),
    ),
    "weights_init_range": (
        {"n_components": 2, "weights_init": [-0.2, 1.2]},
        lambda m: m.fit(X),
        ValueError,
        (
            r"'weights' should be in the range \[0, 1\], but got max value "
            r"1.20000, min value -0.20000"
        ),
    ),
    "weights_init_sum": (
        {"n_components": 2, "weights_init": [0.2, 0.3]},
        lambda m: m.fit(X),
        ValueError,
        r"'weights' should be normalized, but got sum\(weights\) = 0.50000",
    ),
    "means_init_shape": (
        {"n_components": 2, "means_init": [[0, 0, 0], [1, 1, 1]]},
        lambda m: m.fit(X),
        ValueError,
        (
            r"The parameter 'means' should have the shape of \(2, 2\), "
            r"but got \(2, 3\)"
        ),
    ),
    "precisions_init_shape": (
        {"n_components": 2, "precisions_init": np.ones((2, 3, 3))},
        lambda m: m.fit(X),
        ValueError,
        r"'full precision' should have the shape of \(2, 2, 2\)",
    ),
    "precisions_init_not_symmetric": (
        {"n_components": 2, "precisions_init": FULL_NOT_SYMMETRIC},
        lambda m: m.fit(X),
        ValueError,
        "'full precision' should be symmetric, positive-definite",
    ),
    "precisions_init_not_positive_definite": (
        {"n_components": 2, "precisions_init": FULL_NOT_POSITIVE},
        lambda m: m.fit(X),
        ValueError,
        "'full precision' should be symmetric, positive-definite",
    ),
    "tied_precision_not_positive_definite": (
        {
            "n_components": 2,
            "covariance_type": "tied",
            "precisions_init": FULL_NOT_POSITIVE[0],
        },
        lambda m: m.fit(X),
        ValueError,
        "'tied precision' should be symmetric",
    ),
    "diag_precision_negative": (
        {
            "n_components": 2,
            "covariance_type": "diag",
            "precisions_init": -np.ones((2, 2)),
        },
        lambda m: m.fit(X),
        ValueError,
        "'diag precision' should be positive",
    ),
    "spherical_precision_negative": (
        {
            "n_components": 2,
            "covariance_type": "spherical",
            "precisions_init": np.array([1.0, -1.0]),
        },
        lambda m: m.fit(X),
        ValueError,
        "'spherical precision' should be positive",
    ),
    "sample_weight_shape": (
        {},
        lambda m: m.fit(X, sample_weight=np.ones(3)),
        ValueError,
        r"'sample_weight' should have the shape of \(50,\)",
    ),
    "sample_weight_negative": (
        {},
        lambda m: m.fit(X, sample_weight=-np.ones(50)),
        ValueError,
        "Negative values in data passed to sample_weight",
    ),
    "sample_weight_all_zero": (
        {},
        lambda m: m.fit(X, sample_weight=np.zeros(50)),
        ValueError,
        "at least one non-zero number",
    ),
}

FITTED_CASES = {
    "predict_before_fit": (
        lambda m: m.predict(X),
        NotFittedError,
        "This GaussianMixture instance is not fitted yet",
    ),
    "predict_proba_before_fit": (
        lambda m: m.predict_proba(X),
        NotFittedError,
        "not fitted yet",
    ),
    "score_samples_before_fit": (
        lambda m: m.score_samples(X),
        NotFittedError,
        "not fitted yet",
    ),
    "sample_before_fit": (lambda m: m.sample(3), NotFittedError, "not fitted yet"),
    "bic_before_fit": (lambda m: m.bic(X), NotFittedError, "not fitted yet"),
}

AFTER_FIT_CASES = {
    "feature_count_mismatch_predict": (
        lambda m: m.predict(np.ones((3, 3))),
        ValueError,
        "X has 3 features, but GaussianMixture is expecting 2 features as input",
    ),
    "feature_count_mismatch_score_samples": (
        lambda m: m.score_samples(np.ones((3, 1))),
        ValueError,
        "X has 1 features",
    ),
    "nan_at_predict": (lambda m: m.predict(X_NAN), ValueError, "Input X contains NaN"),
    "sample_zero": (
        lambda m: m.sample(0),
        ValueError,
        "Invalid value for 'n_samples': 0 . The sampling requires at least one sample.",
    ),
}


@pytest.mark.parametrize("case", sorted(FIT_CASES))
def test_bad_fit_input_raises_a_clear_error(case):
    options, action, error, pattern = FIT_CASES[case]
    with pytest.raises(error, match=pattern):
        action(GaussianMixture(**options))


@pytest.mark.parametrize("case", sorted(FITTED_CASES))
def test_use_before_fit_raises_not_fitted(case):
    action, error, pattern = FITTED_CASES[case]
    with pytest.raises(error, match=pattern):
        action(GaussianMixture())


@pytest.mark.parametrize("case", sorted(AFTER_FIT_CASES))
def test_bad_input_after_fit_raises_a_clear_error(case):
    action, error, pattern = AFTER_FIT_CASES[case]
    with pytest.raises(error, match=pattern):
        action(fitted())


def test_failed_validation_leaves_constructor_parameters_untouched():
    weights = [0.5, 0.5]
    model = GaussianMixture(2, weights_init=weights, means_init=[[0, 0], [1, 1, 1]])
    with pytest.raises(ValueError):
        model.fit(X)
    assert model.weights_init is weights
