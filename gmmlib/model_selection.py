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
"""

from dataclasses import dataclass

import numpy as np

from .covariance import COVARIANCE_TYPES
from .free_energy import entropy
from .gaussian_mixture import GaussianMixture

#: The criteria :func:`fit_grid` tabulates; :meth:`ModelGrid.best` minimises one.
CRITERIA = ("bic", "aic", "icl", "icl_entropy")

GRID_DTYPE = np.dtype(
    [
        ("n_components", np.int64),
        ("covariance_type", "U9"),
        ("n_parameters", np.int64),
        ("log_likelihood", np.float64),
        ("bic", np.float64),
        ("aic", np.float64),
        ("icl", np.float64),
        ("icl_entropy", np.float64),
    ]
)


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


def _check_criterion(criterion, allowed):
    if criterion not in allowed:
        raise ValueError(f"criterion must be one of {allowed}, got {criterion!r}")


@dataclass
class ModelGrid:
    """The result of :func:`fit_grid`.

    Attributes
    ----------
    table : structured ndarray of shape (n_models,)
        One row per model, fields ``n_components``, ``covariance_type``,
        ``n_parameters``, ``log_likelihood``, ``bic``, ``aic``, ``icl`` and
        ``icl_entropy`` (see :func:`information_criteria`).
    models : dict
        The fitted estimators, keyed by ``(n_components, covariance_type)``.
    """

    table: np.ndarray
    models: dict

    def best(self, criterion="bic"):
        """The row with the lowest ``criterion``, one of :data:`CRITERIA`.

        Among tied rows, the first in the table.

        Returns
        -------
        row : numpy.void
            ``row['n_components']``, ``row['covariance_type']``, ...
        """
        _check_criterion(criterion, CRITERIA)
        return self.table[np.argmin(self.table[criterion])]

    def choices(self):
        """The model each criterion chooses.

        Returns
        -------
        choices : dict
            ``{criterion: (n_components, covariance_type)}`` for every
            criterion in :data:`CRITERIA`.
        """
        return {
            criterion: (
                int(self.best(criterion)["n_components"]),
                str(self.best(criterion)["covariance_type"]),
            )
            for criterion in CRITERIA
        }

    def best_model(self, criterion="bic"):
        """The fitted estimator chosen by ``criterion``."""
        row = self.best(criterion)
        return self.models[int(row["n_components"]), str(row["covariance_type"])]

    def curve(self, covariance_type, criterion="bic"):
        """``(n_components, values)`` of one criterion for one covariance type.

        ``criterion`` is one of :data:`CRITERIA`, ``'log_likelihood'`` or
        ``'n_parameters'``.
        """
        _check_criterion(criterion, CRITERIA + ("log_likelihood", "n_parameters"))
        rows = self.table[self.table["covariance_type"] == covariance_type]
        return rows["n_components"], rows[criterion]


def fit_grid(
    X,
    n_components=range(1, 10),
    covariance_types=COVARIANCE_TYPES,
    estimator=GaussianMixture,
    **options,
):
    """Fit a mixture for every number of components and covariance type.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : iterable of int, default=range(1, 10)
    covariance_types : iterable of str, default=all four
    estimator : class, default=gmmlib.GaussianMixture
        Called as ``estimator(n_components=k, covariance_type=c, **options)``;
        scikit-learn's ``GaussianMixture`` works too.
    **options
        Passed to every estimator (``random_state``, ``n_init``, ``tol``, ...).

    Returns
    -------
    ModelGrid
        The tidy table (one row per model) and the fitted models.

    Examples
    --------
    >>> from gmmlib.datasets import make_blobs_mixture
    >>> X, _ = make_blobs_mixture(300, n_components=2, random_state=0)
    >>> grid = fit_grid(X, range(1, 4), ["full"], random_state=0)
    >>> int(grid.best("bic")["n_components"])
    2
    """
    X = np.asarray(X)
    rows, models = [], {}
    for covariance_type in covariance_types:
        for k in n_components:
            model = estimator(
                n_components=k, covariance_type=covariance_type, **options
            ).fit(X)
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
                )
            )
            models[k, covariance_type] = model
    return ModelGrid(np.array(rows, dtype=GRID_DTYPE), models)


def mclust_bic(bic):
    r"""Convert a BIC in scikit-learn's convention to mclust's: :math:`2 \log L - p \log n`.

    The conversion is a change of sign; it works both ways, and for ``icl``
    too: mclust's ``icl()`` is ``-icl``.
    """
    return -np.asarray(bic)
