r"""``BaseMixture``: what every gmmlib mixture estimator shares.

One driver for ``fit`` and ``fit_predict`` (fresh starts or a warm start, the best
of ``n_init`` with the starts that collapse a component discarded, the
convergence warning, verbose output) and one path for
``predict``, ``predict_proba``, ``score_samples``, ``score`` and ``sample``, as in
scikit-learn's ``sklearn.mixture._base.BaseMixture``. The data reach the
estimator only through a data source (:mod:`gmmlib.data_sources`), so every
option works for every kind of data. A subclass says what its *state* is (the
parameters for :class:`gmmlib.GaussianMixture`, the variational posterior for
:class:`gmmlib.BayesianGaussianMixture`) and gives:

``_prepare_fit(data)``
    Anything computed once per ``fit`` from the data (the Bayesian priors).
``_initial_state(data, random_state)``
    The state one start begins from (usually an M-step on
    ``_starting_statistics``).
``_fitted_state()``
    The state held in the fitted attributes (warm starts, prediction).
``_parameters(state)``
    The :class:`gmmlib.em_steps.MixtureParameters` of the E-step and its
    log-weights (None for :math:`\log w_k`).
``_m_step(stats, state)``
    The new state from the statistics of an E-step.
``_lower_bound(stats, state, new_state)``
    The objective that ``tol`` watches, for the iteration that went from
    ``state`` (whose E-step gave ``stats``) to ``new_state``.
``_objective(stats, state)``
    What ``history_`` records at a state whose E-step gave ``stats``: by
    default the mean log-likelihood (the mean log-posterior for
    :class:`gmmlib.GaussianMixture` with a prior).
``_set_state(state, dtype)``
    The fitted attributes.

Each iteration is an M-step followed by the E-step at the new state
(:eq:`eq-gem-k-resp` to :eq:`eq-gem-m-step-spherical`, chapter "General EM and
why it climbs"); the E-step's statistics feed the next M-step.
"""

import warnings
from numbers import Integral, Real
from time import time
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .convergence import STOPPING_RULES, has_converged
from .covariance import COVARIANCE_TYPES, DegenerateCovarianceError
from .data_sources import INIT_PARAMS, data_source
from .missing_values import MISSING_VALUES_OPTIONS
from .runtime import single_threaded_blas
from .validation import check_n_samples

HISTORY_DTYPE = np.dtype(
    [
        ("iteration", np.int64),
        ("log_likelihood_before", np.float64),
        ("log_likelihood_after", np.float64),
    ]
)


class DegenerateStartWarning(UserWarning):
    """A start of ``n_init`` was discarded because a component collapsed.

    Issued by ``fit`` and ``fit_predict`` of :class:`gmmlib.GaussianMixture`
    and :class:`gmmlib.BayesianGaussianMixture`, once for each failed start,
    when at least one other start succeeded (when none did, ``fit`` raises
    :class:`gmmlib.covariance.DegenerateCovarianceError`). A start fails when
    an M-step, at the start or at any later iteration, gives a covariance that
    is not positive definite or is singular to working precision
    (:func:`gmmlib.covariance.precision_cholesky_from_covariances`); the fit
    keeps the best of the other starts. The message names the start (its index
    from 0 to ``n_init - 1``) and the component.
    """


class BaseMixture(DensityMixin, BaseEstimator):
    """Base class of gmmlib's mixture estimators: the fitting driver and the predictions.

    Not used directly; see :class:`gmmlib.GaussianMixture` and
    :class:`gmmlib.BayesianGaussianMixture` for the parameters and attributes.
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions(set(COVARIANCE_TYPES))],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions(set(INIT_PARAMS))],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
        "missing_values": [StrOptions(set(MISSING_VALUES_OPTIONS))],
        "stopping": [StrOptions(set(STOPPING_RULES))],
    }

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, sample_weight=None):
        """Fit the mixture: the best of ``n_init`` runs, each until ``tol`` or ``max_iter``.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
            A dask array is fitted where its blocks are, each pass over the
            data one map-reduce (:class:`gmmlib.data_sources.DaskData`). NaN
            marks a missing value when ``missing_values='marginalize'``.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; weight 2 on a sample is the same as
            including it twice. Not supported for dask arrays.

        Returns
        -------
        self : object

        Raises
        ------
        DegenerateCovarianceError
            A ``ValueError`` with scikit-learn's message, when every start
            collapsed a component (a covariance not positive definite, or
            singular to working precision); with several starts the message
            ends "All n_init initializations failed.". With ``n_init=1``, or a
            warm start, the one run's error.

        Warns
        -----
        DegenerateStartWarning
            For each start that collapsed, when another succeeded: that start
            is discarded and the best of the others kept.
        """
        self._fit(X, sample_weight)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the most probable component of each sample of X.

        Parameters
        ----------
        X, y, sample_weight
            As in :meth:`fit`.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        data = self._fit(X, sample_weight)
        return data.log_prob_resp(*self._parameters(self._fitted_state()))[1].argmax(
            axis=1
        )

    def _fit(self, X, sample_weight):
        """The driver: validate, start ``n_init`` times (or warm), keep the best run.

        A fresh start whose run raises :class:`gmmlib.covariance.DegenerateCovarianceError`
        (a component collapsed) is discarded with a :class:`DegenerateStartWarning`
        when another start succeeds; when every start fails (or the only run,
        with ``n_init=1`` or a warm start, fails), the error is raised.
        """
        self._validate_params()
        data = data_source(
            self, X, sample_weight, missing_values=self.missing_values, min_samples=2
        )
        check_n_samples(data.n_samples, self.n_components)
        self._prepare_fit(data)
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_runs = self.n_init if do_init else 1
        random_state = check_random_state(self.random_state)
        best, failures = None, []
        for init in range(n_runs):
            self._print_verbose_init_begin(init)
            try:
                if do_init:
                    state, bound = self._initial_state(data, random_state), -np.inf
                else:
                    state, bound = self._fitted_state(), self.lower_bound_
                run = self._run(data, state, bound)
            except DegenerateCovarianceError as error:
                if n_runs == 1:
                    raise
                failures.append((init, error))
                self._print_verbose_init_failed(error)
                continue
            self._print_verbose_init_end(run["lower_bound"], run["converged"])
            if best is None or run["lower_bound"] > best["lower_bound"]:
                best = run

        if best is None:
            init, error = failures[-1]
            raise DegenerateCovarianceError(
                f"{error} All {n_runs} initializations failed.", error.component
            ) from error
        for init, error in failures:
            if self.covariance_type == "tied":
                which = "the shared covariance"
            elif error.component is None:
                which = "a covariance"
            else:
                which = f"the covariance of component {error.component}"
            warnings.warn(
                f"Initialization {init} of {n_runs} was discarded: {which} is "
                "not positive definite, or singular to working precision (a "
                "collapsed component). The best of the other initializations "
                "was kept; increase reg_covar to keep every start.",
                DegenerateStartWarning,
                stacklevel=3,  # the code that called fit or fit_predict
            )
        if not best["converged"] and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different "
                "init parameters, or increase max_iter, tol, or check for "
                "degenerate data.",
                ConvergenceWarning,
                stacklevel=3,  # the code that called fit or fit_predict
            )
        self._set_state(best["state"], data.dtype)
        self.converged_ = best["converged"]
        self.n_iter_ = best["n_iter"]
        self.lower_bound_ = best["lower_bound"]
        self.lower_bounds_ = best["lower_bounds"]
        self.history_ = np.array(best["history"], dtype=HISTORY_DTYPE)
        return data

    def _starting_statistics(self, data, random_state):
        """Statistics of the starting responsibilities that ``init_params`` chooses."""
        return data.starting_statistics(
            self.n_components, self.init_params, self.covariance_type, random_state
        )

    def _e_step(self, data, state):
        return data.e_step(*self._parameters(state))

    def _objective(self, stats, state):
        """What ``history_`` records at ``state``: the mean log-likelihood."""
        return stats.mean_log_likelihood

    def _iteration(self, data):
        """The step from a state and its E-step to the next state and its E-step.

        One M-step and one E-step here; :class:`gmmlib.GaussianMixture` may
        accelerate it (:mod:`gmmlib.acceleration`).

        Returns
        -------
        callable
            ``step(state, stats) -> (new_state, new_stats)``.
        """

        def em_step(state, stats):
            new_state = self._m_step(stats, state)
            return new_state, self._e_step(data, new_state)

        return em_step

    def _run(self, data, state, bound):
        """Iterate from ``state`` until the ``stopping`` rule says the bound has converged.

        BLAS runs on one thread throughout; the in-memory E-step spreads its
        blocks over as many threads as BLAS was allowed (:func:`gmmlib.em_steps.e_step`).
        """
        history, bounds = [], [bound]
        converged = False
        n_iter = 0
        step = self._iteration(data)
        with single_threaded_blas():
            stats = self._e_step(data, state)
            for n_iter in range(1, self.max_iter + 1):
                new_state, new_stats = step(state, stats)
                bounds.append(self._lower_bound(stats, state, new_state))
                history.append(
                    (
                        n_iter,
                        self._objective(stats, state),
                        self._objective(new_stats, new_state),
                    )
                )
                state, stats = new_state, new_stats
                self._print_verbose_iter_end(n_iter, bounds[-1] - bounds[-2])
                if has_converged(bounds, self.tol, self.stopping):
                    converged = True
                    break
        return dict(
            state=state,
            lower_bound=bounds[-1],
            converged=converged,
            n_iter=n_iter,
            lower_bounds=bounds[1:],
            history=history,
        )

    # ---------------------------------------------------------------- inference
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing_values == "marginalize"
        return tags

    def _log_prob_resp(self, X):
        check_is_fitted(self)
        data = data_source(self, X, reset=False, missing_values=self.missing_values)
        return data.log_prob_resp(*self._parameters(self._fitted_state()))

    def predict_proba(self, X):
        """Responsibilities :math:`r_{nk}`: the posterior probability of each component.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
        """
        return self._log_prob_resp(X)[1]

    def predict(self, X):
        """Most probable component of each sample.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self.predict_proba(X).argmax(axis=1)

    def score_samples(self, X):
        r"""Log of the normaliser of each sample's responsibilities, :math:`\log \sum_k \rho_{nk}`.

        For :class:`gmmlib.GaussianMixture` this is the log-density
        :math:`\log p(x_n) = \log \sum_k w_k \mathcal{N}(x_n \mid \mu_k, \Sigma_k)`
        (of the observed coordinates, with missing values);
        :class:`gmmlib.BayesianGaussianMixture` says what it is there.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
        """
        return self._log_prob_resp(X)[0]

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` over X (the mean log-likelihood per sample).

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples=1):
        """Draw from the fitted mixture.

        Parameters
        ----------
        n_samples : int, default=1

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
                "requires at least one sample."
            )
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_.astype(np.float64))
        labels = np.repeat(np.arange(self.n_components), counts)
        n_features = self.means_.shape[1]
        noise = rng.standard_normal((n_samples, n_features))
        # x = mu_k + P_k^{-T} z has covariance P_k^{-T} P_k^{-1} = Sigma_k.
        factors = np.asarray(self.precisions_cholesky_, dtype=np.float64)
        if self.covariance_type == "full":
            X = np.einsum(
                "nij,nj->ni", np.linalg.inv(factors)[labels].transpose(0, 2, 1), noise
            )
        elif self.covariance_type == "tied":
            X = noise @ np.linalg.inv(factors)
        elif self.covariance_type == "diag":
            X = noise / factors[labels]
        else:
            X = noise / factors[labels][:, None]
        X += self.means_[labels]
        return X, labels

    # ------------------------------------------------------------------ verbose
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
            print(
                f"  Iteration {n_iter}\t time lapse {now - self._iter_start_time:.5f}s"
                f"\t ll change {change:.5f}"
            )
            self._iter_start_time = now

    def _print_verbose_init_failed(self, error):
        if self.verbose >= 1:
            print(f"Initialization failed: {error}")

    def _print_verbose_init_end(self, lower_bound, converged):
        message = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {message}.")
        elif self.verbose >= 2:
            print(
                f"Initialization {message}. time lapse "
                f"{time() - self._init_start_time:.5f}s\t lower bound {lower_bound:.5f}."
            )
