"""Stepwise online EM: GaussianMixture.partial_fit and gmmlib.online.StepwiseEM."""

from dataclasses import replace

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import linear_sum_assignment
from test_free_energy import parameters

from gmmlib import GaussianMixture
from gmmlib.covariance import COVARIANCE_TYPES
from gmmlib.data_sources import InMemoryData, MissingValuesData
from gmmlib.datasets import make_blobs_mixture, remove_at_random
from gmmlib.em_steps import e_step, m_step, parameters_from_model
from gmmlib.gem import M_STEPS
from gmmlib.missing_values import e_step_missing, fill_with_column_means
from gmmlib.online import StepwiseEM
from gmmlib.timing import common_start

#: The stepwise update against the formula spelled out: the same averages of
#: 100-row statistics (n u = 1e-14 relative each) in another order, over three
#: steps. Largest seen 7.5e-15; first moments near 0 need atol 1e-14 (~100 u
#: of their terms of size ~1).
STEP_RTOL = 1e-12


def matched(reference, other):
    """Indices pairing the components of two fits (assignment on squared mean distance)."""
    cost = ((reference.means_[:, None] - other.means_[None]) ** 2).sum(axis=2)
    return linear_sum_assignment(cost)


def test_partial_fit_converges_near_the_batch_solution(covariance_type):
    """Five shuffled passes of 100-sample batches (150 steps) land within sampling noise.

    The last step size is (149 + 2)^-0.6 = 0.05, an average over roughly the last
    2000 samples, so the means can differ from the batch ones by a few hundredths
    (the components have unit-order spread); we allow 0.1 on means, 0.015 on
    weights and 1e-3 relative on the log-likelihood. Over 20 shuffling seeds
    ('full' and 'spherical') the largest differences were 0.039, 0.0067 and
    1.6e-4; this seed's are 0.018, 0.0037 and 7e-5, the same to three digits
    under every BLAS kernel.
    """
    X, _ = make_blobs_mixture(
        3000, n_components=3, n_features=2, separation=5.0, random_state=0
    )
    batch = GaussianMixture(
        3, covariance_type=covariance_type, tol=1e-10, max_iter=1000, random_state=0
    ).fit(X)
    online = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    rng = np.random.default_rng(1)
    for _ in range(5):
        order = rng.permutation(len(X))
        for start in range(0, len(X), 100):
            online.partial_fit(X[order[start : start + 100]])
    assert online.n_steps_ == 150
    rows, columns = matched(batch, online)
    assert_allclose(online.means_[columns], batch.means_[rows], atol=0.1)
    assert_allclose(online.weights_[columns], batch.weights_[rows], atol=0.015)
    assert_allclose(online.score(X), batch.score(X), rtol=1e-3)
    # The first batches, before the running averages settle, are further away.
    first = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    first.partial_fit(X[order[:100]])
    assert abs(first.score(X) - batch.score(X)) > abs(online.score(X) - batch.score(X))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize(
    "learning_decay, learning_offset", [(0.6, 2.0), (1.0, 1.0), (0.75, 10.0)]
)
def test_stepwise_update_follows_the_formula(
    covariance_type, learning_decay, learning_offset
):
    X, _ = make_blobs_mixture(300, n_components=3, n_features=3, random_state=3)
    batches = np.array_split(X, 3)
    params = parameters(X, 3, covariance_type)
    stepwise = StepwiseEM(
        params, batches[0].mean(axis=0), learning_decay, learning_offset
    )
    running, expected = None, params
    for t, batch in enumerate(batches):
        stepwise.update(InMemoryData(batch), 1e-6)
        new = e_step(batch, expected, shift=batches[0].mean(axis=0))
        eta = 1.0 if t == 0 else (t + learning_offset) ** -learning_decay
        averages = [
            new.nk / len(batch),
            new.first_moments / len(batch),
            new.second_moments / len(batch),
        ]
        running = (
            averages
            if running is None
            else [
                (1 - eta) * old + eta * value
                for old, value in zip(running, averages, strict=True)
            ]
        )
        assert_allclose(stepwise.statistics.nk, running[0], rtol=STEP_RTOL)
        assert_allclose(
            stepwise.statistics.first_moments, running[1], rtol=STEP_RTOL, atol=1e-14
        )
        assert_allclose(stepwise.statistics.second_moments, running[2], rtol=STEP_RTOL)
        new.nk, new.first_moments, new.second_moments = running
        expected = m_step(new, covariance_type, 1e-6)
        assert_allclose(stepwise.params.means, expected.means, rtol=STEP_RTOL)
    assert stepwise.n_steps == 3
    if (learning_decay, learning_offset) == (1.0, 1.0):
        # eta_t = 1 / (t + 1): the plain mean of the three batch statistics.
        assert_allclose(stepwise.step_size(2), 1 / 3, rtol=1e-15)  # 3^-1: an ulp


def test_first_call_initialises_like_fit_on_the_batch():
    X, _ = make_blobs_mixture(500, n_components=3, random_state=4)
    online = GaussianMixture(3, max_iter=1, tol=0.0, random_state=5)
    online.partial_fit(X)
    with pytest.warns(Warning):
        batch = GaussianMixture(3, max_iter=1, tol=0.0, random_state=5).fit(X)
    # Same k-means start, then one E-step and one M-step on the same data, with
    # the statistics centred elsewhere. A component whose mean lies ~10 from the
    # centre gets T / N - m m^T with |m|^2 ~ 100 against entries ~0.3 to 3, so
    # its entries carry ~100 n u = 6e-12 of rounding at most; largest seen 3.9e-13
    # (an off-diagonal entry of size 2.7e-3). Bounds: rtol 1e-10, atol 1e-11
    # (was 1e-12, within a factor 4 of what was seen).
    assert_allclose(online.means_, batch.means_, rtol=1e-10)
    assert_allclose(online.covariances_, batch.covariances_, rtol=1e-10, atol=1e-11)
    assert online.n_steps_ == 1
    assert online.n_features_in_ == 2


def test_partial_fit_after_fit_continues_and_fit_restarts():
    X, _ = make_blobs_mixture(500, n_components=3, random_state=6)
    model = GaussianMixture(3, random_state=0).fit(X)
    fitted = parameters_from_model(model)
    model.partial_fit(X)
    # eta_0 = 1: one full EM iteration from the fitted parameters.
    expected = m_step(e_step(X, fitted, shift=X.mean(axis=0)), "full", model.reg_covar)
    # The same step by the same arithmetic, centred elsewhere: largest seen
    # 1.2e-14 relative (means), 7.9e-16 (lower bound).
    assert_allclose(model.means_, expected.means, rtol=1e-10)
    assert_allclose(
        model.lower_bound_, e_step(X, fitted).mean_log_likelihood, rtol=1e-12
    )
    model.partial_fit(X[:100])
    assert model.n_steps_ == 2
    model.fit(X)
    model.partial_fit(X[:100])
    assert model.n_steps_ == 1


def test_sample_weight_two_is_a_duplicated_row():
    X, _ = make_blobs_mixture(400, n_components=2, random_state=7)
    sample_weight = np.ones(100)
    sample_weight[::3] = 2.0
    start = dict(
        weights_init=[0.5, 0.5],
        means_init=X[:2],
        precisions_init=np.repeat(np.eye(2)[None], 2, axis=0),
    )
    weighted = GaussianMixture(2, **start)
    duplicated = GaussianMixture(2, **start)
    for batch in np.array_split(X, 4):
        weighted.partial_fit(batch, sample_weight=sample_weight)
        duplicated.partial_fit(np.vstack([batch, batch[::3]]))
    # The same four steps on the same statistics summed in another order:
    # largest seen 2.4e-14 relative.
    assert_allclose(weighted.means_, duplicated.means_, rtol=1e-10)
    assert_allclose(weighted.covariances_, duplicated.covariances_, rtol=1e-10)
    assert_allclose(weighted.weights_, duplicated.weights_, rtol=1e-10)


def test_partial_fit_keeps_float32():
    X, _ = make_blobs_mixture(300, n_components=2, random_state=8)
    model = GaussianMixture(2, random_state=0)
    for batch in np.array_split(X.astype(np.float32), 3):
        model.partial_fit(batch)
    assert model.means_.dtype == model.covariances_.dtype == np.float32


def test_partial_fit_with_different_n_features_raises():
    X, _ = make_blobs_mixture(200, n_components=2, n_features=2, random_state=9)
    model = GaussianMixture(2, random_state=0).partial_fit(X[:100])
    with pytest.raises(
        ValueError,
        match="X has 3 features, but GaussianMixture is expecting 2 features as input",
    ):
        model.partial_fit(np.ones((50, 3)))
    fitted = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 3 features"):
        fitted.partial_fit(np.ones((50, 3)))


def test_first_batch_needs_n_components_samples():
    with pytest.raises(
        ValueError,
        match="Expected n_samples >= n_components but got "
        "n_components = 3, n_samples = 2",
    ):
        GaussianMixture(3).partial_fit(np.ones((2, 2)))


@pytest.mark.parametrize(
    "name, value",
    [("learning_decay", 0.5), ("learning_decay", 1.1), ("learning_offset", 0.0)],
)
def test_step_size_parameters_are_checked(name, value):
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(
        ValueError, match=f"The '{name}' parameter of GaussianMixture must be"
    ):
        GaussianMixture(2, **{name: value}).partial_fit(X)


def test_step_sizes_decay():
    stepwise = StepwiseEM(None, np.zeros(1), learning_decay=0.6, learning_offset=2.0)
    steps = np.array([stepwise.step_size(t) for t in range(1000)])
    assert steps[0] == 1.0
    assert_allclose(steps[1], 3.0**-0.6, rtol=1e-15)  # the same power: equal
    assert np.all(np.diff(steps) < 0)
    assert_array_equal(steps > 0, True)


# ------------------------------------------- every option on the online path
#: One stepwise step by partial_fit against the same step spelled out with the
#: library's E-step and M-step functions: the same arithmetic on the same
#: statistics, centred on the same shift; rounding only (largest seen 0).
SAME_STEP_RTOL = 1e-12


def start_of(X, n_components, covariance_type):
    """Starting parameters as GaussianMixture keywords and as MixtureParameters."""
    keywords = common_start(X, n_components, covariance_type)
    return keywords, parameters(X, n_components, covariance_type)


@pytest.mark.parametrize("m_step_name", ["ecm", "gradient"])
def test_partial_fit_takes_the_m_step_it_is_given(covariance_type, m_step_name):
    X, _ = make_blobs_mixture(300, n_components=3, random_state=10)
    batches = np.array_split(X, 3)
    keywords, params = start_of(X, 3, covariance_type)
    model = GaussianMixture(
        3, covariance_type=covariance_type, m_step=m_step_name, **keywords
    )
    exact = GaussianMixture(3, covariance_type=covariance_type, **keywords)
    shift = batches[0].mean(axis=0)
    running = None
    for t, batch in enumerate(batches):
        model.partial_fit(batch)
        exact.partial_fit(batch)
        new = e_step(batch, params, shift=shift)
        eta = 1.0 if t == 0 else (t + model.learning_offset) ** -model.learning_decay
        scaled = replace(
            new,
            nk=new.nk / len(batch),
            first_moments=new.first_moments / len(batch),
            second_moments=new.second_moments / len(batch),
            log_likelihood=new.log_likelihood / len(batch),
            total_weight=1.0,
        )
        running = (
            scaled
            if running is None
            else replace(
                scaled,
                nk=(1 - eta) * running.nk + eta * scaled.nk,
                first_moments=(1 - eta) * running.first_moments
                + eta * scaled.first_moments,
                second_moments=(1 - eta) * running.second_moments
                + eta * scaled.second_moments,
            )
        )
        params = M_STEPS[m_step_name](running, params, model.reg_covar)
        assert_allclose(model.means_, params.means, rtol=SAME_STEP_RTOL, atol=1e-14)
        assert_allclose(
            model.precisions_cholesky_,
            params.precisions_cholesky,
            rtol=SAME_STEP_RTOL,
            atol=1e-14,
        )
    # A generalized-EM step is not EM's: the two online fits part after one step.
    assert np.abs(model.means_ - exact.means_).max() > 1e-6


def test_partial_fit_marginalises_missing_values(covariance_type):
    X, _ = make_blobs_mixture(300, n_components=3, n_features=3, random_state=11)
    X_missing = remove_at_random(X, 0.2, random_state=0)
    batches = np.array_split(X_missing, 3)
    keywords, params = start_of(X, 3, covariance_type)
    model = GaussianMixture(
        3, covariance_type=covariance_type, missing_values="marginalize", **keywords
    )
    for batch in batches:
        model.partial_fit(batch)
    # The same three steps through StepwiseEM with the missing-values E-step.
    stepwise = StepwiseEM(
        params,
        fill_with_column_means(batches[0]).mean(axis=0),
        model.learning_decay,
        model.learning_offset,
    )
    for batch in batches:
        last = stepwise.update(MissingValuesData(batch), model.reg_covar)
    assert_allclose(model.means_, stepwise.params.means, rtol=SAME_STEP_RTOL)
    assert_allclose(model.lower_bound_, last, rtol=SAME_STEP_RTOL)
    assert_allclose(
        last,
        e_step_missing(
            batches[2], model_before_last_step(model, batches, keywords)
        ).mean_log_likelihood,
        rtol=SAME_STEP_RTOL,
    )
    with pytest.raises(ValueError, match="Input X contains NaN"):
        GaussianMixture(3, **keywords).partial_fit(batches[0])


def model_before_last_step(model, batches, keywords):
    """The parameters partial_fit held before its last batch, refitted on the first two."""
    again = GaussianMixture(
        model.n_components,
        covariance_type=model.covariance_type,
        missing_values="marginalize",
        **keywords,
    )
    for batch in batches[:-1]:
        again.partial_fit(batch)
    return parameters_from_model(again)


def test_partial_fit_on_a_dask_batch_is_the_same_step():
    da = pytest.importorskip("dask.array")
    X, _ = make_blobs_mixture(600, n_components=3, random_state=12)
    keywords, _ = start_of(X, 3, "full")
    in_memory = GaussianMixture(3, **keywords)
    on_dask = GaussianMixture(3, **keywords)
    for batch in np.array_split(X, 3):
        in_memory.partial_fit(batch)
        on_dask.partial_fit(da.from_array(batch, chunks=(50, -1)))
    # Sums over 4 dask chunks instead of gmmlib's blocks: rounding only, ~n u
    # = 2e-14 per sum of n = 200 terms, over three steps. Bound 1e-10.
    assert_allclose(on_dask.means_, in_memory.means_, rtol=1e-10)
    assert_allclose(on_dask.covariances_, in_memory.covariances_, rtol=1e-10)
