r"""When to stop EM, and how fast it converges.

EM's log-likelihood :math:`\ell_t` increases to its limit :math:`\ell_\infty`
linearly. Near a maximum the parameters approach it as :math:`\lambda^t`, with
:math:`\lambda` the largest eigenvalue of the Jacobian of the EM map, the
largest fraction of missing information (Dempster, Laird and Rubin 1977), and
the log-likelihood, quadratic in the parameters there, as :math:`c^t` with
:math:`c = \lambda^2`: :math:`\ell_{t+1} - \ell_t \approx c\,(\ell_t - \ell_{t-1})`
(chapter "EM for two Gaussians" measures both). A rule that stops when one step
gains less than ``tol`` then stops :math:`\approx \text{gain} \cdot c / (1 - c)`
below the limit, which is far from the maximum when :math:`c` is close to 1.

Aitken's :math:`\Delta^2` extrapolation estimates the limit from three
successive values (Böhning, Dietz, Schaub, Schlattmann and Lindsay 1994;
McLachlan and Krishnan 2008, section 4.9):

.. math:: c_t = \frac{\ell_{t+1} - \ell_t}{\ell_t - \ell_{t-1}}, \qquad
          \hat\ell_\infty = \ell_t + \frac{\ell_{t+1} - \ell_t}{1 - c_t},

and the Aitken rule stops when :math:`\hat\ell_\infty - \ell_{t+1} < \text{tol}` at two
successive iterations. One estimate rests on a single ratio of gains; after a
large first step that ratio is tiny, and a single estimate would stop a fit
after three iterations far below its limit (seen from k-means++ starts).
"""

import math

import numpy as np

STOPPING_RULES = ("change", "aitken")


def aitken_gap(values):
    r"""Estimated distance :math:`\hat\ell_\infty - \ell_{t+1}` from the last three values to the limit.

    Parameters
    ----------
    values : sequence of float
        The objective at successive iterations, the latest last.

    Returns
    -------
    gap : float
        :math:`(\ell_{t+1} - \ell_t)\, c_t / (1 - c_t)`; zero when the last
        step changed nothing; infinity when it cannot be estimated yet (fewer
        than three finite values) or the last two steps do not shrink
        geometrically (:math:`c_t \notin [0, 1)`).
    """
    if len(values) < 3 or not all(map(math.isfinite, values[-3:])):
        return math.inf
    before, middle, last = values[-3:]
    step, previous_step = last - middle, middle - before
    if step == 0.0:
        return 0.0
    if previous_step == 0.0:
        return math.inf
    rate = step / previous_step
    if not 0.0 <= rate < 1.0:
        return math.inf
    return abs(step) * rate / (1.0 - rate)


def has_converged(values, tol, rule):
    """Whether to stop: the last change below ``tol``, or Aitken's estimated gap below it twice running.

    Parameters
    ----------
    values : sequence of float
        The objective at the start (``-inf`` for a fresh start) and after each
        iteration so far.
    tol : float
    rule : {'change', 'aitken'}

    Returns
    -------
    bool
    """
    if rule == "aitken":
        return aitken_gap(values) < tol and aitken_gap(values[:-1]) < tol
    return abs(values[-1] - values[-2]) < tol


def rate_from_history(history):
    r"""The linear rate of convergence read off a fit's ``history_``.

    Ratios of successive gains :math:`(\ell_{t+1} - \ell_t) / (\ell_t - \ell_{t-1})`
    of the log-likelihood; near the maximum they settle at :math:`c = \lambda^2`,
    the square of the rate :math:`\lambda` at which the parameters converge.

    Parameters
    ----------
    history : structured ndarray
        ``history_`` of a fitted :class:`gmmlib.GaussianMixture`.

    Returns
    -------
    ratios : ndarray of shape (n_iter_ - 1,)
        NaN after a step that gained exactly nothing.
    """
    gains = history["log_likelihood_after"] - history["log_likelihood_before"]
    ratios = np.full(max(len(gains) - 1, 0), np.nan)
    np.divide(gains[1:], gains[:-1], out=ratios, where=gains[:-1] != 0)
    return ratios
