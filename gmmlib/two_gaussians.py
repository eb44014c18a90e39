r"""EM for a mixture of two one-dimensional Gaussians, step by step.

A transparent implementation whose every line is one of the equations of chapter 2
(``chapters/02_em_two_gaussians.md``), written for reading rather than for speed.
The model of chapter 1 draws :math:`z_n \sim \mathrm{Bernoulli}(\pi)` and then
:math:`y_n \mid z_n = j \sim \mathcal{N}(\mu_j, \sigma_j^2)`; :math:`\phi_j` is the
normal density of component :math:`j`. One EM iteration is

* E-step: the responsibilities
  :math:`\gamma_n = \pi \phi_1(y_n) / [(1 - \pi) \phi_0(y_n) + \pi \phi_1(y_n)]`,
  computed in log space;
* M-step: with :math:`N_1 = \sum_n \gamma_n` and :math:`N_0 = \sum_n (1 - \gamma_n)`,

  .. math:: \pi = \frac{N_1}{N}, \quad
            \mu_1 = \frac{1}{N_1} \sum_n \gamma_n y_n, \quad
            \sigma_1^2 = \frac{1}{N_1} \sum_n \gamma_n (y_n - \mu_1)^2,

  and the same for component 0 with :math:`1 - \gamma_n` in place of :math:`\gamma_n`.

:func:`em_two_gaussians` keeps the whole trace: parameters, responsibilities and
log-likelihood at every iteration. The general case (any number of components, any
dimension, four covariance types) is :class:`gmmlib.GaussianMixture`; with two
components, one feature and ``reg_covar=0`` both compute the same iterates.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .covariance import DEGENERATE_COVARIANCE_MESSAGE


class TwoGaussianParameters(NamedTuple):
    r"""The parameter :math:`\theta = (\pi, \mu_0, \sigma_0, \mu_1, \sigma_1)` (chapter 1).

    ``pi`` is the probability of component 1, ``sigma0`` and ``sigma1`` are standard
    deviations (not variances), as in :func:`gmmlib.datasets.sample_two_gaussians`.
    """

    pi: float
    mu0: float
    sigma0: float
    mu1: float
    sigma1: float


@dataclass
class TwoGaussianTrace:
    """Everything :func:`em_two_gaussians` computed, iteration by iteration.

    Row ``t`` of every array belongs to the parameters after ``t`` EM iterations;
    row 0 is the starting point.

    Attributes
    ----------
    pi, mu0, sigma0, mu1, sigma1 : ndarray of shape (n_iter + 1,)
        The parameters :math:`\\theta^{(t)}`.
    gamma : ndarray of shape (n_iter + 1, n_samples)
        The responsibilities :math:`\\gamma_n^{(t)}` of component 1 computed at
        :math:`\\theta^{(t)}` (the E-step that follows iteration ``t``).
    log_likelihood : ndarray of shape (n_iter + 1,)
        :math:`\\ell(\\theta^{(t)})`, summed over the samples (not averaged).
    converged : bool
        Whether the stopping rule was met before ``max_iter`` iterations.
    """

    pi: np.ndarray
    mu0: np.ndarray
    sigma0: np.ndarray
    mu1: np.ndarray
    sigma1: np.ndarray
    gamma: np.ndarray
    log_likelihood: np.ndarray
    converged: bool

    @property
    def n_iter(self):
        """Number of EM iterations run."""
        return len(self.log_likelihood) - 1

    def parameters(self, iteration=-1):
        """The parameters after ``iteration`` EM iterations (default: the last).

        Returns
        -------
        TwoGaussianParameters
        """
        return TwoGaussianParameters(
            *(
                float(getattr(self, name)[iteration])
                for name in TwoGaussianParameters._fields
            )
        )


def _check_parameters(pi, mu0, sigma0, mu1, sigma1):
    """Validated parameters as a :class:`TwoGaussianParameters` of floats."""
    params = TwoGaussianParameters(
        *(float(value) for value in (pi, mu0, sigma0, mu1, sigma1))
    )
    if not 0.0 < params.pi < 1.0:
        raise ValueError(
            f"The parameter 'pi' should be in the range (0, 1), but got "
            f"pi={params.pi!r}"
        )
    for name in ("sigma0", "sigma1"):
        if not getattr(params, name) > 0.0:
            raise ValueError(
                f"The parameter '{name}' should be positive, but got "
                f"{name}={getattr(params, name)!r}"
            )
    for name in ("mu0", "mu1"):
        if not np.isfinite(getattr(params, name)):
            raise ValueError(
                f"The parameter '{name}' should be finite, but got "
                f"{name}={getattr(params, name)!r}"
            )
    return params


def _check_observations(y):
    """The observations as a finite float64 array of shape (n_samples,)."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(
            f"Expected 1D array of observations, got {y.ndim}D array "
            "instead. Pass a one-dimensional array of shape (n_samples,)."
        )
    if len(y) < 2:
        raise ValueError(f"Expected n_samples >= 2 but got n_samples = {len(y)}")
    if not np.all(np.isfinite(y)):
        raise ValueError("Input y contains NaN or infinity.")
    return y


def log_normal_density(y, mu, sigma):
    r"""Logarithm of the normal density, :math:`\log \phi(y) = -\tfrac12 \log(2\pi\sigma^2)
    - (y - \mu)^2 / (2\sigma^2)` (chapter 1).

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
    mu, sigma : float
        Mean and standard deviation.

    Returns
    -------
    log_density : ndarray of shape (n_samples,)
    """
    return -0.5 * np.log(2.0 * np.pi * sigma**2) - (y - mu) ** 2 / (2.0 * sigma**2)


def log_joint_two_gaussians(y, pi, mu0, sigma0, mu1, sigma1):
    r"""Log joint densities :math:`\log[(1-\pi)\phi_0(y_n)]` and :math:`\log[\pi\phi_1(y_n)]`.

    Derived in chapter 1 (``chapters/01_the_model.md``); they are the two terms of
    the mixture density :math:`g(y_n) = (1-\pi)\phi_0(y_n) + \pi\phi_1(y_n)`, kept
    as logarithms so that nothing underflows far from the means.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Observations.
    pi, mu0, sigma0, mu1, sigma1 : float
        Mixing probability of component 1, means and standard deviations.

    Returns
    -------
    log_joint : ndarray of shape (n_samples, 2)
        Column :math:`j` holds :math:`\log P(y_n, z_n = j \mid \theta)`.
    """
    return _log_joint(
        _check_observations(y), _check_parameters(pi, mu0, sigma0, mu1, sigma1)
    )


def _log_joint(y, params):
    """:func:`log_joint_two_gaussians` without the input checks."""
    pi, mu0, sigma0, mu1, sigma1 = params
    return np.column_stack(
        [
            np.log1p(-pi) + log_normal_density(y, mu0, sigma0),
            np.log(pi) + log_normal_density(y, mu1, sigma1),
        ]
    )


def log_likelihood_two_gaussians(y, pi, mu0, sigma0, mu1, sigma1):
    r"""The observed-data log-likelihood, summed over the samples.

    .. math:: \ell(\theta) = \sum_{n=1}^N \log\bigl[(1-\pi)\phi_0(y_n) + \pi\phi_1(y_n)\bigr],

    each logarithm of a sum taken as a log-sum-exp of the log joint densities
    (chapter 1).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
    pi, mu0, sigma0, mu1, sigma1 : float

    Returns
    -------
    log_likelihood : float
    """
    log_joint = log_joint_two_gaussians(y, pi, mu0, sigma0, mu1, sigma1)
    return _responsibilities_from_log_joint(log_joint)[1]


def e_step_two_gaussians(y, pi, mu0, sigma0, mu1, sigma1):
    r"""E-step: the responsibility of component 1 for every observation.

    .. math::

        \begin{aligned}
        \gamma_n &= \frac{\pi\,\phi_1(y_n)}{(1-\pi)\,\phi_0(y_n) + \pi\,\phi_1(y_n)} \\
                 &= \exp\Bigl(\log[\pi\phi_1(y_n)]
                 - \operatorname{logaddexp}\bigl(\log[(1-\pi)\phi_0(y_n)],
                 \log[\pi\phi_1(y_n)]\bigr)\Bigr),
        \end{aligned}

    the posterior probability :math:`P(z_n = 1 \mid y_n, \theta)`, computed in log
    space (chapter 2, equation ``eq-em2-e-step``).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
    pi, mu0, sigma0, mu1, sigma1 : float

    Returns
    -------
    gamma : ndarray of shape (n_samples,)
        :math:`\gamma_n \in [0, 1]`; :math:`1 - \gamma_n` is the responsibility of
        component 0.
    """
    log_joint = log_joint_two_gaussians(y, pi, mu0, sigma0, mu1, sigma1)
    return _responsibilities_from_log_joint(log_joint)[0]


def _responsibilities_from_log_joint(log_joint):
    """gamma_n = exp(a_n1 - logaddexp(a_n0, a_n1)) and l = sum_n logaddexp(a_n0, a_n1)."""
    log_g = np.logaddexp(log_joint[:, 0], log_joint[:, 1])
    return np.exp(log_joint[:, 1] - log_g), float(log_g.sum())


def m_step_two_gaussians(y, gamma):
    r"""M-step: the maximiser of the expected complete-data log-likelihood.

    Chapter 2 derives each update by setting a partial derivative of
    :math:`Q(\theta, \theta^{(j)})` to zero (equations ``eq-em2-m-pi`` to
    ``eq-em2-m-sigma``). With :math:`N_1 = \sum_n \gamma_n` and
    :math:`N_0 = \sum_n (1 - \gamma_n)`,

    .. math:: \pi = \frac{N_1}{N}, \qquad
              \mu_0 = \frac{\sum_n (1-\gamma_n) y_n}{N_0}, \qquad
              \sigma_0^2 = \frac{\sum_n (1-\gamma_n) (y_n - \mu_0)^2}{N_0},

    .. math:: \mu_1 = \frac{\sum_n \gamma_n y_n}{N_1}, \qquad
              \sigma_1^2 = \frac{\sum_n \gamma_n (y_n - \mu_1)^2}{N_1}.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
    gamma : array-like of shape (n_samples,)
        Responsibilities of component 1, in [0, 1].

    Returns
    -------
    TwoGaussianParameters
        The new parameters; ``sigma0`` and ``sigma1`` are square roots of the
        variances above.

    Raises
    ------
    ValueError
        If a component receives no responsibility or a zero variance (the
        likelihood is then unbounded, see chapter 1).
    """
    y = _check_observations(y)
    gamma = np.asarray(gamma, dtype=np.float64)
    if gamma.shape != y.shape:
        raise ValueError(
            f"gamma should have the shape of y, {y.shape}, but got {gamma.shape}"
        )
    if np.any(gamma < 0.0) or np.any(gamma > 1.0):
        raise ValueError(
            "The responsibilities 'gamma' should be in the range [0, 1], "
            f"but got max value {gamma.max():.5f}, min value "
            f"{gamma.min():.5f}"
        )
    return _m_step(y, gamma)


def _m_step(y, gamma):
    """:func:`m_step_two_gaussians` without the input checks."""
    n1 = gamma.sum()
    n0 = (1.0 - gamma).sum()
    if not (n0 > 0.0 and n1 > 0.0):
        raise ValueError(DEGENERATE_COVARIANCE_MESSAGE)
    pi = n1 / len(y)
    mu0 = ((1.0 - gamma) * y).sum() / n0
    mu1 = (gamma * y).sum() / n1
    variance0 = ((1.0 - gamma) * (y - mu0) ** 2).sum() / n0
    variance1 = (gamma * (y - mu1) ** 2).sum() / n1
    if not (variance0 > 0.0 and variance1 > 0.0):
        raise ValueError(DEGENERATE_COVARIANCE_MESSAGE)
    return TwoGaussianParameters(
        float(pi),
        float(mu0),
        float(np.sqrt(variance0)),
        float(mu1),
        float(np.sqrt(variance1)),
    )


def expected_complete_log_likelihood_two_gaussians(
    y, gamma, pi, mu0, sigma0, mu1, sigma1
):
    r"""The function :math:`Q(\theta, \theta^{(j)})` that the M-step maximises.

    The complete-data log-likelihood of chapter 1 with every label :math:`z_n`
    replaced by its expectation :math:`\gamma_n = \gamma_n(\theta^{(j)})`
    (chapter 2, equation ``eq-em2-q``):

    .. math:: Q(\theta, \theta^{(j)}) = \sum_{n=1}^N (1-\gamma_n)
              \bigl[\log(1-\pi) + \log\phi_0(y_n)\bigr]
              + \gamma_n \bigl[\log\pi + \log\phi_1(y_n)\bigr].

    Parameters
    ----------
    y : array-like of shape (n_samples,)
    gamma : array-like of shape (n_samples,)
        Responsibilities computed at :math:`\theta^{(j)}`.
    pi, mu0, sigma0, mu1, sigma1 : float
        The argument :math:`\theta`.

    Returns
    -------
    q : float
    """
    log_joint = log_joint_two_gaussians(y, pi, mu0, sigma0, mu1, sigma1)
    gamma = np.asarray(gamma, dtype=np.float64)
    return float(((1.0 - gamma) * log_joint[:, 0] + gamma * log_joint[:, 1]).sum())


def em_two_gaussians(y, pi, mu0, sigma0, mu1, sigma1, max_iter=100, tol=1e-6):
    r"""Run EM for the two-Gaussian mixture from a given start and keep the trace.

    Algorithm ``alg-em-two-gaussians`` of chapter 2: alternate
    :func:`e_step_two_gaussians` and :func:`m_step_two_gaussians`. One iteration is
    one M-step followed by the E-step at the new parameters, so after ``max_iter``
    iterations the result equals scikit-learn's ``GaussianMixture(n_components=2,
    max_iter=max_iter, tol=0, reg_covar=0)`` started from the same parameters.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Observations.
    pi, mu0, sigma0, mu1, sigma1 : float
        Starting parameters :math:`\theta^{(0)}` (standard deviations, not variances).
    max_iter : int, default=100
        Maximum number of iterations.
    tol : float, default=1e-6
        Stop when the mean log-likelihood per sample,
        :math:`\ell(\theta^{(t)}) / N`, changes by less than ``tol`` in one
        iteration. scikit-learn tests the same change but one M-step later, so with
        ``tol > 0`` it may run one more iteration. ``tol=0`` runs ``max_iter``
        iterations.

    Returns
    -------
    TwoGaussianTrace
    """
    y = _check_observations(y)
    params = _check_parameters(pi, mu0, sigma0, mu1, sigma1)
    if int(max_iter) != max_iter or max_iter < 0:
        raise ValueError(
            f"The 'max_iter' parameter must be a non-negative int, got {max_iter!r}."
        )
    if not tol >= 0.0:
        raise ValueError(
            f"The 'tol' parameter must be a float in the range [0.0, inf), got {tol!r}."
        )
    n_samples = len(y)
    # One log-sum-exp per observation gives both the E-step and the log-likelihood.
    # The inputs are checked once, above, not in every iteration.
    gamma, log_likelihood = _responsibilities_from_log_joint(_log_joint(y, params))
    history, gammas, log_likelihoods = [params], [gamma], [log_likelihood]
    converged = False
    for _ in range(int(max_iter)):
        params = _m_step(y, gammas[-1])
        gamma, log_likelihood = _responsibilities_from_log_joint(_log_joint(y, params))
        history.append(params)
        gammas.append(gamma)
        log_likelihoods.append(log_likelihood)
        if abs(log_likelihoods[-1] - log_likelihoods[-2]) / n_samples < tol:
            converged = True
            break
    columns = np.array(history, dtype=np.float64).T
    return TwoGaussianTrace(
        *columns,
        gamma=np.array(gammas),
        log_likelihood=np.array(log_likelihoods),
        converged=converged,
    )
