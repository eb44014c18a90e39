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

The sums :math:`N_k, S_k, T_k` then run over each component's computed pairs
only (:func:`gmmlib.em_steps.grouped_moments`): a pruned pair's term,
:math:`10^{-215}` or less of a responsibility, is left out. When a block's
pairs mostly survive (overlapping components), that block and the rest of the
pass go to the full E-step (:func:`gmmlib.em_steps.accumulate_statistics`),
which is then cheaper; the first block of a pass is small, a probe.

The anchor of a sample is its component of largest responsibility in the
previous pass, when the caller keeps those (:class:`gmmlib.data_sources.InMemoryData`
does, from the labels of its start on), and otherwise the component of largest
:math:`c_k - \tfrac12 \sum_j \Lambda_{k,jj} (x_j - \mu_{kj})^2`, the
log-density with the off-diagonal precisions left out (:math:`2dK`
multiply-adds). Any anchor gives a valid bound; a good one gives a tight one.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .covariance import LOG_2PI, log_det_cholesky, precisions_from_cholesky

#: Fewest features for which :func:`gmmlib.em_steps.e_step` takes the bounded
#: E-step (full covariances only). Below it the full E-step's :math:`K d^2`
#: work per sample is too small for the bounds, the sorting and the smaller
#: products to pay back. Measured on separated blobs (one pass, two threads):
#: 23 ms bounded against 14 ms full at d = 10 (200,000 x 8 components), 32
#: against 23 at d = 24 (100,000 x 8), 14 against 22 at d = 32 and 13 against
#: 51 at d = 50 (50,000 x 10).
MIN_FEATURES = 32

#: Rows of the first block of each part of a pass
#: (:func:`gmmlib.em_steps.bounded_statistics`). If the bound prunes too little
#: there, the rest of the part goes to the full E-step at once: overlapping
#: components then pay for the bounds of this block only. A pass over 50,000
#: x 32 overlapping rows with ten components took 27.5 ms when every block of
#: about 10,000 rows tried the bound first, against 21.7 ms for the full
#: E-step; with the probe, 24.4 against 23.6 ms.
PROBE_ROWS = 1024

#: A block goes to the full E-step when more than this fraction of its
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

    def anchors(self, centred):
        r"""Each row's anchor: the component of largest diagonal-precision log-density.

        Parameters
        ----------
        centred : ndarray of shape (n_rows, n_features)

        Returns
        -------
        anchors : ndarray of shape (n_rows,)
        """
        # Component-major products (K, n_rows): faster than (n_rows, K) for small K.
        scores = np.dot(self.anchor_quadratic, np.square(centred).T)
        scores += np.dot(self.anchor_linear, centred.T)
        scores += self.anchor_constants[:, None]
        return np.argmax(scores, axis=0)


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


class AnchoredBlock(NamedTuple):
    """A block of rows sorted by anchor, with its log-densities (:func:`bounded_block`).

    Attributes
    ----------
    rows : ndarray of shape (n_rows, n_features)
        The centred rows, sorted by anchor.
    order : ndarray of shape (n_rows,)
        ``rows`` is ``centred[order]``.
    edges : ndarray of shape (n_components + 1,)
        The rows anchored at k are ``rows[edges[k]:edges[k + 1]]``.
    log_prob : ndarray of shape (n_rows, n_components)
        Weighted log-densities, in the order of ``rows``; :math:`-\\infty` at
        pruned pairs.
    candidates : ndarray of bool, shape (n_rows, n_components)
        The pairs, other than a row and its anchor, that the bound could not
        prune and that were computed exactly.
    labels : ndarray of shape (n_rows,)
        Each row's component of largest responsibility, in the order of
        ``rows``: the tightest anchor for the next pass.
    """

    rows: np.ndarray
    order: np.ndarray
    edges: np.ndarray
    log_prob: np.ndarray
    candidates: np.ndarray
    labels: np.ndarray


def bounded_block(centred, bounds, floor, anchors=None):
    """The log-densities of one block of rows, pruning by the bound.

    The rows are sorted by anchor, so that the rows of each anchor are one
    contiguous slice (one gather for the block instead of one per component;
    gathering holds Python's lock that the threads of
    :func:`gmmlib.em_steps.e_step` share).

    Parameters
    ----------
    centred : ndarray of shape (n_rows, n_features)
        The block minus the shift.
    bounds : AnchorBounds
    floor : float
        :func:`gmmlib.em_steps.log_floor` of the dtype.
    anchors : ndarray of int, shape (n_rows,), optional
        The rows' anchors, such as their components of largest responsibility
        in the previous pass (``labels`` of :class:`AnchoredBlock`); computed by
        :meth:`AnchorBounds.anchors` when None or when one is not a component
        (-1 marks a row without one). Any anchor gives a valid bound.

    Returns
    -------
    AnchoredBlock or None
        None when more than :data:`MAX_COMPUTED_FRACTION` of the pairs would
        have to be computed exactly.
    """
    n_rows = len(centred)
    n_components = len(bounds.constants)
    if anchors is None or not (0 <= anchors.min() and anchors.max() < n_components):
        anchors = bounds.anchors(centred)
    order, edges = group_rows(anchors, n_components)
    rows = centred[order]
    # Component-major, so that normalize_log_prob runs along contiguous rows.
    log_prob = np.full((n_components, n_rows), -np.inf, dtype=centred.dtype).T
    candidates = np.empty((n_rows, n_components), dtype=bool)
    for anchor in range(n_components):
        anchored = slice(edges[anchor], edges[anchor + 1])
        anchor_log_density = bounds.log_density(rows[anchored], anchor)
        log_prob[anchored, anchor] = anchor_log_density
        upper = np.dot(rows[anchored], bounds.slopes[anchor])
        upper += bounds.intercepts[anchor]
        anchor_log_density += floor
        np.greater_equal(upper, anchor_log_density[:, None], out=candidates[anchored])
        candidates[anchored, anchor] = False
    if n_rows + candidates.sum() > MAX_COMPUTED_FRACTION * candidates.size:
        return None
    for component in range(n_components):
        candidate_rows = np.flatnonzero(candidates[:, component])
        if len(candidate_rows):
            log_prob[candidate_rows, component] = bounds.log_density(
                rows[candidate_rows], component
            )
    # The component of largest responsibility: the anchor, unless a survivor
    # of the bound beats it.
    labels = anchors[order]
    contested = np.flatnonzero(candidates.any(axis=1))
    labels[contested] = np.argmax(log_prob[contested], axis=1)
    return AnchoredBlock(rows, order, edges, log_prob, candidates, labels)
