r"""Resampling a fitted mixture: bootstrap standard errors and the bootstrap LRT.

Two tools from R's mclust, for :class:`gmmlib.GaussianMixture`:

:func:`bootstrap_standard_errors` (mclust's ``MclustBootstrap``)
    Refit the model to :math:`B` resampled data sets and report the standard
    deviation of each fitted parameter over the replicates,

    .. math::

        \widehat{\mathrm{se}}(\hat\theta_j) = \Bigl(\frac{1}{B - 1}
            \sum_{b=1}^{B} \bigl(\hat\theta_j^{(b)} - \bar\theta_j\bigr)^2
            \Bigr)^{1/2},
        \qquad \bar\theta_j = \frac{1}{B} \sum_{b=1}^{B} \hat\theta_j^{(b)},

    for every weight :math:`w_k`, mean entry :math:`\mu_{kj}` and covariance
    entry :math:`\Sigma_{k,ij}` (Efron and Tibshirani 1993, chapter 6). The
    nonparametric bootstrap resamples the rows of X with replacement; the
    parametric bootstrap draws :math:`n` samples from the fitted mixture.

:func:`bootstrap_lrt` (mclust's ``mclustBootstrapLRT``)
    McLachlan's (1987) parametric bootstrap of the likelihood-ratio statistic
    for :math:`K` against :math:`K + 1` components.

Both refit many mixtures; keep :math:`B` small in a book (tens) and use
hundreds (standard errors) to about a thousand (p-values) in practice. With
``progress=True`` a tqdm progress bar counts the replicates; tqdm is an
optional dependency (``pip install gmmlib[progress]``), imported only then.

References
----------
Efron, B. and Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*.
Chapman and Hall.

McLachlan, G. J. (1987). On bootstrapping the likelihood ratio test statistic
for the number of components in a normal mixture. *Journal of the Royal
Statistical Society, Series C*, 36(3), 318-324.

McLachlan, G. J. and Peel, D. (2000). *Finite Mixture Models*, chapter 6.
Wiley.

Scrucca, L., Fop, M., Murphy, T. B. and Raftery, A. E. (2016). mclust 5:
clustering, classification and density estimation using Gaussian finite
mixture models. *The R Journal*, 8(1), 289-317.
"""

import copy
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted

from .covariance import DEGENERATE_COVARIANCE_MESSAGE
from .gaussian_mixture import GaussianMixture

#: The kinds of resampling :func:`bootstrap_standard_errors` knows.
BOOTSTRAP_KINDS = ("nonparametric", "parametric")

#: The fitted attributes whose standard errors are reported.
PARAMETERS = ("weights", "means", "covariances")

_SEED_BOUND = np.iinfo(np.int32).max


class _ReplicateFailed(Exception):
    """A replicate's fit hit a degenerate covariance."""


@dataclass
class BootstrapStandardErrors:
    """The result of :func:`bootstrap_standard_errors`.

    Attributes
    ----------
    standard_errors : dict
        ``{'weights', 'means', 'covariances'}``: the standard deviation over
        the replicates (``ddof=1``) of each entry of ``weights_``, ``means_``
        and ``covariances_``, shaped like those attributes of the model.
    replicates : dict
        The same keys: the fitted parameters of every successful replicate,
        stacked, of shape ``(n_replicates, *attribute.shape)``.
    kind : {'nonparametric', 'parametric'}
    n_failed : int
        Replicates whose fit hit a degenerate covariance, left out.
    n_not_converged : int
        Replicates whose fit stopped at ``max_iter`` before ``tol``; kept.
    """

    standard_errors: dict
    replicates: dict
    kind: str
    n_failed: int
    n_not_converged: int

    @property
    def n_replicates(self):
        """Number of replicates the standard errors are computed from."""
        return len(self.replicates["weights"])


@dataclass
class BootstrapLRT:
    r"""The result of :func:`bootstrap_lrt`.

    Attributes
    ----------
    n_components : int
        :math:`K`, the number of components under the null hypothesis.
    statistic : float
        :math:`2 (\log L_{K+1} - \log L_K)` on the data (total, not per sample).
    bootstrap_statistics : ndarray of shape (n_replicates,)
        The statistic on each successful replicate drawn from the fitted
        :math:`K`-component mixture.
    p_value : float
        :math:`(1 + \#\{b : T^{(b)} \ge T\}) / (B + 1)`, with :math:`B` the
        number of successful replicates.
    null_model, alternative_model : GaussianMixture
        The :math:`K`- and :math:`(K + 1)`-component fits to the data.
    n_failed : int
        Replicates left out because a fit hit a degenerate covariance.
    n_not_converged : int
        Replicate fits (of either model) that stopped at ``max_iter``; kept.
    """

    n_components: int
    statistic: float
    bootstrap_statistics: np.ndarray
    p_value: float
    null_model: GaussianMixture = field(repr=False)
    alternative_model: GaussianMixture = field(repr=False)
    n_failed: int
    n_not_converged: int


# ------------------------------------------------------------------ helpers
def _progress_bar(enabled, total, description):
    """A tqdm bar over ``total`` replicates, or None when ``enabled`` is false."""
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError as error:  # pragma: no cover - tqdm is in requirements.txt
        raise ImportError(
            "progress=True needs the tqdm package: pip install tqdm "
            "(or pip install gmmlib[progress])."
        ) from error
    return tqdm(total=total, desc=description, unit="replicate")


def _fit_quietly(model, X):
    """Fit ``model`` to X; return whether it converged.

    A degenerate covariance raises :class:`_ReplicateFailed`; the convergence
    warning of a single replicate is silenced (the caller counts them).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            model.fit(X)
        except np.linalg.LinAlgError as error:
            raise _ReplicateFailed from error
        except ValueError as error:
            if not str(error).startswith(DEGENERATE_COVARIANCE_MESSAGE):
                raise
            raise _ReplicateFailed from error
    return bool(getattr(model, "converged_", True))


def _run_replicates(one, n_bootstrap, random_state, progress, description):
    """Call ``one(seed)`` for ``n_bootstrap`` seeds drawn from ``random_state``.

    Returns the successful results, the number of failed replicates and the
    number of fits that did not converge (``one`` returns ``(result,
    n_not_converged)``).
    """
    seeds = check_random_state(random_state).randint(_SEED_BOUND, size=n_bootstrap)
    bar = _progress_bar(progress, n_bootstrap, description)
    results, n_failed, n_not_converged = [], 0, 0
    try:
        for seed in seeds:
            try:
                result, not_converged = one(int(seed))
            except _ReplicateFailed:
                n_failed += 1
            else:
                results.append(result)
                n_not_converged += not_converged
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    return results, n_failed, n_not_converged


def _check_failures(n_failed, n_bootstrap, max_failed_fraction, minimum_left):
    """Warn about left-out replicates; refuse when too many failed.

    Too many: more than ``max_failed_fraction`` of them, or fewer than
    ``minimum_left`` left.
    """
    if n_failed == 0:
        return
    message = (
        f"{n_failed} of {n_bootstrap} bootstrap replicates were left out: their "
        "fit hit a degenerate covariance (increase reg_covar to keep them)."
    )
    left = n_bootstrap - n_failed
    if n_failed > max_failed_fraction * n_bootstrap or left < minimum_left:
        raise RuntimeError(
            message + f" That is more than max_failed_fraction="
            f"{max_failed_fraction} of them, or fewer than {minimum_left} "
            "left: the bootstrap is not reliable for this model."
        )
    warnings.warn(message, UserWarning, stacklevel=3)


def _warn_not_converged(n_not_converged, n_fits):
    if n_not_converged:
        warnings.warn(
            f"{n_not_converged} of {n_fits} bootstrap fits stopped at max_iter "
            "before reaching tol; they are kept.",
            ConvergenceWarning,
            stacklevel=3,
        )


def _check_n_bootstrap(n_bootstrap, minimum):
    if (
        isinstance(n_bootstrap, bool)
        or not isinstance(n_bootstrap, int | np.integer)
        or n_bootstrap < minimum
    ):
        raise ValueError(
            f"n_bootstrap must be an integer >= {minimum}, got {n_bootstrap!r}"
        )


def _check_fraction(max_failed_fraction):
    if not 0.0 <= max_failed_fraction <= 1.0:
        raise ValueError(
            f"max_failed_fraction must be in [0, 1], got {max_failed_fraction!r}"
        )


def _check_no_sample_weight(sample_weight):
    if sample_weight is not None:
        raise ValueError(
            "sample_weight is not supported by the bootstrap: resampling rows "
            "with replacement assumes each row is one observation. For integer "
            "frequency weights, repeat the rows (np.repeat(X, weights, axis=0)) "
            "and fit and bootstrap that."
        )


def _check_data(X, model=None):
    allow_nan = getattr(model, "missing_values", "error") == "marginalize"
    X = check_array(
        X,
        dtype=[np.float64, np.float32],
        ensure_all_finite="allow-nan" if allow_nan else True,
        ensure_min_samples=2,
    )
    if model is not None and X.shape[1] != model.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but the model was fitted on "
            f"{model.n_features_in_}."
        )
    return X


# ------------------------------------------------------- standard errors
def bootstrap_standard_errors(
    model,
    X,
    n_bootstrap=200,
    kind="nonparametric",
    random_state=None,
    progress=False,
    *,
    sample_weight=None,
    max_failed_fraction=0.1,
):
    r"""Standard errors of a fitted mixture's parameters by the bootstrap.

    As mclust's ``MclustBootstrap``: each replicate refits the model's settings
    (``sklearn.base.clone``: the same ``n_components``, ``covariance_type``,
    ``tol``, ``reg_covar``, ...) to a resampled data set
    :math:`X^{(b)}` of :math:`n` rows, one EM run starting from the fitted
    parameters :math:`\hat\theta` (``weights_init``, ``means_init``,
    ``precisions_init``). Starting there keeps component :math:`k` of every
    replicate the component :math:`k` of the fit, as mclust keeps it by
    starting from the fitted responsibilities, so no relabelling is needed
    when the components are distinct; with heavily overlapping components
    a replicate may still swap labels and inflate the standard errors.

    The standard error of each entry :math:`\theta_j` of ``weights_``,
    ``means_`` and ``covariances_`` is its standard deviation over the
    :math:`B` replicates,

    .. math::

        \widehat{\mathrm{se}}(\hat\theta_j) = \Bigl(\frac{1}{B - 1}
            \sum_{b=1}^{B} \bigl(\hat\theta_j^{(b)} - \bar\theta_j\bigr)^2
            \Bigr)^{1/2}.

    Its own relative Monte Carlo error is about :math:`1 / \sqrt{2 (B - 1)}`
    (5% at :math:`B = 200`, which Efron and Tibshirani (1993, section 6.4)
    find enough for a standard error).

    Parameters
    ----------
    model : fitted GaussianMixture
        gmmlib's, or scikit-learn's (same parameters and attributes).
    X : array-like of shape (n_samples, n_features)
        The data the model was fitted to. NaN is allowed when the model was
        fitted with ``missing_values='marginalize'`` (the nonparametric
        bootstrap resamples the rows with their NaN; the parametric one draws
        complete rows).
    n_bootstrap : int, default=200
        Number of replicates :math:`B` (at least 2).
    kind : {'nonparametric', 'parametric'}, default='nonparametric'
        'nonparametric' resamples the :math:`n` rows of X with replacement;
        'parametric' draws :math:`n` samples from the fitted mixture
        (``model.sample``, seeded anew for each replicate).
    random_state : int, RandomState instance or None, default=None
        Draws one seed per replicate, used for its resampling and its fit.
    progress : bool, default=False
        Show a tqdm progress bar over the replicates (needs tqdm).
    sample_weight : None
        Not supported (a ValueError says so): a weighted fit has no single
        resampling scheme; for integer frequency weights, repeat the rows.
    max_failed_fraction : float in [0, 1], default=0.1
        A replicate whose fit hits a degenerate covariance (a component
        collapsing on a few repeated rows) is left out, with one warning
        counting them; more than this fraction left out is an error.

    Returns
    -------
    BootstrapStandardErrors
        ``.standard_errors`` is the dict ``{'weights', 'means',
        'covariances'}`` of standard errors shaped like the fitted attributes;
        ``.replicates`` holds the parameters of every replicate.

    Raises
    ------
    ValueError
        For an unknown ``kind``, ``n_bootstrap < 2``, a ``sample_weight``,
        or X that does not match the model.
    RuntimeError
        When more than ``max_failed_fraction`` of the replicates failed.

    Warns
    -----
    UserWarning
        When some replicates were left out.
    ConvergenceWarning
        When some replicate fits stopped at ``max_iter``.

    Examples
    --------
    >>> from gmmlib import GaussianMixture
    >>> from gmmlib.datasets import make_blobs_mixture
    >>> X, _ = make_blobs_mixture(300, n_components=2, random_state=0)
    >>> model = GaussianMixture(2, random_state=0).fit(X)
    >>> result = bootstrap_standard_errors(model, X, 20, random_state=0)
    >>> result.standard_errors["means"].shape
    (2, 2)
    """
    check_is_fitted(model)
    if kind not in BOOTSTRAP_KINDS:
        raise ValueError(f"kind must be one of {BOOTSTRAP_KINDS}, got {kind!r}")
    _check_n_bootstrap(n_bootstrap, 2)
    _check_fraction(max_failed_fraction)
    _check_no_sample_weight(sample_weight)
    settings = model.get_params()
    if not {"weights_init", "means_init", "precisions_init"} <= settings.keys():
        raise TypeError(
            "bootstrap_standard_errors needs a GaussianMixture (with "
            f"weights_init, means_init and precisions_init), got {model!r}"
        )
    X = _check_data(X, model)
    n_samples = len(X)
    template = clone(model).set_params(
        weights_init=np.asarray(model.weights_, dtype=np.float64),
        means_init=np.asarray(model.means_, dtype=np.float64),
        precisions_init=np.asarray(model.precisions_, dtype=np.float64),
        n_init=1,
        warm_start=False,
    )

    def one(seed):
        if kind == "nonparametric":
            rows = np.random.RandomState(seed).randint(n_samples, size=n_samples)
            X_b = X[rows]
        else:
            sampler = copy.copy(model)
            sampler.random_state = seed
            X_b = sampler.sample(n_samples)[0].astype(X.dtype, copy=False)
        fit = clone(template).set_params(random_state=seed)
        converged = _fit_quietly(fit, X_b)
        return (fit.weights_, fit.means_, fit.covariances_), int(not converged)

    results, n_failed, n_not_converged = _run_replicates(
        one, n_bootstrap, random_state, progress, f"{kind} bootstrap"
    )
    _check_failures(n_failed, n_bootstrap, max_failed_fraction, 2)
    _warn_not_converged(n_not_converged, len(results))
    replicates = {
        name: np.stack([np.asarray(result[i], dtype=np.float64) for result in results])
        for i, name in enumerate(PARAMETERS)
    }
    standard_errors = {
        name: stack.std(axis=0, ddof=1) for name, stack in replicates.items()
    }
    return BootstrapStandardErrors(
        standard_errors, replicates, kind, n_failed, n_not_converged
    )


# ----------------------------------------------------------- number of components
#: Settings of the fits in :func:`bootstrap_lrt` unless ``mixture_settings`` says
#: otherwise; ``tol`` is set from the number of samples (see there).
LRT_DEFAULTS = dict(n_init=5, max_iter=1000, stopping="aitken")


def bootstrap_lrt(
    X,
    n_components,
    covariance_type="full",
    n_bootstrap=99,
    random_state=None,
    progress=False,
    *,
    sample_weight=None,
    max_failed_fraction=0.1,
    **mixture_settings,
):
    r"""Parametric bootstrap likelihood-ratio test of :math:`K` against :math:`K + 1` components.

    McLachlan's (1987) test, as mclust's ``mclustBootstrapLRT`` does it for one
    :math:`K`:

    1. Fit :math:`K` and :math:`K + 1` components to the :math:`n` samples and
       compute :math:`T = 2 (\log L_{K+1} - \log L_K)`, the log-likelihoods
       being totals over the samples.
    2. Draw :math:`B` samples of size :math:`n` from the fitted
       :math:`K`-component mixture, fit :math:`K` and :math:`K + 1` components
       to each, and collect the statistics :math:`T^{(1)}, \dots, T^{(B)}`.
    3. The p-value is
       :math:`(1 + \#\{b : T^{(b)} \ge T\}) / (B + 1)`, exact for a test
       whose null distribution of :math:`T` does not depend on the unknown
       parameters, and a good approximation otherwise (the parametric
       bootstrap).

    **Why not the** :math:`\chi^2` **reference.** Wilks' theorem gives
    :math:`T \to \chi^2_{\Delta p}`, with :math:`\Delta p` the difference in
    the number of free parameters, when the true parameter is an interior
    point of an identifiable parameter space with a nonsingular Fisher
    information. Under the null hypothesis the :math:`(K + 1)`-component
    model reduces to :math:`K` components on the *boundary*
    (:math:`w_{K+1} = 0`, where :math:`\mu_{K+1}, \Sigma_{K+1}` can be
    anything) or where it is *not identifiable* (two equal components,
    :math:`\mu_K = \mu_{K+1}` and :math:`\Sigma_K = \Sigma_{K+1}`, with any
    split of their weight). The regularity conditions fail there, the limit
    of :math:`T` is not :math:`\chi^2_{\Delta p}` and depends on the model, so
    the naive degrees of freedom give wrong p-values (McLachlan and Peel 2000,
    chapter 6). The bootstrap simulates the null distribution instead.

    The test needs the global maxima: a :math:`(K + 1)`-component fit stuck at
    a poorer local maximum lowers :math:`T` (it can even be negative), a poor
    :math:`K`-component fit raises it. Every fit with more than one component
    therefore keeps the best of ``n_init=5`` starts by default (mclust uses one
    deterministic hierarchical start). A one-component fit has a unique
    maximum and uses one start (``init_params='random'``: with one component
    every start gives the same fit, so no k-means is needed).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : int
        :math:`K \ge 1`, the number of components under the null hypothesis.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        The same for both models (mclust's ``modelName``).
    n_bootstrap : int, default=99
        Number of bootstrap samples :math:`B` (at least 1); the p-value is a
        multiple of :math:`1 / (B + 1)`. mclust uses 999.
    random_state : int, RandomState instance or None, default=None
        Seeds the fits to X and draws one seed per replicate (for its sample
        and its fits).
    progress : bool, default=False
        Show a tqdm progress bar over the replicates (needs tqdm).
    sample_weight : None
        Not supported (a ValueError says so): the null distribution is
        simulated for :math:`n` unweighted samples.
    max_failed_fraction : float in [0, 1], default=0.1
        A replicate where a fit hits a degenerate covariance is left out, with
        a warning counting them; more than this fraction is an error.
    **mixture_settings
        Passed to every :class:`gmmlib.GaussianMixture` (``reg_covar``,
        ``init_params``, ``acceleration``, ...). Defaults:
        :data:`LRT_DEFAULTS` (``n_init=5``, ``max_iter=1000``,
        ``stopping='aitken'``) and ``tol = 0.005 / n``: ``tol`` bounds the
        mean log-likelihood per sample still to be gained, so each total
        :math:`\log L` is within about 0.005, and :math:`T` within about
        0.01, of its limit.

    Returns
    -------
    BootstrapLRT
        The statistic, its bootstrap distribution, the p-value and the two
        models fitted to X.

    Raises
    ------
    RuntimeError
        When more than ``max_failed_fraction`` of the replicates failed.

    Examples
    --------
    >>> from gmmlib.datasets import make_blobs_mixture
    >>> X, _ = make_blobs_mixture(100, n_components=2, separation=6.0,
    ...                           random_state=0)
    >>> test = bootstrap_lrt(X, 1, n_bootstrap=9, random_state=0)
    >>> test.p_value
    0.1
    """
    if (
        isinstance(n_components, bool)
        or not isinstance(n_components, int | np.integer)
        or n_components < 1
    ):
        raise ValueError(f"n_components must be an integer >= 1, got {n_components!r}")
    _check_n_bootstrap(n_bootstrap, 1)
    _check_fraction(max_failed_fraction)
    _check_no_sample_weight(sample_weight)
    X = _check_data(X)
    n_samples = len(X)
    settings = LRT_DEFAULTS | dict(tol=0.005 / n_samples) | mixture_settings
    settings["covariance_type"] = covariance_type

    def fit(k, data, seed):
        """Fit k components; return the model and whether it converged."""
        # One component: every start gives all responsibilities 1 and the
        # same fit, so one start, and no k-means to find it.
        options = settings if k > 1 else settings | dict(n_init=1, init_params="random")
        model = GaussianMixture(k, random_state=seed, **options)
        return model, _fit_quietly(model, data)

    def statistic(data, seed):
        null, null_converged = fit(n_components, data, seed)
        alternative, alternative_converged = fit(n_components + 1, data, seed)
        value = 2.0 * len(data) * (alternative.score(data) - null.score(data))
        not_converged = int(not null_converged) + int(not alternative_converged)
        return value, null, alternative, not_converged

    rng = check_random_state(random_state)
    try:
        observed, null, alternative, _ = statistic(X, rng.randint(_SEED_BOUND))
    except _ReplicateFailed as error:
        raise ValueError(
            "The fit to X hit a degenerate covariance; increase reg_covar."
        ) from error

    def one(seed):
        sampler = copy.copy(null)
        sampler.random_state = seed
        X_b = sampler.sample(n_samples)[0].astype(X.dtype, copy=False)
        value, _, _, not_converged = statistic(X_b, seed)
        return value, not_converged

    results, n_failed, n_not_converged = _run_replicates(
        one, n_bootstrap, rng, progress, f"bootstrap LRT, K={n_components}"
    )
    _check_failures(n_failed, n_bootstrap, max_failed_fraction, 1)
    _warn_not_converged(n_not_converged, 2 * len(results))
    boot = np.asarray(results, dtype=np.float64)
    p_value = (1 + np.count_nonzero(boot >= observed)) / (len(boot) + 1)
    return BootstrapLRT(
        int(n_components),
        float(observed),
        boot,
        float(p_value),
        null,
        alternative,
        n_failed,
        n_not_converged,
    )
