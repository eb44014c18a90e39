"""``GaussianMixture``: maximum-likelihood Gaussian mixtures fitted by EM.

The estimator follows scikit-learn's ``sklearn.mixture.GaussianMixture``
(same constructor, attributes and methods) and adds ``history_``, the mean
log-likelihood before and after every M-step, ``sample_weight`` in ``fit``,
generalized-EM M-steps, missing values, dask arrays, ``partial_fit`` and MAP
EM with mclust's conjugate prior (``prior``, :mod:`gmmlib.priors`). The
fitting driver and the predictions are :class:`gmmlib.mixture.BaseMixture`'s;
the E-step and M-step live in :mod:`gmmlib.em_steps` and :mod:`gmmlib.gem`.
"""

import math
from numbers import Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from .acceleration import Squarem
from .covariance import (
    n_mixture_parameters,
    precision_cholesky_from_precisions,
    precisions_from_cholesky,
)
from .data_sources import data_source
from .em_steps import MixtureParameters, m_step, parameters_from_model
from .gem import M_STEPS
from .mixture import BaseMixture
from .online import StepwiseEM
from .priors import ConjugatePrior, log_prior, map_m_step, resolve_prior
from .validation import check_means, check_n_samples, check_precisions, check_weights


class GaussianMixture(BaseMixture):
    """Gaussian mixture fitted by expectation-maximisation.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        One full matrix per component, one shared matrix, one diagonal per
        component, or one variance per component.
    tol : float, default=1e-3
        EM stops when the mean log-likelihood changes by less than ``tol``.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance.
    max_iter : int, default=100
        Maximum number of EM iterations per initialisation.
    n_init : int, default=1
        Number of initialisations; the one with the highest final
        log-likelihood is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', \
'hierarchical'}, default='kmeans'
        How the starting responsibilities are chosen, with scikit-learn's
        draws in memory (:func:`gmmlib.data_sources.initial_responsibilities`).
        'kmeans' on more than 10,000 rows runs k-means (the best of three
        runs) on 10,000 rows drawn at random, then gives every row its
        nearest centre (:func:`gmmlib.data_sources.kmeans_labels`), so that
        the start costs less than a few EM iterations; on fewer rows it is
        scikit-learn's start. On a dask array, k-means, k-means++ and
        hierarchical use a sample of the rows
        (:meth:`gmmlib.data_sources.DaskData.starting_statistics`).
        'hierarchical' is R mclust's default start (:mod:`gmmlib.hierarchical`).
    weights_init, means_init, precisions_init : array-like, default=None
        Starting parameters (shapes as in scikit-learn); they override
        ``init_params`` for the parameters they give.
    random_state : int, RandomState instance or None, default=None
        Seed for the initialisation and for :meth:`sample`.
    warm_start : bool, default=False
        Start a new ``fit`` from the last solution (``n_init`` is then ignored).
    verbose : int, default=0
        1 prints each initialisation, 2 also iterations and timings.
    verbose_interval : int, default=10
        Iterations between two printed messages.
    m_step : {'exact', 'ecm', 'gradient'}, default='exact'
        The M-step: EM's closed-form maximiser of Q, or a generalized-EM step
        that only increases Q (:mod:`gmmlib.gem`): conditional maximisation
        block by block, or one gradient-ascent step per block.
    missing_values : {'error', 'marginalize'}, default='error'
        What to do with NaN in X. 'error' rejects it, as scikit-learn does.
        'marginalize' treats NaN as missing at random: each sample is scored by
        the marginal density of its observed coordinates and the M-step uses
        conditional expectations (:mod:`gmmlib.missing_values`, chapter "EM with
        missing values"); starting parameters come from the data with each NaN
        replaced by its column mean. A sample with no observed value is an error.
    learning_decay : float in (0.5, 1], default=0.6
        Exponent :math:`\\alpha` of the step sizes of :meth:`partial_fit`:
        :math:`\\eta_0 = 1` for the first mini-batch, then
        :math:`\\eta_t = (t + t_0)^{-\\alpha}` for the mini-batch counted :math:`t \\ge 1`.
    learning_offset : float > 0, default=2.0
        Offset :math:`t_0` of that step size; larger values make the early
        steps smaller.
    stopping : {'change', 'aitken'}, default='change'
        When ``fit`` stops: when the mean log-likelihood changes by less than
        ``tol`` in one iteration (scikit-learn's rule), or when Aitken's
        extrapolation puts its limit less than ``tol`` above the current
        value (:mod:`gmmlib.convergence`; chapter "EM that finishes").
    acceleration : {None, 'squarem'}, default=None
        None runs plain EM steps (of the ``m_step`` named); 'squarem' runs
        SQUAREM cycles (:mod:`gmmlib.acceleration`): two EM steps, an
        extrapolation and a stabilising EM step, kept only if the
        log-likelihood did not decrease. An iteration is then one cycle, of up
        to four E-steps; ``history_`` still never decreases, and the fixed
        points are EM's.
    prior : None, 'default', dict or ConjugatePrior, default=None
        None fits by maximum likelihood. Otherwise EM finds a posterior mode
        (MAP EM) under the conjugate prior of :mod:`gmmlib.priors`, as R's
        mclust does with ``prior = priorControl()`` (Fraley and Raftery 2007):
        'default' takes mclust's hyperparameters from the data and
        ``n_components`` (:func:`gmmlib.priors.default_prior`); a dict replaces
        some of them (keys 'shrinkage', 'mean', 'degrees_of_freedom',
        'scale'); a :class:`gmmlib.priors.ConjugatePrior` gives them all. The
        weights get no prior. ``reg_covar`` is still added to every covariance
        after the posterior mode; with ``reg_covar=0`` the M-step is the exact
        maximiser of :math:`Q + \\log p(\\Theta)` and ``fit`` reproduces
        mclust's estimates. ``tol``, ``lower_bound_`` and ``history_`` then
        follow the mean log-posterior (see ``lower_bound_``), which never
        decreases; :meth:`score`, :meth:`score_samples`, :meth:`bic` and
        :meth:`aic` still use the log-likelihood. Works with
        ``acceleration='squarem'``, ``missing_values='marginalize'`` (the
        default hyperparameters then come from the data with each NaN
        replaced by its column mean) and dask arrays; not with
        ``m_step='ecm'`` or ``'gradient'``, nor with :meth:`partial_fit`.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
        Shape by ``covariance_type``, as in scikit-learn.
    precisions_ : ndarray
        Inverses of the covariances.
    precisions_cholesky_ : ndarray
        Upper-triangular Cholesky factors of the precisions.
    converged_ : bool
        Whether the best initialisation reached ``tol``.
    n_iter_ : int
        EM iterations of the best initialisation.
    lower_bound_ : float
        Mean log-likelihood of the best initialisation at the parameters of its
        last E-step (scikit-learn's convention). With a ``prior``, the mean
        log-posterior :math:`(\\sum_n w_n \\log p(x_n \\mid \\Theta) + \\log
        p(\\Theta)) / \\sum_n w_n` there instead (``log p(Theta)`` from
        :func:`gmmlib.priors.log_prior`, normalising constants included), and
        the best initialisation is the one with the highest such value.
    lower_bounds_ : list of float
        ``lower_bound_`` after each iteration of the best initialisation.
    history_ : structured ndarray of shape (n_iter_,)
        Fields ``iteration``, ``log_likelihood_before`` (mean log-likelihood at
        the parameters the M-step started from) and ``log_likelihood_after``
        (at the parameters it produced). With a ``prior`` both fields hold the
        mean log-posterior of ``lower_bound_``.
    prior_ : ConjugatePrior or None
        The hyperparameters used (None without a ``prior``).
    n_features_in_ : int
        Number of features seen in ``fit``.
    n_steps_ : int
        Number of :meth:`partial_fit` calls since the online statistics were
        started (set by :meth:`partial_fit` only).
    """

    _parameter_constraints = BaseMixture._parameter_constraints | {
        "weights_init": ["array-like", None],
        "means_init": ["array-like", None],
        "precisions_init": ["array-like", None],
        "m_step": [StrOptions(set(M_STEPS))],
        "learning_decay": [Interval(Real, 0.5, 1.0, closed="right")],
        "learning_offset": [Interval(Real, 0.0, None, closed="neither")],
        "acceleration": [StrOptions({"squarem"}), None],
        "prior": [StrOptions({"default"}), dict, ConjugatePrior, None],
    }

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        m_step="exact",
        missing_values="error",
        learning_decay=0.6,
        learning_offset=2.0,
        stopping="change",
        acceleration=None,
        prior=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.m_step = m_step
        self.missing_values = missing_values
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.stopping = stopping
        self.acceleration = acceleration
        self.prior = prior

    # ------------------------------------------------- what BaseMixture asks for
    def _prepare_fit(self, data):
        self._stepwise = None  # fit discards partial_fit's running statistics
        if self.prior is not None and self.m_step != "exact":
            raise ValueError(
                f"prior={self.prior!r} needs m_step='exact' (the posterior mode); "
                f"got m_step={self.m_step!r}."
            )
        self.prior_ = resolve_prior(
            self.prior, data, self.n_components, self.covariance_type
        )

    def _initial_state(self, data, random_state):
        """Parameters to start EM from: the given ones, the rest from an M-step.

        The M-step is on the statistics of the starting responsibilities that
        ``init_params`` chooses, and runs only if a starting parameter is missing.
        """
        starting = self._checked_starting_parameters(data.n_features)
        params = None
        if any(value is None for value in starting.values()):
            params = self._closed_form_m_step(
                self._starting_statistics(data, random_state)
            )
        weights = params.weights if starting["weights"] is None else starting["weights"]
        means = params.means if starting["means"] is None else starting["means"]
        if starting["precisions"] is None:
            covariances = params.covariances
            precisions_cholesky = params.precisions_cholesky
        else:
            covariances = None
            precisions_cholesky = precision_cholesky_from_precisions(
                starting["precisions"].astype(np.float64), self.covariance_type
            )
        return MixtureParameters(
            np.asarray(weights, dtype=np.float64),
            np.asarray(means, dtype=np.float64),
            covariances,
            precisions_cholesky,
            self.covariance_type,
        )

    def _checked_starting_parameters(self, n_features):
        """User-given starting parameters, validated (constructor values untouched)."""
        k = self.n_components
        return dict(
            weights=None
            if self.weights_init is None
            else check_weights(self.weights_init, k),
            means=None
            if self.means_init is None
            else check_means(self.means_init, k, n_features),
            precisions=None
            if self.precisions_init is None
            else check_precisions(
                self.precisions_init, self.covariance_type, k, n_features
            ),
        )

    def _fitted_state(self):
        return parameters_from_model(self)

    def _parameters(self, params):
        return params, None

    def _closed_form_m_step(self, stats):
        """EM's M-step: the maximiser of :math:`Q`, or of :math:`Q + \\log p(\\Theta)`
        with a prior (:func:`gmmlib.priors.map_m_step`)."""
        if self.prior_ is None:
            return m_step(stats, self.covariance_type, self.reg_covar)
        return map_m_step(stats, self.prior_, self.covariance_type, self.reg_covar)

    def _m_step(self, stats, params):
        if self.m_step == "exact":  # always so with a prior (checked in fit)
            return self._closed_form_m_step(stats)
        return M_STEPS[self.m_step](stats, params, self.reg_covar)

    def _iteration(self, data):
        """EM's step, or a SQUAREM cycle of EM steps when ``acceleration='squarem'``."""
        if self.acceleration is None:
            return super()._iteration(data)
        return Squarem(
            lambda params: self._e_step(data, params),
            self._m_step,
            self._objective,
        ).cycle

    def _objective(self, stats, params):
        """The mean log-likelihood, or with a prior the mean log-posterior, at ``params``."""
        if self.prior_ is None:
            return stats.mean_log_likelihood
        return (stats.log_likelihood + log_prior(params, self.prior_)) / (
            stats.total_weight
        )

    def _lower_bound(self, stats, params, new_params):
        """:meth:`_objective` at the parameters the M-step started from."""
        return self._objective(stats, params)

    def _set_state(self, params, dtype):
        self.weights_ = params.weights.astype(dtype)
        self.means_ = params.means.astype(dtype)
        if params.covariances is not None:
            self.covariances_ = params.covariances.astype(dtype)
        self.precisions_cholesky_ = params.precisions_cholesky.astype(dtype)
        self.precisions_ = precisions_from_cholesky(
            self.precisions_cholesky_, self.covariance_type
        )

    # ------------------------------------------------------------ online EM
    def partial_fit(self, X, y=None, sample_weight=None):
        r"""Update the mixture with one mini-batch by stepwise online EM.

        An E-step on the batch, the running sufficient statistics moved
        towards the batch's by :math:`\eta_t` (:math:`\eta_0 = 1`, then
        :math:`(t + t_0)^{-\alpha}`, mini-batches counted from 0), and the
        M-step that ``m_step`` names on them (:class:`gmmlib.online.StepwiseEM`;
        chapter "The free-energy view"). With ``missing_values='marginalize'``
        the batch may hold NaN: its E-step marginalises them. A dask array is
        one batch, its E-step a map-reduce. The first call starts from the
        fitted parameters if :meth:`fit` was called, otherwise it initialises
        them on this batch as :meth:`fit` does (one start: ``n_init`` and
        ``warm_start`` apply to :meth:`fit` only); :meth:`fit` discards the
        running statistics.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
            The mini-batch.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : GaussianMixture
            ``lower_bound_`` holds the mean log-likelihood of this batch under
            the parameters of its E-step.
        """
        self._validate_params()
        if self.prior is not None:
            raise ValueError(
                "partial_fit does not support a prior: its running statistics "
                "are averages, on a different scale from the prior's counts. "
                "Use fit, or prior=None."
            )
        self.prior_ = None
        fitted = hasattr(self, "means_")
        data = data_source(
            self, X, sample_weight, missing_values=self.missing_values, reset=not fitted
        )
        if getattr(self, "_stepwise", None) is None:
            if fitted:
                params = parameters_from_model(self)
            else:
                check_n_samples(data.n_samples, self.n_components)
                params = self._initial_state(
                    data, check_random_state(self.random_state)
                )
            self._stepwise = StepwiseEM(
                params,
                data.shift,
                self.learning_decay,
                self.learning_offset,
                M_STEPS[self.m_step],
            )
        self.lower_bound_ = self._stepwise.update(data, self.reg_covar)
        self._set_state(self._stepwise.params, data.dtype)
        self.n_steps_ = self._stepwise.n_steps
        return self

    # ------------------------------------------------------- model selection
    def _n_parameters(self):
        """Number of free parameters: covariances, means and weights."""
        return n_mixture_parameters(
            self.covariance_type, self.n_components, self.means_.shape[1]
        )

    def bic(self, X):
        r"""Bayesian information criterion, :math:`-2 \log L + p \log n` (lower is better).

        With a ``prior`` too, :math:`\log L` is the log-likelihood at the
        fitted (MAP) parameters and :math:`p` the same count of free
        parameters: mclust's convention (its BIC with ``priorControl()`` is
        :math:`2 \log L - p \log n`, the same number with the opposite sign).
        """
        n_samples = len(X)
        return -2 * self.score(X) * n_samples + self._n_parameters() * math.log(
            n_samples
        )

    def aic(self, X):
        r"""Akaike information criterion, :math:`-2 \log L + 2p` (lower is better)."""
        return -2 * self.score(X) * len(X) + 2 * self._n_parameters()
