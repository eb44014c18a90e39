r"""The E-step for separated components: skip the log-densities a bound proves negligible.

With full covariances in many dimensions, each E-step pass of
:func:`gmmlib.em_steps.e_step` costs about :math:`K d^2` multiply-adds per
sample, although for separated components all but one or two of the :math:`K`
responsibilities of a sample are below :math:`e^{-496}` of its largest, the
floor (:func:`gmmlib.em_steps.log_floor`) to which the E-step raises them
anyway. A bound, cheap to compute, finds those pairs of sample and component
before their log-density is computed (chapter "Empirical performance", section
"Separated components: skipping what cannot matter", :eq:`eq-perf-bound`).

For a sample :math:`x`, a component :math:`a` (its *anchor*) and any other
component :math:`k`, write :math:`\Lambda_k = P_k P_k^\top = \Sigma_k^{-1}`,
:math:`v = x - \mu_a` and :math:`\delta = \mu_a - \mu_k`. Then
:math:`x - \mu_k = v + \delta` and, since :math:`v^\top \Lambda_k v \ge 0`,

.. math::

    \begin{aligned}
    \log w_k \mathcal{N}(x \mid \mu_k, \Sigma_k)
    &= c_k - \tfrac12 (v + \delta)^\top \Lambda_k (v + \delta) \\
    &\le c_k - v^\top \Lambda_k \delta - \tfrac12 \delta^\top \Lambda_k \delta
    = x^\top h_{ak} + b_{ak},
    \end{aligned}

with :math:`c_k = \log w_k + \log|P_k| - \tfrac d2 \log 2\pi`,
:math:`h_{ak} = -\Lambda_k \delta` and
:math:`b_{ak} = c_k + \mu_a^\top \Lambda_k \delta - \tfrac12 \delta^\top \Lambda_k \delta`.
For all the samples anchored at :math:`a` the bounds are one matrix product
with the :math:`d \times K` matrix :math:`(h_{ak})_k`: :math:`dK`
multiply-adds per sample instead of :math:`K d^2`. Where the bound lies below
the anchor's exact log-density plus the floor, so does the log-density; the
pair is *pruned* and gets the floored responsibility the full E-step would
give it, exactly. Only the anchor and the pairs that survive are computed
exactly. A rounding error in a bound can move only pairs at the floor itself,
whose responsibilities are below :math:`10^{-215}`.

A fit sorts its rows by anchor once (:class:`AnchoredRows`) and adds up
:math:`N_k, S_k, T_k` over each anchor's rows then, as if every
responsibility were 1 at its anchor. For separated components nearly every
row has no pair that survives the bound, and its responsibility is exactly
that (1 at the anchor, the floor elsewhere); a pass then adds to the sums
corrections for the few *contested* rows only
(:func:`gmmlib.em_steps.bounded_statistics`), and the :math:`d^2` products of
:math:`T_k` drop out of the passes. A pruned pair's term, :math:`10^{-215}`
or less of a responsibility, is left out. When the pairs of a probe, a few
rows spread over all anchors, mostly survive (overlapping components), the
pass goes to the full E-step (:func:`gmmlib.em_steps.accumulate_statistics`),
which is then cheaper.

The anchor of a sample is its label from the start of the fit, when the start
gives hard labels ('kmeans'), and otherwise the component of largest
:math:`c_k - \tfrac12 \sum_j \Lambda_{k,jj} (x_j - \mu_{kj})^2`, the
log-density with the off-diagonal precisions left out (:math:`2dK`
multiply-adds). Any anchor gives a valid bound; a good one gives a tight one.
When more than :data:`REANCHOR_FRACTION` of the rows have come to have
another component of largest responsibility, the rows are sorted again by it.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .covariance import (
    LOG_2PI,
    log_det_cholesky,
    n_statistics,
    precisions_from_cholesky,
)
from .runtime import bounded_block_size, map_row_parts

#: Fewest features for which :func:`gmmlib.em_steps.e_step` takes the bounded
#: E-step (full covariances only). Below it the bound pruned next to nothing
#: on the blobs of :func:`gmmlib.datasets.make_blobs_mixture`, so that the
#: sorting of the rows by anchor, once per fit, would be spent for nothing.
#: Measured at fitted parameters (one pass, two threads): at d = 10, 16 and
#: 24 (200,000 x 8 components, 100,000 x 8, 100,000 x 8) nearly every
#: sample was contested and the probe sent each pass to the full E-step
#: (23-41 ms), while the sorting cost 12-25 ms; at d = 32 (50,000 x 10) a
#: quarter of the samples were uncontested and a bounded pass took 26 ms
#: against 38 ms for the full E-step (sorting 10 ms); at d = 50, 9 against
#: 77 ms, with 0.02% of the samples contested.
MIN_FEATURES = 32

#: Rows, spread evenly over all anchors, on which each pass first tries the
#: bound (:func:`gmmlib.em_steps.bounded_statistics`). If it prunes too little
#: there, the whole pass goes to the full E-step: overlapping components then
#: pay for the bounds of these rows only. A pass over 50,000 x 32 overlapping
#: rows with ten components took 27.5 ms when every block of about 10,000 rows
#: tried the bound first, against 21.7 ms for the full E-step; with a probe of
#: 1024 rows, 24.4 against 23.6 ms.
PROBE_ROWS = 1024

#: A pass goes to the full E-step when more than this fraction of the probe's
#: sample-component pairs must be computed exactly: then the exact
#: log-densities of the survivors, gathered component by component, cost
#: about what the full E-step costs for all pairs.
MAX_COMPUTED_FRACTION = 0.5


@dataclass
class AnchorBounds:
    r"""What the bounded E-step needs of the parameters, computed once per pass.

    All arrays are in the dtype of the data, the means centred on the shift
    :math:`c` of the sums.

    Attributes
    ----------
    factors : ndarray of shape (n_components, n_features, n_features)
        :math:`P_k`.
    projected_means : ndarray of shape (n_components, n_features)
        :math:`P_k^\top (\mu_k - c)`.
    constants : ndarray of shape (n_components,)
        :math:`c_k = \log w_k + \log|P_k| - \tfrac d2 \log 2\pi` (``log_weights``
        in place of :math:`\log w_k` when given).
    anchor_quadratic, anchor_linear : ndarray of shape (n_components, n_features)
        :math:`-\tfrac12 \Lambda_{k,jj}` and :math:`\Lambda_{k,jj} (\mu_{kj} - c_j)`.
    anchor_constants : ndarray of shape (n_components,)
        :math:`c_k - \tfrac12 \sum_j \Lambda_{k,jj} (\mu_{kj} - c_j)^2`: with the
        two above, the anchors' scores.
    slopes : ndarray of shape (n_components, n_features, n_components)
        ``slopes[a, :, k]`` is :math:`h_{ak}`.
    intercepts : ndarray of shape (n_components, n_components)
        ``intercepts[a, k]`` is :math:`b_{ak}`.
    halves : ndarray of shape (n_features,)
        :math:`\tfrac12` in every entry: ``numpy.dot(y**2, halves)`` is
        :math:`\tfrac12 \lVert y \rVert^2` of every row by BLAS, faster than a
        sum along short rows.
    """

    factors: np.ndarray
    projected_means: np.ndarray
    constants: np.ndarray
    anchor_quadratic: np.ndarray
    anchor_linear: np.ndarray
    anchor_constants: np.ndarray
    slopes: np.ndarray
    intercepts: np.ndarray
    halves: np.ndarray

    @classmethod
    def from_parameters(cls, params, shift, log_weights=None, dtype=np.float64):
        r"""The bounds of ``params`` ('full' covariances) for data centred on ``shift``.

        Parameters
        ----------
        params : MixtureParameters
        shift : ndarray of shape (n_features,)
        log_weights : ndarray of shape (n_components,), optional
            Used instead of :math:`\log w_k`.
        dtype : numpy dtype, default=float64
            The dtype of the data.

        Returns
        -------
        AnchorBounds
        """
        n_features = params.means.shape[1]
        means = params.means - shift
        factors = params.precisions_cholesky
        precisions = precisions_from_cholesky(factors, "full")
        if log_weights is None:
            log_weights = np.log(params.weights)
        constants = (
            log_weights
            + log_det_cholesky(factors, "full", n_features)
            - 0.5 * n_features * LOG_2PI
        )
        # delta[a, k] = mu_a - mu_k; slopes[a, :, k] = -Lambda_k delta[a, k].
        delta = means[:, None, :] - means[None, :, :]
        slopes = -np.einsum("kij,akj->aik", precisions, delta)
        quadratic = -np.einsum("aik,aki->ak", slopes, delta)
        intercepts = (
            constants[None, :]
            - np.einsum("ai,aik->ak", means, slopes)
            - 0.5 * quadratic
        )
        diagonal = np.einsum("kii->ki", precisions)
        arrays = (
            factors,
            np.einsum("kd,kde->ke", means, factors),
            constants,
            -0.5 * diagonal,
            diagonal * means,
            constants - 0.5 * np.sum(diagonal * means**2, axis=1),
            slopes,
            intercepts,
            np.full(n_features, 0.5),
        )
        return cls(*(np.ascontiguousarray(value, dtype=dtype) for value in arrays))

    def log_density(self, centred, component):
        r""":math:`\log w_k \mathcal{N}(x \mid \mu_k, \Sigma_k)` of some rows, exactly.

        Parameters
        ----------
        centred : ndarray of shape (n_rows, n_features)
            Rows of the data minus the shift.
        component : int

        Returns
        -------
        log_density : ndarray of shape (n_rows,)
        """
        projected = np.dot(centred, self.factors[component])
        projected -= self.projected_means[component]
        np.square(projected, out=projected)
        log_density = np.dot(projected, self.halves)
        np.subtract(self.constants[component], log_density, out=log_density)
        return log_density

    def anchors(self, X, shift=None):
        r"""Each row's anchor: the component of largest diagonal-precision log-density.

        Computed a block of :func:`gmmlib.runtime.bounded_block_size` rows at
        a time.

        Parameters
        ----------
        X : ndarray of shape (n_rows, n_features)
            Rows of the data minus the shift, or the rows themselves when
            ``shift`` is given.
        shift : ndarray of shape (n_features,), optional
            The shift :math:`c` of the bounds, subtracted first.

        Returns
        -------
        anchors : ndarray of shape (n_rows,)
        """
        n_components, n_features = self.anchor_linear.shape
        step = bounded_block_size(n_components, n_features, X.dtype)
        centre = 0 if shift is None else shift.astype(X.dtype)
        anchors = np.empty(len(X), dtype=np.intp)
        for start in range(0, len(X), step):
            centred = X[start : start + step] - centre
            # Component-major products (K, n_rows): faster than (n_rows, K).
            scores = np.dot(self.anchor_quadratic, np.square(centred).T)
            scores += np.dot(self.anchor_linear, centred.T)
            scores += self.anchor_constants[:, None]
            anchors[start : start + step] = np.argmax(scores, axis=0)
        return anchors


def group_rows(labels, n_components):
    """The order that sorts rows by label, and where each label's rows start.

    Parameters
    ----------
    labels : ndarray of int, shape (n_rows,)
        Values in ``range(n_components)``.
    n_components : int

    Returns
    -------
    order : ndarray of shape (n_rows,)
        Stable: rows of one label keep their order.
    edges : ndarray of shape (n_components + 1,)
        The rows labelled k are ``order[edges[k]:edges[k + 1]]``.
    """
    order = np.argsort(labels, kind="stable")
    edges = np.concatenate(
        ([0], np.cumsum(np.bincount(labels, minlength=n_components)))
    )
    return order, edges


def grouped_moments(rows, edges, weights=None, extra=None):
    r"""The sums :math:`\sum_n c_{nk}\, t(x_n - c)` over the rows each component keeps ('full').

    Component k keeps the rows ``edges[k]:edges[k + 1]``, with coefficients
    ``weights`` (1 when None), and the pairs where ``extra[:, k]`` is
    nonzero, with those coefficients; all other pairs count as zero. Row k of
    the result adds up, over those rows only, :math:`c_{nk}`,
    :math:`c_{nk} (x_n - c)` and the upper triangle of
    :math:`c_{nk} (x_n - c)(x_n - c)^\top`, in the layout of
    :func:`gmmlib.em_steps.sufficient_features` (:math:`N_k, S_k, T_k` of
    :eq:`eq-gem-k-statistics` when the coefficients are weighted
    responsibilities). Component k costs :math:`d^2` multiply-adds per kept
    row, instead of the :math:`d(d+1)/2` per row and component of
    :func:`gmmlib.em_steps.moments_from_resp`'s products: the cheaper way when
    each row keeps one or two components (hard labels; the bounded E-step).

    Parameters
    ----------
    rows : ndarray of shape (n_rows, n_features)
        :math:`x_n - c`, sorted by the component that keeps them.
    edges : ndarray of shape (n_components + 1,)
    weights : ndarray of shape (n_rows,), optional
        Coefficients of the rows in the slices of ``edges``.
    extra : ndarray of shape (n_rows, n_components), optional
        Coefficients of further pairs; zero where a pair is not kept. May be
        negative (the corrections of :func:`gmmlib.em_steps.bounded_statistics`).

    Returns
    -------
    moments : ndarray of shape (n_components, n_statistics), float64
    """
    n_features = rows.shape[1]
    n_components = len(edges) - 1
    moments = np.zeros((n_components, n_statistics(n_features, "full")))
    second = np.zeros((n_components, n_features, n_features))

    def add(component, block, coefficients):
        if coefficients is None:
            moments[component, 0] += len(block)
            moments[component, 1 : 1 + n_features] += block.sum(axis=0)
            second[component] += np.dot(block.T, block)
        else:
            moments[component, 0] += coefficients.sum(dtype=np.float64)
            moments[component, 1 : 1 + n_features] += np.dot(coefficients, block)
            second[component] += np.dot((block * coefficients[:, None]).T, block)

    for component in range(n_components):
        kept = slice(edges[component], edges[component + 1])
        if kept.stop > kept.start:
            add(component, rows[kept], None if weights is None else weights[kept])
        if extra is not None:
            index = np.flatnonzero(extra[:, component])
            if len(index):
                add(component, rows[index], extra[index, component])
    upper_rows, upper_cols = np.triu_indices(n_features)
    moments[:, 1 + n_features :] = second[:, upper_rows, upper_cols]
    return moments


#: A fit's rows are sorted by anchor again (:meth:`AnchoredRows.reanchor`)
#: once more than this fraction of them have another component of largest
#: responsibility than their anchor. Such a row still gets a valid bound, but
#: costs its own correction of the sums and the exact log-densities of the
#: pairs its looser bounds keep, about :math:`2d^2` multiply-adds or more in
#: every later pass; sorting again costs a gather of all rows and one
#: :math:`d^2` product per row, once.
REANCHOR_FRACTION = 0.1


@dataclass
class AnchoredRows:
    r"""A fit's rows, centred and sorted by anchor, and the sums over each anchor's rows.

    Kept by :class:`gmmlib.data_sources.InMemoryData` from the start of a fit
    (a copy of the data, the one array of that size the bounded E-step
    keeps), so that no pass sorts the rows again, and so that the sums of a
    pass are the sums below, computed once, plus corrections for the rows
    whose responsibility is not all at their anchor
    (:func:`gmmlib.em_steps.bounded_statistics`). For separated components
    those are a handful of rows.

    Attributes
    ----------
    rows : ndarray of shape (n_samples, n_features)
        :math:`x_n - c`, in the dtype of the data, sorted by anchor.
    weights : ndarray of shape (n_samples,) or None
        Sample weights, in the same order.
    anchors : ndarray of int, shape (n_samples,)
        Each row's anchor (sorted).
    edges : ndarray of shape (n_components + 1,)
        The rows anchored at k are ``rows[edges[k]:edges[k + 1]]``.
    moments : ndarray of shape (n_components, n_statistics), float64
        :math:`\sum_{n:\, a_n = k} w_n\, t(x_n - c)` (:func:`grouped_moments`):
        :math:`N_k, S_k, T_k` if every row had responsibility 1 at its anchor.
        For hard labels, such as those of the 'kmeans' start, these are the
        statistics of the start.
    labels : ndarray of int, shape (n_samples,)
        Each row's component of largest responsibility in the last pass (its
        anchor before the first), in the order of ``rows``.
    """

    rows: np.ndarray
    weights: np.ndarray | None
    anchors: np.ndarray
    edges: np.ndarray
    moments: np.ndarray
    labels: np.ndarray

    @classmethod
    def from_labels(
        cls, X, labels, n_components, sample_weight=None, shift=None, n_threads=1
    ):
        """Sort the rows of X by ``labels``, their anchors, and add up each anchor's rows.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        labels : ndarray of int, shape (n_samples,)
            Values in ``range(n_components)``.
        n_components : int
        sample_weight : ndarray of shape (n_samples,), optional
        shift : ndarray of shape (n_features,), optional
            Centre :math:`c`, exact in the dtype of X
            (:func:`gmmlib.em_steps.as_shift`); default: X is centred already.
        n_threads : int, default=1
            Threads for the sums (:func:`gmmlib.runtime.map_row_parts`).

        Returns
        -------
        AnchoredRows
        """
        order, edges = group_rows(labels, n_components)
        rows = X[order]
        if shift is not None:
            rows -= shift.astype(X.dtype)
        weights = None if sample_weight is None else sample_weight[order]
        anchors = labels[order]

        def moments_of_part(first, last):
            part_edges = np.clip(edges, first, last) - first
            part_weights = None if weights is None else weights[first:last]
            return grouped_moments(rows[first:last], part_edges, part_weights)

        moments = sum(
            map_row_parts(
                moments_of_part,
                len(rows),
                n_threads,
                bounded_block_size(n_components, X.shape[1], X.dtype),
            )
        )
        return cls(rows, weights, anchors, edges, moments, anchors.copy())

    @classmethod
    def from_bounds(cls, X, bounds, sample_weight=None, shift=None, n_threads=1):
        """Anchor each row at its component of largest diagonal-precision score.

        :meth:`AnchorBounds.anchors`, for rows without a better anchor (a
        start that gives no hard labels).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        bounds : AnchorBounds
            For the same ``shift``.
        sample_weight, shift, n_threads
            As in :meth:`from_labels`.

        Returns
        -------
        AnchoredRows
        """
        labels = bounds.anchors(X, shift)
        n_components = len(bounds.constants)
        return cls.from_labels(X, labels, n_components, sample_weight, shift, n_threads)

    def sort_by(self, labels, n_threads=1):
        """Anchor the rows at ``labels`` instead (:meth:`from_labels`), in place.

        Parameters
        ----------
        labels : ndarray of int, shape (n_samples,)
            For the rows in their present order.
        n_threads : int, default=1
        """
        n_components = len(self.edges) - 1
        vars(self).update(
            vars(
                AnchoredRows.from_labels(
                    self.rows, labels, n_components, self.weights, None, n_threads
                )
            )
        )

    def reanchor(self, n_threads=1):
        """Sort again by the last pass's labels when more than :data:`REANCHOR_FRACTION` moved.

        In place.

        Parameters
        ----------
        n_threads : int, default=1
        """
        moved = np.count_nonzero(self.labels != self.anchors)
        if moved > REANCHOR_FRACTION * len(self.rows):
            self.sort_by(self.labels, n_threads)


class AnchoredBlock(NamedTuple):
    """The log-densities of a block of anchored rows (:func:`bounded_block`).

    Attributes
    ----------
    anchor_log_density : ndarray of shape (n_rows,)
        Each row's exact weighted log-density at its anchor.
    candidates : ndarray of bool, shape (n_rows, n_components)
        The pairs, other than a row and its anchor, that the bound could not
        prune and that were computed exactly.
    contested : ndarray of int, shape (n_contested,)
        The rows with a candidate: only these have a responsibility off
        their anchor. Every other row has responsibility 1 at its anchor
        (its other components are pruned, at the floor) and log-density
        ``anchor_log_density``.
    log_prob : ndarray of shape (n_contested, n_components)
        The contested rows' weighted log-densities: exact at the anchor and
        the candidates, :math:`-\\infty` at pruned pairs.
    """

    anchor_log_density: np.ndarray
    candidates: np.ndarray
    contested: np.ndarray
    log_prob: np.ndarray


def prune(rows, edges, bounds, floor):
    """The exact log-densities at the anchors and the pairs the bound cannot prune.

    Parameters
    ----------
    rows : ndarray of shape (n_rows, n_features)
        Centred rows sorted by anchor.
    edges : ndarray of shape (n_components + 1,)
        The rows anchored at k are ``rows[edges[k]:edges[k + 1]]``.
    bounds : AnchorBounds
    floor : float
        :func:`gmmlib.em_steps.log_floor` of the dtype.

    Returns
    -------
    anchor_log_density : ndarray of shape (n_rows,)
    candidates : ndarray of bool, shape (n_rows, n_components)
        False at each row's anchor and where :eq:`eq-perf-bound` lies below
        the anchor's log-density plus ``floor``.
    """
    anchor_log_density = np.empty(len(rows), dtype=rows.dtype)
    candidates = np.empty((len(rows), len(edges) - 1), dtype=bool)
    for anchor in range(len(edges) - 1):
        anchored = slice(edges[anchor], edges[anchor + 1])
        if anchored.stop == anchored.start:
            continue
        log_density = bounds.log_density(rows[anchored], anchor)
        anchor_log_density[anchored] = log_density
        upper = np.dot(rows[anchored], bounds.slopes[anchor])
        upper += bounds.intercepts[anchor]
        np.greater_equal(
            upper, (log_density + floor)[:, None], out=candidates[anchored]
        )
        candidates[anchored, anchor] = False
    return anchor_log_density, candidates


def bounded_block(rows, edges, bounds, floor):
    """The log-densities of one block of anchored rows, pruning by the bound.

    :func:`prune`, then the exact log-densities of the pairs that survive it.

    Parameters
    ----------
    rows, edges, bounds, floor
        As in :func:`prune`; ``rows`` is a slice of ``AnchoredRows.rows``.

    Returns
    -------
    AnchoredBlock
    """
    anchor_log_density, candidates = prune(rows, edges, bounds, floor)
    contested = np.flatnonzero(candidates.any(axis=1))
    anchors = np.repeat(np.arange(len(edges) - 1), np.diff(edges))[contested]
    log_prob = np.full((len(contested), len(edges) - 1), -np.inf, dtype=rows.dtype)
    log_prob[np.arange(len(contested)), anchors] = anchor_log_density[contested]
    for component in range(len(edges) - 1):
        survivors = np.flatnonzero(candidates[contested, component])
        if len(survivors):
            log_prob[survivors, component] = bounds.log_density(
                rows[contested[survivors]], component
            )
    return AnchoredBlock(anchor_log_density, candidates, contested, log_prob)
