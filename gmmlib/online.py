r"""Stepwise online EM (Cappé and Moulines, 2009; Liang and Klein, 2009).

Chapter "The free-energy view" (``chapters/05_free_energy.md``) derives it.
The model keeps running averages of the per-sample sufficient statistics,

.. math:: \bar s = \Bigl(\bar N_k, \bar S_k, \bar T_k\Bigr)_k
          \approx \frac{1}{N}\sum_n \bigl(r_{nk},\; r_{nk} x_n,\; r_{nk} x_n x_n^\top\bigr),

and each mini-batch :math:`B_t` (the ``t``-th call, counting from 0) moves them
towards the batch's own averages :math:`\hat s_t` (an E-step on the batch at the
current parameters), then runs an M-step on them (EM's, or a generalized-EM
step of :mod:`gmmlib.gem`):

.. math:: \bar s \leftarrow (1 - \eta_t)\, \bar s + \eta_t\, \hat s_t, \qquad
          \eta_0 = 1, \quad \eta_t = (t + t_0)^{-\alpha} \ (t \ge 1).

For :math:`\alpha \in (0.5, 1]` the steps satisfy :math:`\sum_t \eta_t = \infty`
and :math:`\sum_t \eta_t^2 < \infty`, the conditions under which the averages
converge to a fixed point of EM. With :math:`\alpha = 1, t_0 = 1`,
:math:`\bar s` is the plain mean of all batch statistics seen so far; a smaller
:math:`\alpha` forgets the statistics computed with early, poor parameters
faster. :class:`gmmlib.GaussianMixture` exposes this as ``partial_fit``, with
``learning_decay`` (:math:`\alpha`) and ``learning_offset`` (:math:`t_0`).
"""

from dataclasses import replace

import numpy as np

from .gem import exact_m_step
from .runtime import single_threaded_blas


class StepwiseEM:
    """Running sufficient statistics of stepwise online EM.

    Parameters
    ----------
    params : MixtureParameters
        Parameters for the first E-step.
    shift : ndarray of shape (n_features,)
        Centre subtracted from every batch before its statistics are summed
        (the mean of the first batch); fixed for the life of the object.
    learning_decay : float
        Exponent :math:`\\alpha` of the step size, in (0.5, 1].
    learning_offset : float
        Offset :math:`t_0 > 0` of the step size. (``GaussianMixture`` checks
        both ranges.)
    m_step : callable, default=gmmlib.gem.exact_m_step
        ``m_step(stats, params, reg_covar)``, one of :data:`gmmlib.gem.M_STEPS`.

    Attributes
    ----------
    params : MixtureParameters
        The parameters after the last update.
    statistics : SufficientStatistics or None
        The running averages :math:`\\bar s` (``total_weight`` 1), None before
        the first update.
    n_steps : int
        Number of updates so far.
    """

    def __init__(
        self, params, shift, learning_decay, learning_offset, m_step=exact_m_step
    ):
        self.params = params
        self.m_step = m_step
        self.shift = np.asarray(shift, dtype=np.float64)
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.statistics = None
        self.n_steps = 0

    def step_size(self, t):
        r""":math:`\eta_t`: 1 for the first update, :math:`(t + t_0)^{-\alpha}` after it."""
        return 1.0 if t == 0 else (t + self.learning_offset) ** -self.learning_decay

    def update(self, batch, reg_covar):
        """One stepwise update from a mini-batch: E-step, averaging, M-step.

        Parameters
        ----------
        batch : InMemoryData, MissingValuesData or DaskData
            The mini-batch and its sample weights (:mod:`gmmlib.data_sources`),
            whose E-step is taken centred on ``self.shift``.
        reg_covar : float

        Returns
        -------
        batch_log_likelihood : float
            Mean log-likelihood of the batch under the parameters of its E-step.
        """
        with single_threaded_blas():
            return self._update(batch, reg_covar)

    def _update(self, data, reg_covar):
        batch = data.e_step(self.params, shift=self.shift)
        scale = 1.0 / batch.total_weight
        eta = self.step_size(self.n_steps)
        keep = 1.0 - eta
        old = batch if self.statistics is None else self.statistics
        self.statistics = replace(
            old,
            nk=keep * old.nk + eta * scale * batch.nk,
            first_moments=keep * old.first_moments + eta * scale * batch.first_moments,
            second_moments=keep * old.second_moments
            + eta * scale * batch.second_moments,
            log_likelihood=keep * old.log_likelihood
            + eta * scale * batch.log_likelihood,
            total_weight=1.0,
        )
        self.params = self.m_step(self.statistics, self.params, reg_covar)
        self.n_steps += 1
        return batch.mean_log_likelihood
