r"""Gibbs sampling for a Gaussian mixture with conjugate priors, and label switching.

Chapter "EM and Gibbs sampling" (``chapters/07_gibbs_sampling.md``) derives everything here.

The model (Diebolt and Robert, 1994), with :math:`K` components in :math:`d` dimensions:

.. math::

    w &\sim \mathrm{Dirichlet}(\alpha_0, \dots, \alpha_0), \\
    \Sigma_k &\sim \mathcal{W}^{-1}(\nu_0, \Psi_0), \quad
    \mu_k \mid \Sigma_k \sim \mathcal{N}(m_0, \Sigma_k / \kappa_0), \\
    z_n \mid w &\sim \mathrm{Categorical}(w), \quad
    x_n \mid z_n = k \sim \mathcal{N}(\mu_k, \Sigma_k).

The inverse Wishart :math:`\mathcal{W}^{-1}(\nu, \Psi)` has density proportional to
:math:`|\Sigma|^{-(\nu + d + 1)/2} \exp(-\tfrac12 \operatorname{tr}(\Psi \Sigma^{-1}))` and
mean :math:`\Psi / (\nu - d - 1)`; equivalently :math:`\Sigma^{-1}` is Wishart with
:math:`\nu` degrees of freedom and scale :math:`\Psi^{-1}`.

The sampler alternates the two full conditionals:

* :math:`z \mid \theta, X`: independently, :math:`P(z_n = k) = r_{nk}`, the responsibilities
  of the E-step (:func:`sample_labels`);
* :math:`\theta \mid z, X`: conjugate updates by the counts :math:`N_k`, the sums
  :math:`S_k` and the scatter :math:`T_k` of each class (:func:`posterior`), then
  independent draws (:func:`sample_parameters`).

The likelihood is invariant under permutations of the component labels, and so is this
prior; the posterior has :math:`K!` symmetric modes and component-wise averages of a
chain that visits several of them are meaningless. :func:`relabel_stephens` undoes the
switches with the decision-theoretic algorithm of Stephens (2000);
:func:`relabel_by_ordering` imposes an identifiability constraint instead.
"""

from dataclasses import dataclass, replace
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from .em_steps import (
    MixtureParameters,
    estimate_log_gaussian_prob,
    estimate_log_prob_resp,
    normalize_log_prob,
    statistics_from_resp,
)
from .hard_em import hard_responsibilities
from .validation import (
    check_covariance_prior,
    check_degrees_of_freedom_prior,
    check_mean_prior,
    check_n_samples,
)


@dataclass
class NormalInverseWishart:
    r"""Parameters of the conjugate prior (or posterior) of a Gaussian mixture.

    Component :math:`k` has :math:`\Sigma_k \sim \mathcal{W}^{-1}(\nu_k, \Psi_k)` and
    :math:`\mu_k \mid \Sigma_k \sim \mathcal{N}(m_k, \Sigma_k / \kappa_k)`; the weights are
    :math:`\mathrm{Dirichlet}(\alpha_1, \dots, \alpha_K)`.

    Attributes
    ----------
    weight_concentration : ndarray of shape (n_components,)
        :math:`\alpha_k`.
    mean : ndarray of shape (n_components, n_features)
        :math:`m_k`.
    mean_precision : ndarray of shape (n_components,)
        :math:`\kappa_k`.
    degrees_of_freedom : ndarray of shape (n_components,)
        :math:`\nu_k > d - 1`.
    scale : ndarray of shape (n_components, n_features, n_features)
        :math:`\Psi_k`, symmetric positive definite.
    """

    weight_concentration: np.ndarray
    mean: np.ndarray
    mean_precision: np.ndarray
    degrees_of_freedom: np.ndarray
    scale: np.ndarray


def default_prior(
    X,
    n_components,
    *,
    weight_concentration_prior=1.0,
    mean_prior=None,
    mean_precision_prior=0.01,
    degrees_of_freedom_prior=None,
    covariance_prior=None,
):
    r"""The prior of :class:`GibbsGaussianMixture`, the same for every component.

    Defaults follow Fraley and Raftery (2007): :math:`\alpha_0 = 1` (uniform on the
    simplex), :math:`m_0` the mean of X, :math:`\kappa_0 = 0.01` (the prior on a mean is
    worth a hundredth of a sample), :math:`\nu_0 = d + 2` (the smallest integer for which
    the prior mean of :math:`\Sigma_k` exists) and
    :math:`\Psi_0 = \operatorname{cov}(X) / K^{2/d}`, so that the prior mean of
    :math:`\Sigma_k` is the data covariance shrunk as if the volume were shared by
    :math:`K` clusters.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_components : int
    weight_concentration_prior : float, default=1.0
        :math:`\alpha_0 > 0`.
    mean_prior : array-like of shape (n_features,), default=None
        :math:`m_0`; None means the mean of X.
    mean_precision_prior : float, default=0.01
        :math:`\kappa_0 > 0`.
    degrees_of_freedom_prior : float, default=None
        :math:`\nu_0 > d - 1`; None means :math:`d + 2`.
    covariance_prior : array-like of shape (n_features, n_features), default=None
        :math:`\Psi_0`; None means :math:`\operatorname{cov}(X) / K^{2/d}`.

    Returns
    -------
    NormalInverseWishart
    """
    n_features = X.shape[1]
    if mean_prior is None:
        mean_prior = X.mean(axis=0)
    mean_prior = np.asarray(check_mean_prior(mean_prior, n_features), dtype=np.float64)
    if degrees_of_freedom_prior is None:
        degrees_of_freedom_prior = n_features + 2.0
    else:
        check_degrees_of_freedom_prior(degrees_of_freedom_prior, n_features)
    if covariance_prior is None:
        covariance_prior = np.atleast_2d(np.cov(X.T)) / n_components ** (
            2.0 / n_features
        )
    covariance_prior = np.asarray(
        check_covariance_prior(
            covariance_prior,
            "full",
            n_features,
            names=("covariance_prior", "covariance_prior"),
        ),
        dtype=np.float64,
    )
    ones = np.ones(n_components)
    return NormalInverseWishart(
        weight_concentration=weight_concentration_prior * ones,
        mean=np.tile(mean_prior, (n_components, 1)),
        mean_precision=mean_precision_prior * ones,
        degrees_of_freedom=degrees_of_freedom_prior * ones,
        scale=np.tile(covariance_prior, (n_components, 1, 1)),
    )


def posterior(X, labels, prior, shift=None):
    r"""The conjugate update :math:`p(\theta \mid z, X)`, in closed form.

    With :math:`N_k = \#\{n : z_n = k\}`, :math:`S_k = \sum_{z_n = k} x_n` and
    :math:`T_k = \sum_{z_n = k} x_n x_n^\top`,

    .. math::

        \alpha_k' = \alpha_k + N_k, \quad \kappa_k' = \kappa_k + N_k, \quad
        m_k' = \frac{\kappa_k m_k + S_k}{\kappa_k'}, \quad \nu_k' = \nu_k + N_k, \\
        \Psi_k' = \Psi_k + T_k + \kappa_k m_k m_k^\top - \kappa_k' m_k' m_k'^\top .

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    labels : ndarray of shape (n_samples,)
    prior : NormalInverseWishart
    shift : ndarray of shape (n_features,), optional
        Centre subtracted from the data for the sums (usually the data mean); it does
        not change the result, only its rounding.

    Returns
    -------
    NormalInverseWishart
    """
    n_components = len(prior.weight_concentration)
    shift = np.zeros(X.shape[1]) if shift is None else shift
    nk, sums, scatter = statistics_from_resp(
        X - shift, hard_responsibilities(labels, n_components), "full"
    )
    prior_mean = prior.mean - shift
    mean_precision = prior.mean_precision + nk
    mean = (prior.mean_precision[:, None] * prior_mean + sums) / mean_precision[:, None]
    scale = (
        prior.scale
        + scatter
        + prior.mean_precision[:, None, None] * _outer(prior_mean)
        - mean_precision[:, None, None] * _outer(mean)
    )
    return NormalInverseWishart(
        weight_concentration=prior.weight_concentration + nk,
        mean=mean + shift,
        mean_precision=mean_precision,
        degrees_of_freedom=prior.degrees_of_freedom + nk,
        scale=0.5 * (scale + scale.transpose(0, 2, 1)),
    )


def _outer(vectors):
    return vectors[:, :, None] * vectors[:, None, :]


def sample_inverse_wishart_cholesky(scale, degrees_of_freedom, random_state):
    r"""Lower-triangular factors :math:`G` of inverse-Wishart draws :math:`\Sigma = G G^\top`.

    Bartlett's decomposition with rows and columns reversed: let :math:`B` be upper
    triangular with :math:`B_{ii}^2 \sim \chi^2_{\nu - d + 1 + i}`
    (:math:`i = 0, \dots, d - 1`) and standard normal entries above the diagonal, so
    that :math:`B B^\top \sim \mathcal{W}(\nu, I)`. With :math:`\Psi = C C^\top`
    (Cholesky), :math:`\Lambda = C^{-\top} B B^\top C^{-1} \sim \mathcal{W}(\nu, \Psi^{-1})`,
    hence :math:`\Sigma = \Lambda^{-1} = G G^\top \sim \mathcal{W}^{-1}(\nu, \Psi)` with
    :math:`G = C B^{-\top}`, a product of lower-triangular matrices. The precision
    Cholesky factor in scikit-learn's layout is :math:`P = G^{-\top} = C^{-\top} B`.

    Parameters
    ----------
    scale : ndarray of shape (n_components, n_features, n_features)
        :math:`\Psi_k`.
    degrees_of_freedom : ndarray of shape (n_components,)
        :math:`\nu_k > d - 1`.
    random_state : RandomState

    Returns
    -------
    covariance_cholesky : ndarray of shape (n_components, n_features, n_features)
        Lower-triangular :math:`G_k`.
    """
    n_components, n_features, _ = scale.shape
    bartlett = np.triu(
        random_state.standard_normal((n_components, n_features, n_features)), k=1
    )
    dof = degrees_of_freedom[:, None] - n_features + 1 + np.arange(n_features)
    diagonal = np.arange(n_features)
    bartlett[:, diagonal, diagonal] = np.sqrt(random_state.chisquare(dof))
    return np.linalg.cholesky(scale) @ np.linalg.inv(bartlett).transpose(0, 2, 1)


def sample_parameters(distribution, random_state):
    r"""One draw of :math:`(w, \mu_k, \Sigma_k)` from a normal-inverse-Wishart law.

    :math:`w \sim \mathrm{Dirichlet}(\alpha)`; :math:`\Sigma_k = G_k G_k^\top \sim
    \mathcal{W}^{-1}(\nu_k, \Psi_k)` through :func:`sample_inverse_wishart_cholesky`;
    then :math:`\mu_k = m_k + G_k \varepsilon_k / \sqrt{\kappa_k}` with
    :math:`\varepsilon_k \sim \mathcal{N}(0, I)`, whose covariance is
    :math:`\Sigma_k / \kappa_k`.

    Parameters
    ----------
    distribution : NormalInverseWishart
        Usually ``posterior(X, labels, prior)``: the draw of :math:`\theta \mid z, X`.
    random_state : RandomState

    Returns
    -------
    MixtureParameters
        With ``covariance_type='full'``.
    """
    n_components, n_features = distribution.mean.shape
    weights = random_state.dirichlet(distribution.weight_concentration)
    factors = sample_inverse_wishart_cholesky(
        distribution.scale, distribution.degrees_of_freedom, random_state
    )
    noise = random_state.standard_normal((n_components, n_features, 1))
    means = (
        distribution.mean
        + (factors @ noise)[:, :, 0] / np.sqrt(distribution.mean_precision)[:, None]
    )
    return MixtureParameters(
        weights,
        means,
        factors @ factors.transpose(0, 2, 1),
        np.linalg.inv(factors).transpose(0, 2, 1),
        "full",
    )


def sample_labels(X, params, random_state, shift=None):
    r"""The draw :math:`z \mid \theta, X`: :math:`z_n = k` with probability :math:`r_{nk}`.

    Inverse-CDF sampling of every row at once: :math:`z_n` is the number of partial sums
    :math:`\sum_{j \le k} r_{nj}` below a uniform :math:`u_n`.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    params : MixtureParameters
    random_state : RandomState
    shift : ndarray of shape (n_features,), optional

    Returns
    -------
    labels : ndarray of shape (n_samples,)
    log_likelihood : float
        :math:`\sum_n \log p(x_n \mid \theta)`, computed on the way.
    """
    log_prob_norm, resp = estimate_log_prob_resp(X, params, shift)
    uniform = random_state.uniform(size=(len(X), 1))
    labels = np.count_nonzero(np.cumsum(resp, axis=1) < uniform, axis=1)
    return np.minimum(labels, resp.shape[1] - 1), float(log_prob_norm.sum())


@dataclass
class GibbsChain:
    """Draws kept by the sampler, one row per kept sweep.

    Attributes
    ----------
    weights : ndarray of shape (n_draws, n_components)
    means : ndarray of shape (n_draws, n_components, n_features)
    covariances : ndarray of shape (n_draws, n_components, n_features, n_features)
    precisions_cholesky : ndarray of shape (n_draws, n_components, n_features, n_features)
    log_likelihood : ndarray of shape (n_draws,)
        :math:`\\sum_n \\log p(x_n \\mid \\theta)` at each draw.
    labels : ndarray of shape (n_draws, n_samples) or None
        The labels drawn after each kept parameter draw (when stored).
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray
    log_likelihood: np.ndarray
    labels: np.ndarray = None

    def permuted(self, permutations):
        """The chain with component ``permutations[s, k]`` of draw ``s`` renamed ``k``.

        Parameters
        ----------
        permutations : ndarray of shape (n_draws, n_components)

        Returns
        -------
        GibbsChain
        """

        def take(values):
            index = permutations.reshape(permutations.shape + (1,) * (values.ndim - 2))
            return np.take_along_axis(values, index, axis=1)

        labels = None
        if self.labels is not None:
            inverse = np.argsort(permutations, axis=1)
            labels = np.take_along_axis(inverse, self.labels, axis=1)
        return replace(
            self,
            weights=take(self.weights),
            means=take(self.means),
            covariances=take(self.covariances),
            precisions_cholesky=take(self.precisions_cholesky),
            labels=labels,
        )


def chain_log_resp(chain, X):
    r"""Responsibilities :math:`r_{nk}(\theta^{(s)})` of every sample at every draw.

    One call of :func:`gmmlib.em_steps.estimate_log_gaussian_prob` with all the
    draws' components side by side, then one log-sum-exp per row.

    Parameters
    ----------
    chain : GibbsChain
    X : ndarray of shape (n_samples, n_features)

    Returns
    -------
    log_resp, resp : ndarray of shape (n_draws, n_samples, n_components)
    """
    n_draws, n_components, n_features = chain.means.shape
    shift = X.mean(axis=0)
    log_prob = estimate_log_gaussian_prob(
        X - shift,
        (chain.means - shift).reshape(-1, n_features),
        chain.precisions_cholesky.reshape(-1, n_features, n_features),
        "full",
    )
    log_prob = log_prob.reshape(len(X), n_draws, n_components).transpose(1, 0, 2)
    log_prob += np.log(chain.weights)[:, None, :]
    resp = log_prob.reshape(-1, n_components).copy()
    log_prob -= normalize_log_prob(resp).reshape(n_draws, len(X), 1)
    return log_prob, resp.reshape(log_prob.shape)


def _log_mean_exp(values, axis):
    r""":math:`\log \frac1S \sum_s e^{v_s}` along ``axis`` without overflow or underflow."""
    top = values.max(axis=axis)
    return top + np.log(np.mean(np.exp(values - np.expand_dims(top, axis)), axis=axis))


def relabel_stephens(chain, X, *, reference_resp=None, max_iter=100):
    r"""Permutations that undo label switching (Stephens, 2000, KL algorithm).

    Let :math:`p^{(s)}_{nk} = r_{nk}(\theta^{(s)})` be the classification probabilities
    of draw :math:`s`. Stephens chooses permutations :math:`\tau_s` and a matrix
    :math:`q_{nk}` minimising :math:`\sum_s \sum_n \mathrm{KL}(p^{(s)}_{n\tau_s} \,\|\, q_n)`,
    alternating

    1. :math:`q_{nk} = \frac1S \sum_s p^{(s)}_{n \tau_s(k)}` (computed in log space);
    2. for each draw, :math:`\tau_s = \arg\min_\tau \sum_k \sum_n -p^{(s)}_{n\tau(k)}
       \log q_{nk}`, an assignment problem solved by
       :func:`scipy.optimize.linear_sum_assignment`;

    until no permutation changes. Neither step raises the objective and there are
    finitely many permutations, so it stops.

    Parameters
    ----------
    chain : GibbsChain
    X : ndarray of shape (n_samples, n_features)
    reference_resp : ndarray of shape (n_samples, n_components), optional
        Starting :math:`q`, e.g. the responsibilities of an EM fit, whose labels the
        result then follows. By default the classification probabilities of the
        draw with the largest log-likelihood.
    max_iter : int, default=100

    Returns
    -------
    permutations : ndarray of shape (n_draws, n_components)
        ``chain.permuted(permutations)`` is the relabelled chain.
    """
    log_resp, resp = chain_log_resp(chain, X)
    if reference_resp is None:
        log_q = log_resp[np.argmax(chain.log_likelihood)]
    else:
        tiny = np.finfo(np.float64).tiny
        log_q = np.log(np.maximum(np.asarray(reference_resp, dtype=np.float64), tiny))
    permutations = None
    for _ in range(max_iter):
        cost = -np.einsum("snj,nk->skj", resp, log_q)
        new = np.array([linear_sum_assignment(c)[1] for c in cost])
        if permutations is not None and np.array_equal(new, permutations):
            break
        permutations = new
        log_q = _log_mean_exp(
            np.take_along_axis(log_resp, permutations[:, None, :], axis=2), axis=0
        )
    return permutations


def relabel_by_ordering(chain, feature=0):
    r"""Permutations that sort the components of every draw by one coordinate of the means.

    The identifiability constraint :math:`\mu_{1j} < \mu_{2j} < \dots < \mu_{Kj}` for the
    chosen feature :math:`j`. Simple, but it distorts the posterior when the means are
    close in that coordinate (Stephens, 2000; Jasra et al., 2005).

    Parameters
    ----------
    chain : GibbsChain
    feature : int, default=0

    Returns
    -------
    permutations : ndarray of shape (n_draws, n_components)
    """
    return np.argsort(chain.means[:, :, feature], axis=1, kind="stable")


class GibbsGaussianMixture(BaseEstimator):
    """Bayesian Gaussian mixture (full covariances) sampled by Gibbs sampling.

    Draws from the posterior of the model in :mod:`gmmlib.gibbs` by alternating
    :math:`\\theta \\mid z, X` and :math:`z \\mid \\theta, X`, then relabels the draws.
    Derived in chapter "EM and Gibbs sampling". Prior parameter names follow
    ``sklearn.mixture.BayesianGaussianMixture``; defaults are those of
    :func:`default_prior`.

    Parameters
    ----------
    n_components : int, default=1
    n_draws : int, default=1000
        Number of draws kept.
    burn_in : int, default=200
        Sweeps discarded before the first kept draw.
    thin : int, default=1
        Keep every ``thin``-th sweep after the burn-in.
    weight_concentration_prior : float, default=1.0
    mean_prior : array-like of shape (n_features,), default=None
    mean_precision_prior : float, default=0.01
    degrees_of_freedom_prior : float, default=None
    covariance_prior : array-like of shape (n_features, n_features), default=None
    init_params : {'kmeans', 'random'}, default='kmeans'
        Starting labels: one k-means run, or uniformly random labels.
    relabel : {'stephens', 'order'} or None, default='stephens'
        :func:`relabel_stephens`, :func:`relabel_by_ordering` (first feature) or none.
    store_labels : bool, default=False
        Keep the labels drawn at each kept sweep (n_draws x n_samples integers).
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    prior_ : NormalInverseWishart
    raw_chain_ : GibbsChain
        The draws in the order the sampler labelled them.
    permutations_ : ndarray of shape (n_draws, n_components)
        Relabelling applied to ``raw_chain_`` (identity when ``relabel=None``).
    chain_ : GibbsChain
        ``raw_chain_.permuted(permutations_)``.
    weights_, means_, covariances_ : ndarray
        Posterior means over ``chain_``.
    n_features_in_ : int
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "n_draws": [Interval(Integral, 1, None, closed="left")],
        "burn_in": [Interval(Integral, 0, None, closed="left")],
        "thin": [Interval(Integral, 1, None, closed="left")],
        "weight_concentration_prior": [Interval(Real, 0.0, None, closed="neither")],
        "mean_prior": ["array-like", None],
        "mean_precision_prior": [Interval(Real, 0.0, None, closed="neither")],
        "degrees_of_freedom_prior": [Interval(Real, 0.0, None, closed="neither"), None],
        "covariance_prior": ["array-like", None],
        "init_params": [StrOptions({"kmeans", "random"})],
        "relabel": [StrOptions({"stephens", "order"}), None],
        "store_labels": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components=1,
        *,
        n_draws=1000,
        burn_in=200,
        thin=1,
        weight_concentration_prior=1.0,
        mean_prior=None,
        mean_precision_prior=0.01,
        degrees_of_freedom_prior=None,
        covariance_prior=None,
        init_params="kmeans",
        relabel="stephens",
        store_labels=False,
        random_state=None,
    ):
        self.n_components = n_components
        self.n_draws = n_draws
        self.burn_in = burn_in
        self.thin = thin
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_prior = mean_prior
        self.mean_precision_prior = mean_precision_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.init_params = init_params
        self.relabel = relabel
        self.store_labels = store_labels
        self.random_state = random_state

    def _initial_labels(self, X, random_state):
        if self.init_params == "kmeans":
            return (
                KMeans(self.n_components, n_init=1, random_state=random_state)
                .fit(X)
                .labels_
            )
        return random_state.randint(self.n_components, size=len(X))

    def fit(self, X, y=None):
        """Run the sampler and relabel its draws.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        self : GibbsGaussianMixture
        """
        self._validate_params()
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        n_samples, n_features = X.shape
        check_n_samples(n_samples, self.n_components)
        self.prior_ = default_prior(
            X,
            self.n_components,
            weight_concentration_prior=self.weight_concentration_prior,
            mean_prior=self.mean_prior,
            mean_precision_prior=self.mean_precision_prior,
            degrees_of_freedom_prior=self.degrees_of_freedom_prior,
            covariance_prior=self.covariance_prior,
        )
        random_state = check_random_state(self.random_state)
        shift = X.mean(axis=0)
        k, d = self.n_components, n_features
        chain = GibbsChain(
            weights=np.empty((self.n_draws, k)),
            means=np.empty((self.n_draws, k, d)),
            covariances=np.empty((self.n_draws, k, d, d)),
            precisions_cholesky=np.empty((self.n_draws, k, d, d)),
            log_likelihood=np.empty(self.n_draws),
            labels=(
                np.empty((self.n_draws, n_samples), dtype=np.intp)
                if self.store_labels
                else None
            ),
        )
        labels = self._initial_labels(X, random_state)
        for sweep in range(self.burn_in + self.n_draws * self.thin):
            params = sample_parameters(
                posterior(X, labels, self.prior_, shift), random_state
            )
            labels, log_likelihood = sample_labels(X, params, random_state, shift)
            kept, offset = divmod(sweep - self.burn_in, self.thin)
            if sweep >= self.burn_in and offset == 0:
                chain.weights[kept] = params.weights
                chain.means[kept] = params.means
                chain.covariances[kept] = params.covariances
                chain.precisions_cholesky[kept] = params.precisions_cholesky
                chain.log_likelihood[kept] = log_likelihood
                if self.store_labels:
                    chain.labels[kept] = labels
        self.raw_chain_ = chain
        if self.relabel == "stephens":
            self.permutations_ = relabel_stephens(chain, X)
        elif self.relabel == "order":
            self.permutations_ = relabel_by_ordering(chain)
        else:
            self.permutations_ = np.tile(np.arange(k), (self.n_draws, 1))
        self.chain_ = chain.permuted(self.permutations_)
        self.weights_ = self.chain_.weights.mean(axis=0)
        self.means_ = self.chain_.means.mean(axis=0)
        self.covariances_ = self.chain_.covariances.mean(axis=0)
        return self
