"""Density thresholds and flags of gmmlib.anomaly, and the planted-anomaly data set."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import precision_score, recall_score
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from gmmlib import GaussianMixture
from gmmlib.anomaly import density_threshold, flag_anomalies
from gmmlib.datasets import make_mixture_with_outliers


@pytest.fixture(scope="module")
def contaminated():
    X, is_outlier = make_mixture_with_outliers(600, 30, random_state=0)
    model = GaussianMixture(3, random_state=0).fit(X)
    return X, is_outlier, model


@pytest.mark.parametrize("percentile", [0.0, 1.0, 5.0, 12.5, 50.0, 100.0])
def test_the_percentile_sets_the_fraction_flagged(contaminated, percentile):
    X, _, model = contaminated
    threshold = density_threshold(model, X, percentile)
    flags = flag_anomalies(model, X, threshold)
    position = (len(X) - 1) * percentile / 100  # numpy's linear interpolation
    assert np.floor(position) <= flags.sum() <= np.floor(position) + 1
    scores = model.score_samples(X)
    if 0 < flags.sum() < len(X):
        assert scores[flags].max() < scores[~flags].min()


def test_threshold_grows_with_the_percentile(contaminated):
    X, _, model = contaminated
    thresholds = [density_threshold(model, X, q) for q in np.linspace(0, 100, 21)]
    assert np.all(np.diff(thresholds) > 0)
    # Percentiles 0 and 100 are the extreme scores themselves: no interpolation.
    assert thresholds[0] == model.score_samples(X).min()
    assert thresholds[-1] == model.score_samples(X).max()


def test_percentile_out_of_range_is_an_error(contaminated):
    X, _, model = contaminated
    with pytest.raises(ValueError, match=r"percentile must be in \[0, 100\], got 101"):
        density_threshold(model, X, 101)


def test_scikit_learn_models_give_the_same_flags(contaminated):
    X, _, model = contaminated
    theirs = SklearnGaussianMixture(3)  # the same parameters, set by hand
    theirs.weights_, theirs.means_ = model.weights_, model.means_
    theirs.covariances_ = model.covariances_
    theirs.precisions_cholesky_ = model.precisions_cholesky_
    threshold = density_threshold(theirs, X, 5.0)
    # The same log-densities by two codes: rounding only, a few u of the terms
    # (size ~10) in each score (largest seen 1.4e-16 relative); bound 1e-10.
    assert_allclose(threshold, density_threshold(model, X, 5.0), rtol=1e-10)
    assert_array_equal(
        flag_anomalies(theirs, X, threshold), flag_anomalies(model, X, threshold)
    )


def test_planted_anomalies_are_found(contaminated):
    """At the contamination rate most flags are anomalies and most anomalies are flagged."""
    X, is_outlier, model = contaminated
    flags = flag_anomalies(
        model, X, density_threshold(model, X, 100 * is_outlier.mean())
    )
    # Seeded data: 25 of the 30 anomalies are flagged; the other five fell, uniformly
    # at random in the box, where the mixture is denser than at its own tail points.
    # Rounding cannot move this: neighbouring scores near the threshold differ by
    # 9e-4 or more.
    assert precision_score(is_outlier, flags) >= 0.8
    assert recall_score(is_outlier, flags) >= 0.8


def test_make_mixture_with_outliers():
    X, is_outlier = make_mixture_with_outliers(
        500, 40, n_features=3, box_scale=3.0, random_state=2
    )
    assert X.shape == (540, 3) and is_outlier.sum() == 40
    inliers, outliers = X[~is_outlier], X[is_outlier]
    low, high = inliers.min(axis=0), inliers.max(axis=0)
    centre, half_width = (low + high) / 2, 3.0 * (high - low) / 2
    assert np.all(np.abs(outliers - centre) <= half_width)
    # Uniform on the box: 1 - (1/3)^3 = 96% of it lies outside the inliers'
    # bounding box; 0.8 is 5.4 binomial standard errors (0.03 for 40 draws) lower.
    outside = np.any((outliers < low) | (outliers > high), axis=1)
    assert outside.mean() > 0.8
    again, flags_again = make_mixture_with_outliers(
        500, 40, n_features=3, box_scale=3.0, random_state=2
    )
    assert_array_equal(again, X) and assert_array_equal(flags_again, is_outlier)
