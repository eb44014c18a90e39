r"""Incremental EM (Neal and Hinton, 1998): coordinate ascent on the free energy, batch by batch.

Chapter "The free-energy view" (``chapters/05_free_energy.md``) derives it.
The data are cut into :math:`B` batches. Batch :math:`b` keeps its own
sufficient statistics :math:`s_b = (N_k^{(b)}, S_k^{(b)}, T_k^{(b)})_k`, those of
the label distribution :math:`q_b` it was last given. One step visits one batch:

1. partial E-step: set :math:`q_b` to the posterior under the current
   :math:`\Theta`, which replaces the old contribution :math:`s_b` in the total
   :math:`s = \sum_b s_b` by the new one;
2. M-step: :math:`\Theta \leftarrow` the maximiser of :math:`Q(q, \Theta)`, a
   function of :math:`s` only (:func:`gmmlib.em_steps.m_step`).

Both halves maximise the free energy :math:`F(q, \Theta)` over one block of
coordinates, so :math:`F` never decreases; the parameters move after every
batch instead of after every pass over the data.

The free energy is tracked without storing :math:`q`: :math:`Q(q, \Theta)` is
linear in :math:`s` (:func:`gmmlib.free_energy.expected_complete_log_likelihood_from_statistics`),
and right after its E-step the bound is tight on batch :math:`b`, so the
entropy of :math:`q_b` is :math:`H(q_b) = \ell_b(\Theta) - Q_b(q_b, \Theta)`
(:func:`gmmlib.free_energy.entropy_from_statistics`).
"""

from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_array

from .em_steps import MixtureParameters, SufficientStatistics, e_step, m_step
from .free_energy import (
    entropy_from_statistics,
    expected_complete_log_likelihood_from_statistics,
)
from .runtime import single_threaded_blas
from .validation import check_sample_weight

INCREMENTAL_HISTORY_DTYPE = np.dtype(
    [
        ("step", np.int64),
        ("sweep", np.int64),
        ("batch", np.int64),
        ("free_energy_after_e_step", np.float64),
        ("free_energy_after_m_step", np.float64),
    ]
)


@dataclass
class IncrementalEMResult:
    """What :func:`incremental_em` returns.

    Attributes
    ----------
    params : MixtureParameters
        The parameters after the last step.
    history : structured ndarray of shape (1 + n_sweeps * n_batches,)
        One row per step: ``step``; ``sweep``; ``batch`` (the batch visited,
        -1 for step 0, the full E-step over all batches that starts the run);
        ``free_energy_after_e_step`` and ``free_energy_after_m_step``, the total
        free energy :math:`F(q, \\Theta)` after each half of the step.
    log_likelihoods : ndarray of shape (n_sweeps + 2,)
        Total log-likelihood after ``i`` passes over the data: entry 0 at the
        starting parameters, entry 1 after step 0, entry ``1 + s`` after sweep ``s``.
    """

    params: MixtureParameters
    history: np.ndarray
    log_likelihoods: np.ndarray


def _sum_statistics(batch_statistics):
    """Total of the batch statistics (re-added each step, so rounding does not drift)."""
    first = batch_statistics[0]
    return SufficientStatistics(
        nk=sum(s.nk for s in batch_statistics),
        first_moments=sum(s.first_moments for s in batch_statistics),
        second_moments=sum(s.second_moments for s in batch_statistics),
        log_likelihood=sum(s.log_likelihood for s in batch_statistics),
        total_weight=sum(s.total_weight for s in batch_statistics),
        shift=first.shift,
    )


def incremental_em(
    X, params, n_batches=10, n_sweeps=10, *, reg_covar=1e-6, sample_weight=None
):
    r"""Fit a Gaussian mixture by incremental EM, one batch of rows per step.

    The run starts with a full E-step and an M-step (step 0, the same as one
    iteration of batch EM), then makes ``n_sweeps`` sweeps; sweep ``s`` visits
    the batches ``0, 1, ..., n_batches - 1`` in order, each with a partial E-step
    and an M-step. Batches are consecutive rows of ``X`` (``numpy.array_split``):
    shuffle the rows first if their order is not random.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    params : MixtureParameters
        Starting parameters; their ``covariance_type`` is kept.
    n_batches : int, default=10
        Number of batches, between 1 and n_samples. With one batch this is batch EM.
    n_sweeps : int, default=10
        Number of passes over the batches after step 0.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance in the M-step. With
        ``reg_covar=0`` the M-step maximises :math:`F` exactly and the free
        energy provably never decreases.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    IncrementalEMResult
        Final parameters, per-step free energies and per-pass log-likelihoods.
    """
    X = check_array(X, dtype=np.float64)
    n_samples = X.shape[0]
    if not 1 <= n_batches <= n_samples:
        raise ValueError(
            f"n_batches must be between 1 and n_samples = {n_samples}, "
            f"got n_batches = {n_batches}."
        )
    sample_weight = check_sample_weight(sample_weight, n_samples)
    with single_threaded_blas():
        return _incremental_em(X, params, n_batches, n_sweeps, reg_covar, sample_weight)


def _incremental_em(X, params, n_batches, n_sweeps, reg_covar, sample_weight):
    """The steps of :func:`incremental_em` on validated inputs."""
    n_samples = X.shape[0]
    covariance_type = params.covariance_type
    shift = np.average(X, axis=0, weights=sample_weight)
    batches = [
        slice(rows[0], rows[-1] + 1)
        for rows in np.array_split(np.arange(n_samples), n_batches)
    ]

    def visit(rows, params):
        """Partial E-step on one batch: its statistics and the entropy of its new q."""
        weights = None if sample_weight is None else sample_weight[rows]
        stats = e_step(X[rows], params, weights, shift)
        return stats, entropy_from_statistics(stats, params)

    def free_energy(total, entropies, params):
        return expected_complete_log_likelihood_from_statistics(total, params) + sum(
            entropies
        )

    batch_statistics, entropies = map(
        list, zip(*(visit(rows, params) for rows in batches), strict=True)
    )
    total = _sum_statistics(batch_statistics)
    log_likelihoods = [total.log_likelihood]
    after_e_step = free_energy(total, entropies, params)
    params = m_step(total, covariance_type, reg_covar)
    history = [(0, 0, -1, after_e_step, free_energy(total, entropies, params))]
    log_likelihoods.append(e_step(X, params, sample_weight, shift).log_likelihood)

    for sweep in range(1, n_sweeps + 1):
        for b, rows in enumerate(batches):
            batch_statistics[b], entropies[b] = visit(rows, params)
            total = _sum_statistics(batch_statistics)
            after_e_step = free_energy(total, entropies, params)
            params = m_step(total, covariance_type, reg_covar)
            history.append(
                (
                    len(history),
                    sweep,
                    b,
                    after_e_step,
                    free_energy(total, entropies, params),
                )
            )
        log_likelihoods.append(e_step(X, params, sample_weight, shift).log_likelihood)
    return IncrementalEMResult(
        params,
        np.array(history, dtype=INCREMENTAL_HISTORY_DTYPE),
        np.array(log_likelihoods),
    )
