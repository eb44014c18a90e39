"""``GaussianMixture``: maximum-likelihood Gaussian mixtures fitted by EM.

The estimator follows scikit-learn's ``sklearn.mixture.GaussianMixture``
(same constructor, attributes and methods) and adds ``history_``, the mean
log-likelihood before and after every M-step, and ``sample_weight`` in ``fit``.
The E-step and M-step live in :mod:`gmmlib.em_steps`.
"""

import math
import warnings
from functools import partial
from numbers import Integral, Real
from time import time

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .covariance import (COVARIANCE_TYPES, n_covariance_parameters,
                         precision_cholesky_from_precisions, precisions_from_cholesky)
from . import distributed
from .em_steps import (MixtureParameters, e_step, estimate_log_prob_resp, m_step,
                       parameters_from_model, statistics_from_resp, SufficientStatistics)
from .gem import M_STEPS
from .missing_values import (MISSING_VALUES_OPTIONS, e_step_for,
                             estimate_log_prob_resp_missing, fill_with_column_means)
from .online import StepwiseEM
from .runtime import blas_threads, single_threaded_blas
from .validation import (check_means, check_n_samples, check_precisions,
                         check_sample_weight, check_weights)

HISTORY_DTYPE = np.dtype([
    ("iteration", np.int64),
    ("log_likelihood_before", np.float64),
    ("log_likelihood_after", np.float64),
])


class GaussianMixture(DensityMixin, BaseEstimator):
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
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        How the starting responsibilities are chosen.
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
        last E-step (scikit-learn's convention).
    lower_bounds_ : list of float
        ``lower_bound_`` after each iteration of the best initialisation.
    history_ : structured ndarray of shape (n_iter_,)
        Fields ``iteration``, ``log_likelihood_before`` (mean log-likelihood at
        the parameters the M-step started from) and ``log_likelihood_after``
        (at the parameters it produced).
    n_features_in_ : int
        Number of features seen in ``fit``.
    n_steps_ : int
        Number of :meth:`partial_fit` calls since the online statistics were
        started (set by :meth:`partial_fit` only).
    """

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions(set(COVARIANCE_TYPES))],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions({"kmeans", "random", "random_from_data",
                                    "k-means++"})],
        "weights_init": ["array-like", None],
        "means_init": ["array-like", None],
        "precisions_init": ["array-like", None],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
        "m_step": [StrOptions(set(M_STEPS))],
        "missing_values": [StrOptions(set(MISSING_VALUES_OPTIONS))],
        "learning_decay": [Interval(Real, 0.5, 1.0, closed="right")],
        "learning_offset": [Interval(Real, 0.0, None, closed="neither")],
    }

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3,
                 reg_covar=1e-6, max_iter=100, n_init=1, init_params="kmeans",
                 weights_init=None, means_init=None, precisions_init=None,
                 random_state=None, warm_start=False, verbose=0,
                 verbose_interval=10, m_step="exact", missing_values="error",
                 learning_decay=0.6, learning_offset=2.0):
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

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, sample_weight=None):
        """Estimate the parameters with EM.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
            A dask array is fitted where its blocks are, each E-step one
            map-reduce (:mod:`gmmlib.distributed`); it needs the starting
            parameters or ``init_params='random_from_data'``.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; weight 2 on a sample is the same as
            including it twice.

        Returns
        -------
        self : GaussianMixture
        """
        self._fit(X, sample_weight)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the most probable component of each sample.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        X = self._fit(X, sample_weight)
        return self.predict(X)

    def _fit(self, X, sample_weight):
        self._validate_params()
        if distributed.is_dask_array(X):
            X = distributed.check_dask_array(self, X)
        else:
            X = validate_data(self, X, dtype=[np.float64, np.float32],
                              ensure_min_samples=2, ensure_all_finite=self._allow_nan())
        n_samples = X.shape[0]
        check_n_samples(n_samples, self.n_components)
        self._stepwise = None
        sample_weight = check_sample_weight(sample_weight, n_samples)
        starting = self._checked_starting_parameters(X.shape[1])
        if distributed.is_dask_array(X):
            e_step_function = distributed.e_step
            shift = distributed.column_mean(X)
            X_filled = X
        else:
            e_step_function = e_step_for(X, self.missing_values)
            X_filled = fill_with_column_means(X, sample_weight)  # X itself without NaN
            shift = np.average(X_filled, axis=0, weights=sample_weight).astype(np.float64)

        do_init = not (self.warm_start and hasattr(self, "converged_"))
        random_state = check_random_state(self.random_state)
        best = None
        for init in range(self.n_init if do_init else 1):
            self._print_verbose_init_begin(init)
            if do_init:
                params = self._initial_parameters(X_filled, sample_weight, starting,
                                                  random_state)
                lower_bound = -np.inf
            else:
                params = parameters_from_model(self)
                lower_bound = self.lower_bound_
            run = self._run_em(X, params, sample_weight, shift, lower_bound,
                               e_step_function)
            self._print_verbose_init_end(run["lower_bound"], run["converged"])
            if best is None or run["lower_bound"] > best["lower_bound"]:
                best = run

        if not best["converged"] and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different "
                "init parameters, or increase max_iter, tol, or check for "
                "degenerate data.", ConvergenceWarning)
        self._set_parameters(best["params"], X.dtype)
        self.converged_ = best["converged"]
        self.n_iter_ = best["n_iter"]
        self.lower_bound_ = best["lower_bound"]
        self.lower_bounds_ = best["lower_bounds"]
        self.history_ = np.array(best["history"], dtype=HISTORY_DTYPE)
        return X

    def _run_em(self, X, params, sample_weight, shift, lower_bound,
                e_step_function=e_step):
        """EM from ``params`` until the lower bound changes by less than ``tol``.

        BLAS runs on one thread throughout; the in-memory E-step spreads its
        blocks over as many threads as BLAS was allowed
        (:func:`gmmlib.em_steps.e_step`).
        """
        update = M_STEPS[self.m_step]
        history, lower_bounds = [], []
        converged = False
        n_iter = 0
        if e_step_function is e_step:
            e_step_function = partial(e_step, n_threads=blas_threads())
        with single_threaded_blas():
            stats = e_step_function(X, params, sample_weight, shift)
            for n_iter in range(1, self.max_iter + 1):
                previous = lower_bound
                params = update(stats, params, self.reg_covar)
                lower_bound = stats.mean_log_likelihood
                stats = e_step_function(X, params, sample_weight, shift)
                history.append((n_iter, lower_bound, stats.mean_log_likelihood))
                lower_bounds.append(lower_bound)
                change = lower_bound - previous
                self._print_verbose_iter_end(n_iter, change)
                if abs(change) < self.tol:
                    converged = True
                    break
        return dict(params=params, lower_bound=lower_bound, converged=converged,
                    n_iter=n_iter, lower_bounds=lower_bounds, history=history)

    def partial_fit(self, X, y=None, sample_weight=None):
        r"""Update the mixture with one mini-batch by stepwise online EM.

        An E-step on the batch, the running sufficient statistics moved
        towards the batch's by :math:`\eta_t` (:math:`\eta_0 = 1`, then
        :math:`(t + t_0)^{-\alpha}`, mini-batches counted from 0), an M-step
        (:class:`gmmlib.online.StepwiseEM`; chapter "The free-energy view").
        The first call starts from the fitted parameters if :meth:`fit` was
        called, otherwise it initialises them on this batch as :meth:`fit`
        does; :meth:`fit` discards the running statistics.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
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
        fitted = hasattr(self, "means_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=not fitted)
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        if getattr(self, "_stepwise", None) is None:
            if fitted:
                params = parameters_from_model(self)
            else:
                check_n_samples(X.shape[0], self.n_components)
                params = self._initial_parameters(
                    X, sample_weight, self._checked_starting_parameters(X.shape[1]),
                    check_random_state(self.random_state))
            self._stepwise = StepwiseEM(params, np.average(X, axis=0, weights=sample_weight),
                                        self.learning_decay, self.learning_offset)
        self.lower_bound_ = self._stepwise.update(X, sample_weight, self.reg_covar)
        self._set_parameters(self._stepwise.params, X.dtype)
        self.n_steps_ = self._stepwise.n_steps
        return self

    # ----------------------------------------------------------- initialisation
    def _checked_starting_parameters(self, n_features):
        """User-given starting parameters, validated (constructor values untouched)."""
        k = self.n_components
        return dict(
            weights=None if self.weights_init is None
            else check_weights(self.weights_init, k),
            means=None if self.means_init is None
            else check_means(self.means_init, k, n_features),
            precisions=None if self.precisions_init is None
            else check_precisions(self.precisions_init, self.covariance_type, k,
                                  n_features),
        )

    def _initial_responsibilities(self, X, sample_weight, random_state):
        """Starting responsibilities chosen by ``init_params``."""
        n_samples, k = X.shape[0], self.n_components
        if self.init_params == "random":
            resp = random_state.uniform(size=(n_samples, k)).astype(X.dtype)
            return resp / resp.sum(axis=1)[:, None]
        resp = np.zeros((n_samples, k), dtype=X.dtype)
        if self.init_params == "kmeans":
            labels = KMeans(n_clusters=k, n_init=1, random_state=random_state).fit(
                X, sample_weight=sample_weight).labels_
            resp[np.arange(n_samples), labels] = 1
        elif self.init_params == "random_from_data":
            indices = random_state.choice(n_samples, size=k, replace=False)
            resp[indices, np.arange(k)] = 1
        else:
            _, indices = kmeans_plusplus(X, k, random_state=random_state,
                                         sample_weight=sample_weight)
            resp[indices, np.arange(k)] = 1
        return resp

    def _initial_parameters(self, X, sample_weight, starting, random_state):
        """Parameters to start EM from: given ones, the rest from an M-step."""
        params = None
        if any(value is None for value in starting.values()):
            shift = np.zeros(X.shape[1])
            if distributed.is_dask_array(X):
                nk, first, second = distributed.initial_statistics(
                    X, self.n_components, self.init_params, self.covariance_type,
                    random_state)
            else:
                resp = self._initial_responsibilities(X, sample_weight, random_state)
                nk, first, second = statistics_from_resp(X, resp, self.covariance_type,
                                                         sample_weight)
            stats = SufficientStatistics(nk, first, second, 0.0, 0.0, shift)
            params = m_step(stats, self.covariance_type, self.reg_covar)
        weights = params.weights if starting["weights"] is None else starting["weights"]
        means = params.means if starting["means"] is None else starting["means"]
        if starting["precisions"] is None:
            covariances = params.covariances
            precisions_cholesky = params.precisions_cholesky
        else:
            covariances = None
            precisions_cholesky = precision_cholesky_from_precisions(
                starting["precisions"].astype(np.float64), self.covariance_type)
        return MixtureParameters(np.asarray(weights, dtype=np.float64),
                                 np.asarray(means, dtype=np.float64), covariances,
                                 precisions_cholesky, self.covariance_type)

    # ------------------------------------------------------------- parameters
    def _set_parameters(self, params, dtype):
        self.weights_ = params.weights.astype(dtype)
        self.means_ = params.means.astype(dtype)
        if params.covariances is not None:
            self.covariances_ = params.covariances.astype(dtype)
        self.precisions_cholesky_ = params.precisions_cholesky.astype(dtype)
        self.precisions_ = precisions_from_cholesky(self.precisions_cholesky_,
                                                    self.covariance_type)

    def _allow_nan(self):
        return "allow-nan" if self.missing_values == "marginalize" else True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing_values == "marginalize"
        return tags

    def _check_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=[np.float64, np.float32], reset=False,
                             ensure_all_finite=self._allow_nan())

    def _estimate_log_prob_resp(self, X):
        if self.missing_values == "marginalize":
            return estimate_log_prob_resp_missing(X, parameters_from_model(self))
        return estimate_log_prob_resp(X, parameters_from_model(self))

    # ------------------------------------------------------------- inference
    def predict_proba(self, X):
        """Responsibilities: posterior probability of each component per sample.

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
        """
        X = self._check_X(X)
        return self._estimate_log_prob_resp(X)[1]

    def predict(self, X):
        """Most probable component of each sample.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self.predict_proba(X).argmax(axis=1)

    def score_samples(self, X):
        r"""Log-density :math:`\log p(x_n) = \log \sum_k w_k \mathcal{N}(x_n \mid \mu_k, \Sigma_k)`.

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
        """
        X = self._check_X(X)
        return self._estimate_log_prob_resp(X)[0]

    def score(self, X, y=None):
        """Mean log-likelihood per sample of X.

        Returns
        -------
        log_likelihood : float
        """
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples=1):
        """Draw from the fitted mixture.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        labels : ndarray of shape (n_samples,)
            The component each draw came from, sorted by component.
        """
        check_is_fitted(self)
        if n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples} . The sampling "
                "requires at least one sample.")
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_.astype(np.float64))
        labels = np.repeat(np.arange(self.n_components), counts)
        n_features = self.means_.shape[1]
        noise = rng.standard_normal((n_samples, n_features))
        # x = mu_k + P_k^{-T} z has covariance P_k^{-T} P_k^{-1} = Sigma_k.
        factors = np.asarray(self.precisions_cholesky_, dtype=np.float64)
        if self.covariance_type == "full":
            X = np.einsum("nij,nj->ni", np.linalg.inv(factors)[labels].transpose(0, 2, 1),
                          noise)
        elif self.covariance_type == "tied":
            X = noise @ np.linalg.inv(factors)
        elif self.covariance_type == "diag":
            X = noise / factors[labels]
        else:
            X = noise / factors[labels][:, None]
        X += self.means_[labels]
        return X, labels

    # ------------------------------------------------------- model selection
    def _n_parameters(self):
        """Number of free parameters: covariances, means and weights."""
        n_features = self.means_.shape[1]
        return (n_covariance_parameters(self.covariance_type, self.n_components,
                                        n_features)
                + n_features * self.n_components + self.n_components - 1)

    def bic(self, X):
        r"""Bayesian information criterion, :math:`-2 \log L + p \log n` (lower is better)."""
        n_samples = len(X)
        return -2 * self.score(X) * n_samples + self._n_parameters() * math.log(n_samples)

    def aic(self, X):
        r"""Akaike information criterion, :math:`-2 \log L + 2p` (lower is better)."""
        return -2 * self.score(X) * len(X) + 2 * self._n_parameters()

    # ---------------------------------------------------------------- verbose
    def _print_verbose_init_begin(self, init):
        if self.verbose >= 1:
            print(f"Initialization {init}")
        self._init_start_time = self._iter_start_time = time()

    def _print_verbose_iter_end(self, n_iter, change):
        if n_iter % self.verbose_interval:
            return
        if self.verbose == 1:
            print(f"  Iteration {n_iter}")
        elif self.verbose >= 2:
            now = time()
            print(f"  Iteration {n_iter}\t time lapse {now - self._iter_start_time:.5f}s"
                  f"\t ll change {change:.5f}")
            self._iter_start_time = now

    def _print_verbose_init_end(self, lower_bound, converged):
        message = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {message}.")
        elif self.verbose >= 2:
            print(f"Initialization {message}. time lapse "
                  f"{time() - self._init_start_time:.5f}s\t lower bound {lower_bound:.5f}.")
