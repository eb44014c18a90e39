"""The bounded E-step of gmmlib.bounded_e_step against the full E-step."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from gmmlib import em_steps, runtime
from gmmlib.bounded_e_step import (
    MIN_FEATURES,
    REANCHOR_FRACTION,
    AnchorBounds,
    AnchoredRows,
    bounded_block,
)
from gmmlib.datasets import make_blobs_mixture
from gmmlib.em_steps import (
    as_shift,
    e_step,
    estimate_log_gaussian_prob,
    log_floor,
    moments_from_resp,
    parameters_from_model,
)
from gmmlib.gaussian_mixture import GaussianMixture

# The same sums as the full E-step, over the same terms but for the pruned
# pairs (each at most e^-496 of a responsibility, invisible in float64), in
# another grouping: n u = 2000 x 1.1e-16 = 2e-13 relative for terms of one
# sign; centred first and second moments have entries near 0 whose error is
# that of the largest terms, n u max |x - c|^2 ~ 2e-13 x 1e3.
SUM_RTOL = 1e-11
SUM_ATOL = 1e-8
#: The log-likelihood, ~1e5 in size, summed from 2000 log-densities of ~50,
#: each with a few roundings of terms up to ~1e3: 1e-12 relative at most.
LOG_LIKELIHOOD_RTOL = 1e-11


def separated(n_samples=2000, n_features=40, n_components=5, iterations=3, seed=0):
    """Separated blobs far from the origin and the parameters of a short fit."""
    X, _ = make_blobs_mixture(
        n_samples, n_components=n_components, n_features=n_features, random_state=seed
    )
    X += 30.0
    model = GaussianMixture(
        n_components, max_iter=iterations, tol=0.0, random_state=seed
    )
    with pytest.warns(ConvergenceWarning):
        model.fit(X)
    return X, parameters_from_model(model)


def full_e_step(X, params, *args, monkeypatch, **kwargs):
    """The full E-step, the bounded one switched off."""
    with monkeypatch.context() as patch:
        patch.setattr(em_steps, "MIN_FEATURES", np.inf)
        return e_step(X, params, *args, **kwargs)


def assert_same_statistics(got, expected):
    assert_allclose(got.nk, expected.nk, rtol=SUM_RTOL)
    assert_allclose(
        got.first_moments, expected.first_moments, rtol=SUM_RTOL, atol=SUM_ATOL
    )
    assert_allclose(
        got.second_moments, expected.second_moments, rtol=SUM_RTOL, atol=SUM_ATOL
    )
    assert_allclose(
        got.log_likelihood, expected.log_likelihood, rtol=LOG_LIKELIHOOD_RTOL
    )


def test_the_bound_lies_above_every_log_density():
    # Random parameters, not a fit: components that overlap and differ in shape.
    rng = np.random.default_rng(0)
    n_components, n_features = 4, 6
    X = rng.normal(size=(300, n_features)) * 3.0
    factors = np.triu(rng.normal(size=(n_components, n_features, n_features)))
    factors[:, range(n_features), range(n_features)] = rng.uniform(
        0.3, 2.0, size=(n_components, n_features)
    )
    params = em_steps.MixtureParameters(
        weights=rng.dirichlet(np.ones(n_components)),
        means=rng.normal(size=(n_components, n_features)) * 2.0,
        covariances=None,
        precisions_cholesky=factors,
        covariance_type="full",
    )
    shift = X.mean(axis=0)
    bounds = AnchorBounds.from_parameters(params, shift)
    exact = estimate_log_gaussian_prob(X, params.means, factors, "full") + np.log(
        params.weights
    )
    for anchor in range(n_components):
        upper = (X - shift) @ bounds.slopes[anchor] + bounds.intercepts[anchor]
        # Strict in exact arithmetic; the values are sums of terms ~1e2-1e3,
        # rounded at ~1e-13 each.
        assert np.all(upper >= exact - 1e-9)
        # For k = a (delta = 0) the bound is the density's peak c_a.
        assert_allclose(upper[:, anchor], bounds.constants[anchor], rtol=1e-12)


def test_log_density_and_anchor_scores_are_the_formulas():
    X, params = separated()
    shift = X.mean(axis=0)
    bounds = AnchorBounds.from_parameters(params, shift)
    exact = estimate_log_gaussian_prob(
        X, params.means, params.precisions_cholesky, "full"
    ) + np.log(params.weights)
    for component in range(len(params.weights)):
        # Log-densities ~ -1e3 from squares of projected values ~1e1-1e2.
        assert_allclose(
            bounds.log_density(X - shift, component), exact[:, component], rtol=1e-11
        )
    precisions = np.einsum("kij,klj->kil", *(2 * [params.precisions_cholesky]))
    diagonal = np.einsum("kii->ki", precisions)
    scores = (
        np.log(params.weights)
        + np.log(np.einsum("kii->ki", params.precisions_cholesky)).sum(axis=1)
        - 0.5 * X.shape[1] * np.log(2 * np.pi)
        - 0.5 * np.einsum("kj,nkj->nk", diagonal, (X[:, None] - params.means) ** 2)
    )
    assert_array_equal(bounds.anchors(X - shift), scores.argmax(axis=1))
    assert_array_equal(bounds.anchors(X, shift), scores.argmax(axis=1))


def anchored_block(X, params):
    """The rows of X anchored by the diagonal-precision scores, as one block."""
    shift = as_shift(X.mean(axis=0), X.shape[1], X.dtype)
    bounds = AnchorBounds.from_parameters(params, shift)
    anchored = AnchoredRows.from_bounds(X, bounds, shift=shift)
    block = bounded_block(anchored.rows, anchored.edges, bounds, log_floor(X.dtype))
    return shift, anchored, block


@pytest.mark.parametrize("n_threads", [1, 2])
def test_separated_components_are_pruned_and_the_statistics_unchanged(
    n_threads, monkeypatch
):
    X, params = separated()
    shift, anchored, block = anchored_block(X, params)
    # Nearly every row needs only its anchor (15 of 10,000 pairs survived).
    assert block.candidates.mean() < 0.01
    assert len(block.contested) < 0.05 * len(X)
    # The anchored rows are the centred rows, sorted by anchor.
    assert_array_equal(np.diff(anchored.anchors) >= 0, True)
    assert_allclose(
        np.sort(anchored.rows, axis=0), np.sort(X - shift, axis=0), rtol=1e-15
    )
    monkeypatch.setattr(em_steps, "MIN_FEATURES", 1)
    monkeypatch.setattr(runtime, "BLOCK_ROWS", 300)  # several blocks per thread
    sample_weight = np.random.default_rng(1).uniform(0.5, 2.0, len(X))
    got = e_step(X, params, sample_weight, shift, n_threads=n_threads)
    expected = full_e_step(
        X, params, sample_weight, shift, n_threads=n_threads, monkeypatch=monkeypatch
    )
    assert_same_statistics(got, expected)


def test_surviving_pairs_are_computed_exactly():
    # The blobs of make_blobs_mixture(separation=4) in 40 dimensions lie
    # about as far apart as the bound needs: a few pairs survive it.
    X, params = separated()
    shift, anchored, block = anchored_block(X, params)
    floor = log_floor(X.dtype)
    assert block.candidates.sum() > 0
    exact = estimate_log_gaussian_prob(
        anchored.rows + shift, params.means, params.precisions_cholesky, "full"
    ) + np.log(params.weights)
    rows = np.arange(len(X))
    anchor_values = exact[rows, anchored.anchors]
    # Log-densities ~ -1e3 from sums of d = 40 squares: rounding ~1e-13.
    assert_allclose(block.anchor_log_density, anchor_values, rtol=1e-12)
    assert_array_equal(block.contested, np.flatnonzero(block.candidates.any(axis=1)))
    computed = block.candidates[block.contested]
    computed[np.arange(len(block.contested)), anchored.anchors[block.contested]] = True
    assert_allclose(
        block.log_prob[computed], exact[block.contested][computed], rtol=1e-12
    )
    assert np.all(np.isneginf(block.log_prob[~computed]))
    # A pruned pair lies below its anchor's log-density plus the floor.
    pruned = ~block.candidates
    pruned[rows, anchored.anchors] = False
    pruned_rows, components = np.nonzero(pruned)
    assert np.all(exact[pruned_rows, components] < anchor_values[pruned_rows] + floor)


def test_overlapping_components_go_to_the_full_e_step(monkeypatch):
    X, params = separated(n_features=5, n_components=3)
    params.means[:] = params.means.mean(axis=0)  # all on one point
    shift = as_shift(X.mean(axis=0), X.shape[1], X.dtype)
    bounds = AnchorBounds.from_parameters(params, shift)
    anchored = AnchoredRows.from_bounds(X, bounds, shift=shift)
    labels = anchored.labels.copy()
    assert em_steps.bounded_statistics(anchored, bounds) == (None, None)
    assert_array_equal(anchored.labels, labels)  # no pass: no new labels
    monkeypatch.setattr(em_steps, "MIN_FEATURES", 1)
    got = e_step(X, params, None, shift, anchored=anchored)
    assert_same_statistics(
        got, full_e_step(X, params, None, shift, monkeypatch=monkeypatch)
    )


def test_log_weights_replace_the_weights(monkeypatch):
    X, params = separated()
    shift = X.mean(axis=0)
    log_weights = np.log(params.weights) - np.arange(len(params.weights)) * 0.3
    monkeypatch.setattr(em_steps, "MIN_FEATURES", 1)
    got = e_step(X, params, None, shift, log_weights)
    expected = full_e_step(X, params, None, shift, log_weights, monkeypatch=monkeypatch)
    assert_same_statistics(got, expected)


def test_float32_blocks_match_the_full_e_step(monkeypatch):
    X, params = separated()
    X = X.astype(np.float32)
    shift = X.mean(axis=0, dtype=np.float64)
    monkeypatch.setattr(em_steps, "MIN_FEATURES", 1)
    got = e_step(X, params, None, shift)
    expected = full_e_step(X, params, None, shift, monkeypatch=monkeypatch)
    # float32 arithmetic in both, grouped differently: u = 6e-8 times a few
    # terms of the products (d = 40) and sqrt(rows) for the sums.
    assert_allclose(got.nk, expected.nk, rtol=1e-5)
    assert_allclose(got.second_moments, expected.second_moments, rtol=1e-4, atol=1e-2)
    assert_allclose(got.log_likelihood, expected.log_likelihood, rtol=1e-5)


def test_hard_labels_take_the_grouped_sums(monkeypatch):
    X, params = separated()
    shift = X.mean(axis=0)
    rng = np.random.default_rng(2)
    resp = np.zeros((len(X), len(params.weights)))
    resp[np.arange(len(X)), rng.integers(len(params.weights), size=len(X))] = 1.0
    resp[:50] = rng.dirichlet(np.ones(len(params.weights)), size=50)  # some soft rows
    sample_weight = rng.uniform(0.5, 2.0, len(X))
    assert X.shape[1] >= MIN_FEATURES
    monkeypatch.setattr(runtime, "BLOCK_ROWS", 300)
    got = moments_from_resp(X, resp, "full", sample_weight, shift)
    monkeypatch.setattr(em_steps, "MIN_FEATURES", np.inf)
    expected = moments_from_resp(X, resp, "full", sample_weight, shift)
    assert_allclose(got, expected, rtol=SUM_RTOL, atol=SUM_ATOL)


def test_a_fit_in_many_dimensions_matches_scikit_learn():
    from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

    X, _ = make_blobs_mixture(
        3000, n_components=6, n_features=MIN_FEATURES + 8, random_state=0
    )
    start = GaussianMixture(6, max_iter=1, random_state=0)
    with pytest.warns(ConvergenceWarning):
        start.fit(X)
    common = dict(
        n_components=6,
        tol=0.0,
        max_iter=5,
        weights_init=start.weights_,
        means_init=start.means_,
        precisions_init=start.precisions_,
    )
    ours = GaussianMixture(**common)
    theirs = SklearnGaussianMixture(**common)
    for model in (ours, theirs):
        with pytest.warns(ConvergenceWarning):
            model.fit(X)
    # Same float64 EM from the same start, rounding only (u amplified by the
    # conditioning of the covariances over five iterations; tests of
    # test_sklearn_agreement.py use the same bound).
    for name in ("weights_", "means_", "covariances_"):
        assert_allclose(
            getattr(ours, name), getattr(theirs, name), rtol=1e-8, atol=1e-10
        )


@pytest.mark.parametrize("weighted", [False, True])
def test_any_anchors_give_the_same_statistics(weighted, monkeypatch):
    X, params = separated()
    shift = as_shift(X.mean(axis=0), X.shape[1], X.dtype)
    monkeypatch.setattr(em_steps, "MIN_FEATURES", 1)
    monkeypatch.setattr(runtime, "BLOCK_ROWS", 300)
    rng = np.random.default_rng(3)
    sample_weight = rng.uniform(0.5, 2.0, len(X)) if weighted else None
    expected = full_e_step(X, params, sample_weight, shift, monkeypatch=monkeypatch)
    n_components = len(params.weights)
    _, resp = em_steps.estimate_log_prob_resp(X, params)
    for labels in (
        resp.argmax(axis=1),  # the best anchors
        rng.integers(n_components, size=len(X)),  # poor anchors: looser bounds
        np.zeros(len(X), dtype=np.intp),  # one anchor for all
    ):
        anchored = AnchoredRows.from_labels(
            X, labels, n_components, sample_weight, shift, n_threads=2
        )
        got = e_step(X, params, sample_weight, shift, n_threads=2, anchored=anchored)
        assert_same_statistics(got, expected)


def test_the_anchors_sums_are_the_hard_label_statistics():
    X, params = separated()
    shift = as_shift(X.mean(axis=0), X.shape[1], X.dtype)
    n_components = len(params.weights)
    rng = np.random.default_rng(4)
    labels = rng.integers(n_components, size=len(X))
    sample_weight = rng.uniform(0.5, 2.0, len(X))
    anchored = AnchoredRows.from_labels(
        X, labels, n_components, sample_weight, shift, n_threads=2
    )
    one_hot = np.eye(n_components)[labels]
    expected = moments_from_resp(X, one_hot, "full", sample_weight, shift)
    assert_allclose(anchored.moments, expected, rtol=SUM_RTOL, atol=SUM_ATOL)


def test_a_pass_labels_the_rows_and_the_rows_are_sorted_again(monkeypatch):
    X, params = separated()
    shift = as_shift(X.mean(axis=0), X.shape[1], X.dtype)
    n_components = len(params.weights)
    monkeypatch.setattr(em_steps, "MIN_FEATURES", 1)
    monkeypatch.setattr(runtime, "BLOCK_ROWS", 300)
    _, resp = em_steps.estimate_log_prob_resp(X, params)
    # A fifth of the rows anchored at random: the probe still prunes enough.
    rng = np.random.default_rng(5)
    labels = resp.argmax(axis=1)
    moved = rng.random(len(X)) < 0.2
    labels[moved] = rng.integers(n_components, size=moved.sum())
    anchored = AnchoredRows.from_labels(X, labels, n_components, None, shift)
    first = e_step(X, params, None, shift, n_threads=2, anchored=anchored)
    _, resp = em_steps.estimate_log_prob_resp(anchored.rows + shift, params)
    assert_array_equal(anchored.labels, resp.argmax(axis=1))
    # More than a tenth of the rows have another label: sorted again by it.
    assert np.mean(anchored.labels != anchored.anchors) > REANCHOR_FRACTION
    labels = anchored.labels.copy()
    anchored.reanchor(n_threads=2)
    assert_array_equal(anchored.anchors, np.sort(labels))
    rows = anchored.rows.copy()
    second = e_step(X, params, None, shift, n_threads=2, anchored=anchored)
    assert_same_statistics(second, first)
    # Now no row moves, and the rows stay as they are.
    anchored.reanchor()
    assert_array_equal(anchored.rows, rows)


def test_poor_anchors_give_way_to_the_diagonal_ones(monkeypatch):
    X, params = separated()
    shift = as_shift(X.mean(axis=0), X.shape[1], X.dtype)
    n_components = len(params.weights)
    monkeypatch.setattr(em_steps, "MIN_FEATURES", 1)
    poor = np.random.default_rng(6).integers(n_components, size=len(X))
    anchored = AnchoredRows.from_labels(X, poor, n_components, None, shift)
    bounds = AnchorBounds.from_parameters(params, shift)
    expected = bounds.anchors(anchored.rows)
    got = e_step(X, params, None, shift, anchored=anchored)
    # Random anchors prune too little in the probe; the diagonal ones do.
    assert_array_equal(anchored.anchors, np.sort(expected))
    assert_same_statistics(
        got, full_e_step(X, params, None, shift, monkeypatch=monkeypatch)
    )
