r"""Choosing the number of components: BIC, AIC and ICL over a grid of models.

Derived in chapter "How many components?" (``chapters/09_number_of_components.md``).
Like R's mclust, :func:`fit_grid` fits every combination of a number of
components and a covariance type and tabulates the criteria. All follow
scikit-learn's sign convention, **lower is better**:

.. math::

    \mathrm{BIC} &= -2 \log L + p \log n, \qquad
    \mathrm{AIC} = -2 \log L + 2 p, \\
    \mathrm{ICL} &= \mathrm{BIC} - 2 \sum_{n} \log \max_k r_{nk}, \\
    \mathrm{ICL}_\mathrm{EN} &= \mathrm{BIC} + 2\, \mathrm{EN}(r),
    \qquad \mathrm{EN}(r) = -\sum_{n,k} r_{nk} \log r_{nk},

with :math:`\log L` the maximised log-likelihood, :math:`p` the number of free
parameters, :math:`n` the number of samples and :math:`r_{nk}` the
responsibilities of the fitted model (Schwarz 1978, Akaike 1974).

``icl`` is the integrated completed likelihood of Biernacki, Celeux and Govaert
(2000): BIC with the log-likelihood of the data *completed by the MAP labels*
in place of :math:`\log L`. It is what mclust's ``icl()`` computes.
``icl_entropy`` is the ICL-BIC of McLachlan and Peel (2000), which completes
the data with the soft responsibilities instead. Both are at least BIC, with
equality exactly when every responsibility is 0 or 1, and
:math:`\mathrm{ICL} \le \mathrm{ICL}_\mathrm{EN}`, since
:math:`-\log \max_k r_{nk} \le -\sum_k r_{nk} \log r_{nk}` for every sample.

mclust reports
:math:`\mathrm{BIC}_\text{mclust} = 2 \log L - p \log n = -\mathrm{BIC}` (higher
is better), and its ``icl()`` is likewise minus ``icl`` here.

A cell whose fit fails (every start collapsed a component) is kept in the
table as *failed*, with NaN criteria and the error as its reason, and the grid
goes on, as mclust records a missing cell. A fitted cell is flagged
*degenerate* (:func:`degeneracy`) when a component holds fewer than
:math:`d + 1` effective points or a covariance has an eigenvalue at the
``reg_covar`` floor. :meth:`ModelGrid.best` and :meth:`ModelGrid.choices` skip
failed and degenerate cells unless ``include_degenerate=True``.
"""

import warnings
from dataclasses import dataclass

import numpy as np

from .covariance import (
    COVARIANCE_TYPES,
    DEGENERATE_COVARIANCE_MESSAGE,
    DegenerateCovarianceError,
    full_covariances,
    n_mixture_parameters,
)
from .free_energy import entropy
from .gaussian_mixture import GaussianMixture

#: The criteria :func:`fit_grid` tabulates; :meth:`ModelGrid.best` minimises one.
CRITERIA = ("bic", "aic", "icl", "icl_entropy")

#: Fields of the ``table`` of a :class:`ModelGrid` before ``reason``, a string
#: as long as the longest reason in the grid.
GRID_FIELDS = [
    ("n_components", np.int64),
    ("covariance_type", "U9"),
    ("n_parameters", np.int64),
    ("log_likelihood", np.float64),
    ("bic", np.float64),
    ("aic", np.float64),
    ("icl", np.float64),
    ("icl_entropy", np.float64),
    ("start", np.int64),
    ("failed", np.bool_),
    ("degenerate", np.bool_),
]

#: The starts of every cell of :func:`fit_grid`'s default grid: R mclust's
#: hierarchical start (:mod:`gmmlib.hierarchical`), so that the grid reaches
#: the maximum ``Mclust`` reaches, and the best of five k-means starts, which
#: often find a higher one. Chosen from measurements on five of mclust's data
#: sets (chapter "Where EM starts").
DEFAULT_STARTS = (
    {"init_params": "hierarchical"},
    {"init_params": "kmeans", "n_init": 5},
)

#: The options of the default grid unless given: EM stops when Aitken's
#: extrapolation puts the maximum less than 1e-6 per sample above the current
#: mean log-likelihood (:mod:`gmmlib.convergence`), so that cells compared by
#: BIC are compared at their maxima, not where a loose ``tol`` stopped them.
DEFAULT_GRID_OPTIONS = {"tol": 1e-6, "stopping": "aitken", "max_iter": 1000}

#: The smallest eigenvalue of a covariance, in units of ``reg_covar``, at or
#: below which :func:`degeneracy` flags it. ``reg_covar`` is added to every
#: variance, so an eigenvalue of at most 10 ``reg_covar`` leaves the data at
#: most 9 ``reg_covar`` of variance in that direction: the regularisation
#: makes a tenth or more of it, and the density there is set by the choice of
#: ``reg_covar`` as much as by the data. A collapsed component sits at
#: ``reg_covar`` itself, plus rounding; a real cluster, on data in units where
#: the default ``reg_covar = 1e-6`` is small, is orders of magnitude above it.
REG_COVAR_FLOOR_FACTOR = 10.0


def map_classification_loss(resp):
    r"""Cost of the MAP labels, :math:`-\sum_n \log \max_k r_{nk} \ge 0`.

    The log-likelihood of the data completed by the MAP labels
    :math:`\hat z_n = \arg\max_k r_{nk}` is :math:`\log L` minus this, so twice
    this is what ``icl`` (Biernacki, Celeux and Govaert's ICL, mclust's
    ``icl()``) adds to BIC. Zero exactly when every :math:`r_{nk}` is 0 or 1;
    never larger than the entropy :math:`\mathrm{EN}(r)`
    (:func:`gmmlib.free_energy.entropy`).

    Parameters
    ----------
    resp : ndarray of shape (n_samples, n_components)

    Returns
    -------
    loss : float
    """
    return float(-np.log(np.max(resp, axis=1)).sum())


def information_criteria(model, X):
    """Log-likelihood, parameter count, BIC, AIC and ICLs of one fitted mixture.

    Parameters
    ----------
    model : fitted GaussianMixture
        gmmlib's or scikit-learn's (anything with ``score_samples``,
        ``predict_proba`` and ``_n_parameters``).
    X : ndarray of shape (n_samples, n_features)

    Returns
    -------
    criteria : dict
        Keys ``n_parameters``, ``log_likelihood`` (total, not per sample),
        ``bic``, ``aic``, ``icl`` (MAP labels, as mclust's ``icl()``) and
        ``icl_entropy`` (soft labels, McLachlan and Peel's ICL-BIC); the
        criteria are all lower is better.
    """
    n_samples = X.shape[0]
    n_parameters = int(model._n_parameters())
    log_likelihood = float(np.sum(model.score_samples(X)))
    bic = -2.0 * log_likelihood + n_parameters * np.log(n_samples)
    resp = model.predict_proba(X)
    return dict(
        n_parameters=n_parameters,
        log_likelihood=log_likelihood,
        bic=bic,
        aic=-2.0 * log_likelihood + 2.0 * n_parameters,
        icl=bic + 2.0 * map_classification_loss(resp),
        icl_entropy=bic + 2.0 * entropy(resp),
    )


def degeneracy(model, n_samples):
    r"""Why a fitted mixture is degenerate, or ``''`` when it is not.

    A component is degenerate when it holds fewer than :math:`d + 1` effective
    points, :math:`N_k = n\,w_k < d + 1` (fewer points than a full covariance
    in :math:`d` dimensions needs to be non-singular), or when a covariance
    (the shared one for 'tied') has its smallest eigenvalue at the
    ``reg_covar`` floor, :math:`\lambda_{\min} \le 10\,\epsilon`
    (:data:`REG_COVAR_FLOOR_FACTOR`; :math:`\epsilon` = ``reg_covar``). Such
    a fit is a spurious maximum of the likelihood, a component fitted to a
    handful of points or to a subspace, whose likelihood grows without bound
    as ``reg_covar`` shrinks (chapter "How many components?").

    Parameters
    ----------
    model : fitted GaussianMixture
        gmmlib's or scikit-learn's (anything with ``weights_``,
        ``covariances_``, ``covariance_type`` and ``reg_covar``).
    n_samples : int
        The number of samples the model was fitted to.

    Returns
    -------
    reason : str
        One clause per finding, joined by ``'; '``, naming the components; the
        empty string for a sound fit.
    """
    weights = np.asarray(model.weights_, dtype=np.float64)
    n_components = len(weights)
    n_features = np.shape(model.means_)[1]
    reasons = []
    effective = n_samples * weights
    for k in np.flatnonzero(effective < n_features + 1):
        shown = f"{effective[k]:.3g}"
        if float(shown) >= n_features + 1:  # 3.9996 is not "4" here
            shown = repr(float(effective[k]))
        reasons.append(
            f"component {k} holds {shown} effective points, "
            f"fewer than d + 1 = {n_features + 1}"
        )
    covariances = full_covariances(
        model.covariances_, model.covariance_type, n_components, n_features
    )
    if model.covariance_type == "tied":
        covariances = covariances[:1]
    smallest = np.linalg.eigvalsh(covariances)[:, 0]
    floor = REG_COVAR_FLOOR_FACTOR * getattr(model, "reg_covar", 0.0)
    for k in np.flatnonzero(smallest <= floor):
        owner = (
            "the shared covariance"
            if model.covariance_type == "tied"
            else f"component {k}'s covariance"
        )
        reasons.append(
            f"{owner} has smallest eigenvalue {smallest[k]:.3g}, at most "
            f"{REG_COVAR_FLOOR_FACTOR:g} * reg_covar = {floor:.3g}"
        )
    return "; ".join(reasons)


def _check_criterion(criterion, allowed):
    if criterion not in allowed:
        raise ValueError(f"criterion must be one of {allowed}, got {criterion!r}")


@dataclass(repr=False)
class ModelGrid:
    """The result of :func:`fit_grid`.

    Attributes
    ----------
    table : structured ndarray of shape (n_models,)
        One row per model, fields ``n_components``, ``covariance_type``,
        ``n_parameters``, ``log_likelihood``, ``bic``, ``aic``, ``icl`` and
        ``icl_entropy`` (see :func:`information_criteria`), then ``failed``
        (the fit raised; its criteria are NaN), ``degenerate`` (fitted, but
        flagged by :func:`degeneracy`) and ``reason`` (the error of a failed
        cell, what :func:`degeneracy` found in a degenerate one, ``''``
        otherwise).
    models : dict
        The fitted estimators, keyed by ``(n_components, covariance_type)``;
        failed cells have none.
    """

    table: np.ndarray
    models: dict

    def _candidates(self, include_degenerate):
        """Indices of the rows a choice may take: fitted, and sound unless asked."""
        keep = ~self.table["failed"]
        if not include_degenerate:
            keep &= ~self.table["degenerate"]
        return np.flatnonzero(keep)

    def best(self, criterion="bic", include_degenerate=False):
        """The row with the lowest ``criterion``, one of :data:`CRITERIA`.

        Failed cells are never chosen; degenerate ones only with
        ``include_degenerate=True``. Among tied rows, the first in the table.

        Parameters
        ----------
        criterion : str, default='bic'
        include_degenerate : bool, default=False
            Also consider cells flagged degenerate.

        Returns
        -------
        row : numpy.void
            ``row['n_components']``, ``row['covariance_type']``, ...

        Raises
        ------
        ValueError
            When no cell may be chosen.
        """
        _check_criterion(criterion, CRITERIA)
        candidates = self._candidates(include_degenerate)
        if not candidates.size:
            message = "No cell of the grid can be chosen: every fit failed"
            if not include_degenerate:
                message += (
                    " or is degenerate; pass include_degenerate=True to choose "
                    "among the degenerate fits"
                )
            raise ValueError(message + ".")
        values = self.table[criterion][candidates]
        return self.table[candidates[np.argmin(values)]]

    def choices(self, include_degenerate=False):
        """The model each criterion chooses.

        Parameters
        ----------
        include_degenerate : bool, default=False
            As in :meth:`best`.

        Returns
        -------
        choices : dict
            ``{criterion: (n_components, covariance_type)}`` for every
            criterion in :data:`CRITERIA`.
        """
        choices = {}
        for criterion in CRITERIA:
            row = self.best(criterion, include_degenerate)
            choices[criterion] = (
                int(row["n_components"]),
                str(row["covariance_type"]),
            )
        return choices

    def best_model(self, criterion="bic", include_degenerate=False):
        """The fitted estimator chosen by ``criterion`` (see :meth:`best`)."""
        row = self.best(criterion, include_degenerate)
        return self.models[int(row["n_components"]), str(row["covariance_type"])]

    def curve(self, covariance_type, criterion="bic"):
        """``(n_components, values)`` of one criterion for one covariance type.

        ``criterion`` is one of :data:`CRITERIA`, ``'log_likelihood'`` or
        ``'n_parameters'``. Every row is included: a failed cell's value is
        NaN (a gap in a plot), a degenerate cell's is its fitted value.
        """
        _check_criterion(criterion, CRITERIA + ("log_likelihood", "n_parameters"))
        rows = self.table[self.table["covariance_type"] == covariance_type]
        return rows["n_components"], rows[criterion]

    def __repr__(self):
        """The table as text: one line per model, with the flags and reasons."""
        lines = [
            f"{'K':>3} {'covariance':<10} {'p':>5} {'log L':>12} {'BIC':>12}  status"
        ]
        for row in self.table:
            if row["failed"]:
                status = f"failed: {row['reason']}"
            elif row["degenerate"]:
                status = f"degenerate: {row['reason']}"
            else:
                status = "ok"
            lines.append(
                f"{row['n_components']:>3} {row['covariance_type']:<10} "
                f"{row['n_parameters']:>5} {row['log_likelihood']:>12.2f} "
                f"{row['bic']:>12.2f}  {status}"
            )
        return "\n".join(lines)


def fit_grid(
    X,
    n_components=range(1, 10),
    covariance_types=COVARIANCE_TYPES,
    estimator=GaussianMixture,
    starts="default",
    **options,
):
    """Fit a mixture for every number of components and covariance type.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : iterable of int, default=range(1, 10)
    covariance_types : iterable of str, default=all four
    estimator : class, default=gmmlib.GaussianMixture
        Called as ``estimator(n_components=k, covariance_type=c, **options,
        **start)`` for each start; scikit-learn's ``GaussianMixture`` works
        too, with ``starts=None``.
    starts : 'default', None or sequence of dict, default='default'
        How each cell is started. Each dict holds estimator options for one
        fit of the cell (``init_params``, ``n_init``, ...), and the cell keeps
        the fit with the highest ``lower_bound_`` among those that are not
        degenerate (:func:`degeneracy`), or among all when every one is.
        'default' is :data:`DEFAULT_STARTS`, with
        :data:`DEFAULT_GRID_OPTIONS` for the options not given. None fits
        each cell once, with ``options`` alone (scikit-learn's defaults for
        the rest).
    **options
        Passed to every estimator (``random_state``, ``tol``, ...). A key
        may not be given both here and in a start.

    Returns
    -------
    ModelGrid
        The tidy table (one row per model) and the fitted models.

    Raises
    ------
    ValueError
        When ``options`` and a start set the same option.
    TypeError
        When ``estimator`` does not take an option; with the default starts
        the message says to pass ``starts=None`` (scikit-learn's
        ``GaussianMixture`` has no ``stopping`` and no hierarchical start).

    Notes
    -----
    A fit that raises the degenerate-covariance error (gmmlib's
    :class:`gmmlib.covariance.DegenerateCovarianceError`, raised when every
    start of an ``n_init`` collapsed a component, or scikit-learn's
    ``ValueError`` with the same message) is left out of its cell; a cell
    whose every fit failed is recorded as failed: criteria NaN, the last
    message as its ``reason``, no model; the grid goes on. Any other error
    (an invalid parameter, NaN in ``X``) would fail every cell and is raised.
    A fitted cell is flagged ``degenerate`` with the reason that
    :func:`degeneracy` gives, and its ``start`` field is the index of the
    start whose fit it kept. :meth:`ModelGrid.best`,
    :meth:`ModelGrid.choices` and :meth:`ModelGrid.best_model` skip failed
    cells, and degenerate ones unless ``include_degenerate=True``. The
    warnings of a fit (``ConvergenceWarning``,
    :class:`gmmlib.mixture.DegenerateStartWarning`) are passed on only for the
    fit a cell keeps: a start that did not converge but lost to another says
    nothing about the table.

    Examples
    --------
    >>> from gmmlib.datasets import make_blobs_mixture
    >>> X, _ = make_blobs_mixture(300, n_components=2, random_state=0)
    >>> grid = fit_grid(X, range(1, 4), ["full"], random_state=0)
    >>> int(grid.best("bic")["n_components"])
    2
    """
    X = np.asarray(X)
    n_features = X.shape[1]
    default = isinstance(starts, str) and starts == "default"
    if starts is None:
        starts = ({},)
    elif default:
        starts = DEFAULT_STARTS
        options = {**DEFAULT_GRID_OPTIONS, **options}
    for start in starts:
        both = sorted(set(start) & set(options))
        if both:
            raise ValueError(
                f"{both} given both in the options and in the start {start}; "
                "pass starts=None to fit each cell once with the options alone."
            )
    rows, models = [], {}
    for covariance_type in covariance_types:
        for k in n_components:
            cell = dict(n_components=k, covariance_type=covariance_type, **options)
            kept, errors = _fit_cell(X, estimator, cell, starts, default)
            if kept is None:
                p = n_mixture_parameters(covariance_type, k, n_features)
                criteria = (np.nan,) * 5  # log_likelihood, bic, aic, icl, icl_entropy
                rows.append(
                    (k, covariance_type, p, *criteria, -1, True, False, str(errors[-1]))
                )
                continue
            index, model, reason = kept
            criteria = information_criteria(model, X)
            rows.append(
                (
                    k,
                    covariance_type,
                    criteria["n_parameters"],
                    criteria["log_likelihood"],
                    criteria["bic"],
                    criteria["aic"],
                    criteria["icl"],
                    criteria["icl_entropy"],
                    index,
                    False,
                    bool(reason),
                    reason,
                )
            )
            models[k, covariance_type] = model
    width = max([1] + [len(row[-1]) for row in rows])
    dtype = np.dtype(GRID_FIELDS + [("reason", f"U{width}")])
    return ModelGrid(np.array(rows, dtype=dtype), models)


def _fit_cell(X, estimator, cell, starts, default):
    """Fit one cell of :func:`fit_grid` from each start; keep the best sound fit.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    estimator : class
    cell : dict
        ``n_components``, ``covariance_type`` and the grid's options.
    starts : sequence of dict
    default : bool
        Whether ``starts`` are the default ones (for the error message).

    Returns
    -------
    kept : tuple or None
        ``(start index, model, degeneracy reason)`` of the kept fit: the
        highest ``lower_bound_`` among the sound fits, else among all, the
        earlier start on ties. None when every fit failed. The kept fit's
        warnings are issued again; the others' are dropped.
    errors : list of ValueError
        The degenerate-covariance errors of the fits that failed.
    """
    fits, errors = [], []
    for index, start in enumerate(starts):
        try:
            model = estimator(**cell, **start)
        except TypeError as error:
            if not default:
                raise
            raise TypeError(
                f"{error}. The default grid sets {start} and "
                f"{DEFAULT_GRID_OPTIONS} (gmmlib's GaussianMixture); "
                "pass starts=None to fit each cell once with the options alone."
            ) from error
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model.fit(X)
        except ValueError as error:
            if not _is_degenerate_covariance_error(error):
                raise
            errors.append(error)
            continue
        reason = degeneracy(model, len(X))
        fits.append((not reason, model.lower_bound_, -index, model, reason, caught))
    if not fits:
        return None, errors
    _, _, minus_index, model, reason, caught = max(fits, key=lambda fit: fit[:3])
    for warning in caught:
        warnings.warn_explicit(
            warning.message, warning.category, warning.filename, warning.lineno
        )
    return (-minus_index, model, reason), errors


def _is_degenerate_covariance_error(error):
    """gmmlib's error for a collapsed component, or scikit-learn's (the same text)."""
    return isinstance(error, DegenerateCovarianceError) or (
        DEGENERATE_COVARIANCE_MESSAGE in str(error)
    )


def mclust_bic(bic):
    r"""Convert a BIC in scikit-learn's convention to mclust's: :math:`2 \log L - p \log n`.

    The conversion is a change of sign; it works both ways, and for ``icl``
    too: mclust's ``icl()`` is ``-icl``.
    """
    return -np.asarray(bic)
