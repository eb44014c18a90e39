r"""Generalized EM: M-steps that increase :math:`Q` without maximising it.

Chapter "Generalized EM" (``chapters/04_generalized_em.md``) derives every
update in this module. Write :math:`N_k, \bar x_k, \hat w_k = N_k / N` for the
statistics of one E-step (:class:`gmmlib.em_steps.SufficientStatistics`),
:math:`\Lambda_k = \Sigma_k^{-1}` for the precisions and

.. math:: \hat\Sigma_k(\mu_k) = \frac{1}{N_k} \sum_n r_{nk} (x_n - \mu_k)(x_n - \mu_k)^\top
          + \epsilon I = \hat\Sigma_k(\bar x_k) + (\bar x_k - \mu_k)(\bar x_k - \mu_k)^\top

for the covariance that maximises :math:`Q` when the mean is held at :math:`\mu_k`
(``epsilon = reg_covar``; 'tied', 'diag' and 'spherical' restrict it as
:func:`gmmlib.covariance.covariances_from_statistics` does). With the constant
dropped, the function the exact M-step maximises is

.. math:: Q_\epsilon(\Theta) = \sum_k N_k \log w_k
          + \sum_k \frac{N_k}{2} \bigl[\log |\Lambda_k|
          - \operatorname{tr}(\Lambda_k \hat\Sigma_k(\mu_k))\bigr],

which is :math:`Q(\Theta, \Theta^{(j)})` up to a constant when ``reg_covar = 0``
(otherwise :math:`Q - \tfrac{\epsilon}{2} \sum_k N_k \operatorname{tr} \Lambda_k`).
Each M-step below returns parameters with :math:`Q_\epsilon` at least as large
as at the parameters it starts from, which is all the monotonicity proof of EM
needs:

- :func:`ecm_m_step`: conditional maximisation (Meng and Rubin, 1993), one
  block of parameters after the other, each maximised given the rest;
- :func:`gradient_m_step`: one gradient-ascent step per block, with step sizes
  that provably increase :math:`Q_\epsilon`.

All M-steps share the signature ``(stats, params, reg_covar)`` and are
collected in :data:`M_STEPS`, which ``GaussianMixture(m_step=...)`` uses.
"""

import numpy as np

from .covariance import (
    covariances_from_cholesky,
    nonzero_counts,
    precision_cholesky_from_covariances,
    precision_cholesky_from_precisions,
    precisions_from_cholesky,
)
from .em_steps import MixtureParameters, covariances_of, m_step

#: Blocks of parameters a conditional-maximisation step can update.
BLOCKS = ("weights", "means", "covariances")

#: Sufficient-increase constant of the backtracking line search (Armijo).
ARMIJO = 1e-4

#: Halvings of the step before the line search gives up (and keeps the old precisions).
MAX_HALVINGS = 60


def exact_m_step(stats, params, reg_covar):
    """The M-step of EM, :func:`gmmlib.em_steps.m_step`, with the GEM signature.

    Parameters
    ----------
    stats : SufficientStatistics
    params : MixtureParameters
        Current parameters; only ``covariance_type`` is used.
    reg_covar : float

    Returns
    -------
    MixtureParameters
    """
    return m_step(stats, params.covariance_type, reg_covar)


def mean_displacement_covariances(nk, displacement, covariance_type):
    r"""The extra spread :math:`(\bar x_k - \mu_k)(\bar x_k - \mu_k)^\top` of a shifted mean.

    Added to the exact M-step's covariances it gives :math:`\hat\Sigma_k(\mu_k)`, the
    maximiser of :math:`Q` over the covariances when the means are held at :math:`\mu_k`
    (the scatter decomposition of chapter "Generalized EM").

    Parameters
    ----------
    nk : ndarray of shape (n_components,)
    displacement : ndarray of shape (n_components, n_features)
        :math:`\bar x_k - \mu_k`.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    ndarray
        Shaped like the covariances of ``covariance_type``; 'tied' averages the
        outer products with weights :math:`N_k / N`, 'spherical' averages the
        diagonal over the features.
    """
    if covariance_type == "full":
        return displacement[:, :, None] * displacement[:, None, :]
    if covariance_type == "tied":
        return (nk[:, None] * displacement).T @ displacement / nk.sum()
    squares = displacement**2
    return squares if covariance_type == "diag" else squares.mean(axis=1)


def conditional_m_step(stats, params, block, reg_covar):
    r"""Maximise :math:`Q` over one block of parameters, the others held fixed.

    .. math:: w_k = \frac{N_k}{N}, \qquad \mu_k = \bar x_k, \qquad
              \Sigma_k = \hat\Sigma_k(\mu_k)

    for ``block`` 'weights', 'means' and 'covariances' (the CM-steps derived in
    chapter "Generalized EM"). The weights do not
    interact with the other blocks in :math:`Q`, and the best mean
    :math:`\bar x_k` does not depend on :math:`\Sigma_k`; the best covariance does
    depend on the mean it is measured around.

    Parameters
    ----------
    stats : SufficientStatistics
        Statistics of the E-step at the current parameters.
    params : MixtureParameters
        Current parameters.
    block : {'weights', 'means', 'covariances'}
    reg_covar : float

    Returns
    -------
    MixtureParameters
        ``params`` with ``block`` replaced.
    """
    return _maximise_block(params, exact_m_step(stats, params, reg_covar), block)


def ecm_m_step(stats, params, reg_covar, blocks=("covariances", "means", "weights")):
    r"""Expectation-conditional maximisation: one CM-step per block, in order.

    Each CM-step (:func:`conditional_m_step`) maximises :math:`Q` over its block
    given the current values of the others, so :math:`Q` never decreases along
    the sequence (chapter "Generalized EM", after Meng and Rubin, 1993). The default order updates the covariances around the *old*
    means, :math:`\Sigma_k = \hat\Sigma_k(\mu_k^{(j)})`, and then the means and
    weights: a GEM step that differs from EM. The order ('means',
    'covariances') reproduces the exact M-step, because :math:`\bar x_k` is the
    best mean whatever the covariance.

    Parameters
    ----------
    stats : SufficientStatistics
    params : MixtureParameters
    reg_covar : float
    blocks : sequence of {'weights', 'means', 'covariances'}
        The CM-steps, in order; a block may be left out (a partial M-step).

    Returns
    -------
    MixtureParameters
    """
    exact = exact_m_step(stats, params, reg_covar)
    for block in blocks:
        params = _maximise_block(params, exact, block)
    return params


def gradient_m_step(stats, params, reg_covar):
    r"""One gradient-ascent step on :math:`Q` for each block, with safe step sizes.

    The blocks are updated in turn, each from the gradient of :math:`Q_\epsilon`
    at the current values (chapter "Generalized EM" derives the steps and proves
    them safe):

    1. Weights, through the logits :math:`\alpha_k = \log w_k`: the gradient is
       :math:`g = N (\hat w - w)` and the Hessian
       :math:`-N(\operatorname{diag} w - w w^\top)` has norm at most :math:`N`, so the
       step :math:`1/N`, :math:`\alpha \leftarrow \alpha + \hat w - w`, raises
       :math:`Q` by at least :math:`\lVert g \rVert^2 / 2N`.
    2. Means: :math:`g_k = N_k \Lambda_k (\bar x_k - \mu_k)`. :math:`Q` is a concave
       quadratic in :math:`\mu_k` with Hessian :math:`-N_k \Lambda_k`, so the step
       :math:`\eta_k = g_k^\top g_k / (N_k\, g_k^\top \Lambda_k g_k)` is the exact
       maximiser along :math:`g_k` and raises :math:`Q` by
       :math:`\eta_k \lVert g_k \rVert^2 / 2`; it is never shorter than the fixed
       safe step :math:`1/(N_k \lambda_{\max}(\Lambda_k))`.
    3. Precisions: :math:`G_k = \tfrac{N_k}{2} (\Sigma_k - \hat\Sigma_k(\mu_k))`
       at the new means. :math:`Q` is concave in :math:`\Lambda_k` but its curvature
       is unbounded near singular matrices, so the step starts at the maximiser of
       the second-order model along :math:`G`,
       :math:`\eta_0 = \lVert G \rVert^2 / \sum_k \tfrac{N_k}{2}
       \operatorname{tr}(\Sigma_k G_k \Sigma_k G_k)`, and is halved until
       :math:`\Lambda + \eta G` is positive definite and the Armijo condition
       :math:`Q(\Lambda + \eta G) \ge Q(\Lambda) + c\, \eta \lVert G \rVert^2` holds.
       A small enough step always passes (:math:`G` is an ascent direction and
       :math:`Q` is smooth on the open set of positive definite matrices); if none
       does within ``MAX_HALVINGS`` halvings (a gradient at rounding level), the
       precisions are kept.

    For 'tied' the precision and its gradient are shared (:math:`N_k \to N`); for
    'spherical' :math:`\Lambda_k = \lambda_k I` and :math:`N_k \to d N_k`.

    Parameters
    ----------
    stats : SufficientStatistics
        Statistics of the E-step at ``params``.
    params : MixtureParameters
    reg_covar : float

    Returns
    -------
    MixtureParameters
    """
    covariance_type = params.covariance_type
    exact = exact_m_step(stats, params, reg_covar)
    nk = nonzero_counts(stats.nk)

    logits = np.log(params.weights) + exact.weights - params.weights
    weights = np.exp(logits - logits.max())
    weights /= weights.sum()

    precisions = precisions_from_cholesky(params.precisions_cholesky, covariance_type)
    gradient = nk[:, None] * _times_precisions(
        precisions, exact.means - params.means, covariance_type
    )
    curvature = nk * np.sum(
        gradient * _times_precisions(precisions, gradient, covariance_type), axis=1
    )
    squared_norm = np.sum(gradient**2, axis=1)
    step = np.divide(
        squared_norm, curvature, out=np.zeros_like(curvature), where=curvature > 0
    )
    means = params.means + step[:, None] * gradient

    target = exact.covariances + mean_displacement_covariances(
        exact.weights, exact.means - means, covariance_type
    )
    precisions = _precision_ascent_step(
        precisions,
        covariances_of(params),
        target,
        _precision_counts(nk, params),
        covariance_type,
    )
    precisions_cholesky = precision_cholesky_from_precisions(
        precisions, covariance_type
    )
    return MixtureParameters(
        weights,
        means,
        covariances_from_cholesky(precisions_cholesky, covariance_type),
        precisions_cholesky,
        covariance_type,
    )


#: The M-steps ``GaussianMixture(m_step=...)`` can use, by name.
M_STEPS = {"exact": exact_m_step, "ecm": ecm_m_step, "gradient": gradient_m_step}


def _maximise_block(params, exact, block):
    """``params`` with ``block`` set to its conditional maximiser, read off the exact M-step."""
    if block not in BLOCKS:
        raise ValueError(f"block must be one of {BLOCKS}, got {block!r}")
    covariance_type = params.covariance_type
    weights, means = params.weights, params.means
    covariances, precisions_cholesky = params.covariances, params.precisions_cholesky
    if block == "weights":
        weights = exact.weights
    elif block == "means":
        means = exact.means
    elif np.array_equal(means, exact.means):
        covariances, precisions_cholesky = exact.covariances, exact.precisions_cholesky
    else:
        covariances = exact.covariances + mean_displacement_covariances(
            exact.weights, exact.means - means, covariance_type
        )
        precisions_cholesky = precision_cholesky_from_covariances(
            covariances, covariance_type
        )
    return MixtureParameters(
        weights, means, covariances, precisions_cholesky, covariance_type
    )


def _times_precisions(precisions, vectors, covariance_type):
    r""":math:`\Lambda_k v_k` for every component, shape (n_components, n_features)."""
    if covariance_type == "full":
        return np.einsum("kde,ke->kd", precisions, vectors)
    if covariance_type == "tied":
        return vectors @ precisions
    if covariance_type == "diag":
        return precisions * vectors
    return precisions[:, None] * vectors


def _precision_counts(nk, params):
    """Weight of each precision in :math:`Q`: :math:`N_k`, :math:`N` (tied), :math:`d N_k` (spherical)."""
    if params.covariance_type == "tied":
        return nk.sum()
    if params.covariance_type == "spherical":
        return nk * params.means.shape[1]
    return nk


def _precision_objective(precisions, target, counts, covariance_type):
    r""":math:`\sum_k \tfrac{N_k}{2}[\log|\Lambda_k| - \operatorname{tr}(\Lambda_k \hat\Sigma_k)]`.

    The part of :math:`Q_\epsilon` that depends on the precisions; ``-inf`` when a
    precision is not positive definite.
    """
    if covariance_type in ("full", "tied"):
        try:
            lower = np.linalg.cholesky(precisions)
        except np.linalg.LinAlgError:
            return -np.inf
        log_det = 2.0 * np.log(np.diagonal(lower, axis1=-2, axis2=-1)).sum(axis=-1)
        trace = np.sum(precisions * target, axis=(-2, -1))
        return float(np.sum(0.5 * counts * (log_det - trace)))
    if not np.all(precisions > 0):
        return -np.inf
    terms = np.log(precisions) - precisions * target
    if covariance_type == "diag":
        terms = terms.sum(axis=1)
    return float(np.sum(0.5 * counts * terms))


def _precision_ascent_step(precisions, covariances, target, counts, covariance_type):
    """One backtracking gradient-ascent step on the precisions (step 3 of gradient_m_step)."""
    scale = counts
    if covariance_type == "full":
        scale = counts[:, None, None]
    elif covariance_type == "diag":
        scale = counts[:, None]
    gradient = 0.5 * scale * (covariances - target)
    squared_norm = float(np.sum(gradient**2))
    if covariance_type in ("full", "tied"):
        spread = covariances @ gradient
        curvature = float(
            np.sum(0.5 * counts * np.einsum("...de,...ed->...", spread, spread))
        )
    else:
        curvature = float(np.sum(0.5 * scale * (covariances * gradient) ** 2))
    if squared_norm == 0.0 or curvature <= 0.0:
        return precisions
    current = _precision_objective(precisions, target, counts, covariance_type)
    step = squared_norm / curvature
    for _ in range(MAX_HALVINGS):
        candidate = precisions + step * gradient
        value = _precision_objective(candidate, target, counts, covariance_type)
        if value >= current + ARMIJO * step * squared_norm:
            return candidate
        step /= 2
    return precisions
