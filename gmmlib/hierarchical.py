r"""Model-based agglomerative hierarchical clustering: mclust's default start.

R's mclust starts EM from a partition found by model-based hierarchical
clustering (Banfield and Raftery 1993, *Biometrics* 49: 803-821; Fraley 1998,
*SIAM J. Sci. Comput.* 20: 270-281). Every sample starts as its own cluster; at
each step the two clusters whose merge increases a classification
log-likelihood criterion least are merged, until one cluster is left. Cutting
the sequence of merges where G clusters remain gives the G classes whose
M-step is EM's starting point. This module computes the same merges as mclust
6.0's ``hc()``, on the data transformed as mclust does by default.

**The data.** ``hc(X, use = "SVD")`` (``mclust.options("hcUse")``; Scrucca and
Raftery 2015, *Adv. Data Anal. Classif.* 9: 447-460) first standardises each column to
mean 0 and standard deviation 1 (divisor :math:`n - 1`), giving
:math:`\tilde X`, then rotates and scales it with the singular value
decomposition :math:`\tilde X = U D V^\top`:

.. math:: Z = \tilde X V D^{-1/2}.

(The square root of the singular values, not the singular values themselves:
mclust's choice, kept here.) Columns that are constant are dropped first.

**VVV** (components with their own full covariance matrices; mclust's default
``hcModelName``). A cluster :math:`C_k` of :math:`n_k` points with scatter
matrix :math:`W_k = \sum_{n \in C_k} (z_n - \bar z_k)(z_n - \bar z_k)^\top`
has the term

.. math::

   t_k = n_k \log\Bigl( \Bigl|\frac{W_k}{n_k}\Bigr|
       + \beta\, \frac{\operatorname{tr} W_k + \alpha}{n_k} \Bigr),

the Banfield-Raftery criterion :math:`n_k \log |W_k / n_k|` regularised so that
small clusters, whose :math:`W_k` is singular, have a finite term. When
:math:`n_k \le p` (the number of columns of :math:`Z`) the determinant is left
out, and a single point has :math:`t_k = \log(\alpha\beta)`. The cost of
merging clusters :math:`i` and :math:`j` is the change of the criterion
:math:`\sum_k t_k`,

.. math:: \Delta_{ij} = t_{i \cup j} - (t_i + t_j),

with :math:`W_{i \cup j} = W_i + W_j + \frac{n_i n_j}{n_i + n_j}
(\bar z_i - \bar z_j)(\bar z_i - \bar z_j)^\top`. mclust's ``hcVVV`` uses
:math:`\beta = 1` and :math:`\alpha` equal to the trace of the scatter matrix
of :math:`Z / \sqrt{n p}` (at least the machine epsilon). Two single points
always use the trace form, :math:`t = 2 \log(\beta (\operatorname{tr} W +
\alpha) / 2)`, even when :math:`p = 1`.

**EII** (spherical components of one common volume; mclust uses it when
:math:`n \le p`). The criterion is :math:`n p \log \operatorname{tr}(\sum_k
W_k)`, so the merge that increases it least is the one that increases
:math:`\sum_k \operatorname{tr} W_k` least: Ward's method, with the cost

.. math:: \Delta_{ij} = \frac{n_i n_j}{n_i + n_j} \|\bar z_i - \bar z_j\|^2,

updated after each merge by the Lance-Williams formula for Ward's method,
as mclust's ``hcEII`` does:

.. math::

   \Delta_{i \cup j, k} = \frac{(n_k + n_i) \Delta_{ik} + (n_k + n_j) \Delta_{jk}
       - n_k \Delta_{ij}}{n_k + n_i + n_j}.

**Ties and labels.** As in mclust, the clusters sit in numbered slots; the
pair costs are scanned pair by pair (:math:`j = 2, 3, \ldots`, then
:math:`i < j`), and the last pair of least cost is merged. The merged cluster
takes slot :math:`i` and the cluster of the last slot moves into slot
:math:`j`. A merge is reported as the pair of cluster labels, each label the
smallest sample index the cluster holds (0-based here, 1-based in R). Exact
ties occur between duplicated samples, and on data recorded on a grid
between pairs of points equally far apart; the first costs (pairs of single
points) are computed in mclust's order of operations, so that what is a tie
for mclust is one here, and this order decides it as mclust does.

**Agreement with mclust 6.0.** From the same Z, every merge equals mclust's
``hc()`` on R's ``faithful``, ``iris[, 1:4]``, and mclust's ``diabetes[, -1]``,
``banknote[, -1]`` and ``wreath``, for both criteria, but for the one
difference below; from this module's own :func:`svd_transform`, VVV's merges are
mclust's on the first four and the partitions into up to 9 classes are
mclust's for both criteria (tied EII merges can come in another order: the
last bits of the two SVDs differ). One difference is known: mclust 6.0's
``hcVVV`` keeps a Cholesky factor of each merged cluster's scatter matrix for
later merges, but writes the factor's first row into every row it keeps, so a
cluster of three or more points that is read back carries another matrix than
:math:`W_k`. This module uses :math:`W_k` as defined. On ``wreath`` that
changes mclust's last 3 of 999 merges (its partitions into 2 and 3 classes).

**One column.** For one-dimensional data ``Mclust`` starts from quantile
classes, not from ``hc()``; gmmlib's 'hierarchical' start runs the VVV
criterion with :math:`p = 1` there as well (its merges are those of mclust's
``hc(x, modelName = "VVV")`` on faithful's eruption times).

**Large data.** Hierarchical clustering of n points keeps the
:math:`n (n - 1) / 2` pair costs (:math:`O(n^2)` memory) and makes
:math:`n - 1` merges, each with :math:`O(n)` new costs and a search for the
least cost (the least cost of each column is cached, so a search reads
:math:`O(n)` numbers plus the columns whose least cost was replaced): between
:math:`O(n^2)` and :math:`O(n^3)` time. Like ``Mclust``
(``mclust.options("subset")``), :func:`hierarchical_responsibilities` clusters
a random subset of :data:`SUBSET_ROWS` rows when there are more, which takes
0.5 to 3 seconds; the M-step on that subset starts EM on all the data.
"""

import hashlib
from collections import OrderedDict

import numpy as np

#: Rows clustered at most: a larger X is clustered on a random subset of this
#: many rows (mclust's default ``mclust.options("subset")``, 2000).
SUBSET_ROWS = 2000

#: Merge criteria: mclust's ``hcVVV`` and ``hcEII``.
MODELS = ("VVV", "EII")

#: Data sets whose merges :func:`hierarchical_labels` keeps (least recently
#: used dropped first).
MERGES_CACHE_SIZE = 8
_MERGES_CACHE = OrderedDict()

_SQRT_HALF = np.sqrt(0.5)


def svd_transform(X):
    r"""The data mclust's ``hc(X, use = "SVD")`` clusters: :math:`\tilde X V D^{-1/2}`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)

    Returns
    -------
    Z : ndarray of shape (n_samples, min(n_samples, n_kept))
        ``n_kept`` is the number of columns of X that are not constant. The
        signs of the singular vectors are LAPACK's; no criterion of this
        module depends on them.
    """
    X = np.asarray(X, dtype=np.float64)
    centred = X - X.mean(axis=0)
    scale = np.sqrt((centred**2).sum(axis=0) / max(1, len(X) - 1))
    kept = scale > 0
    standardised = centred[:, kept] / scale[kept]
    _, singular_values, vt = np.linalg.svd(standardised, full_matrices=False)
    return (standardised @ vt.T) * (1 / np.sqrt(singular_values))


def _sequential_row_sums(A):
    """Row sums added left to right, as reference BLAS's ``ddot`` adds."""
    total = np.zeros(len(A))
    for column in A.T:
        total = total + column
    return total


def vvv_alpha(Z):
    r"""mclust's :math:`\alpha` for ``hcVVV``: the trace of the scatter matrix of :math:`Z / \sqrt{n p}`.

    Computed in mclust's order (its Fortran ``mcltrw``), at least the machine
    epsilon.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_features)

    Returns
    -------
    alpha : float
    """
    n_samples, n_features = Z.shape
    scaled = Z / np.sqrt(n_samples * n_features)
    factor = 1 / np.sqrt(n_samples)
    centre = np.cumsum(factor * scaled, axis=0)[-1]
    centred = scaled + (-factor) * centre
    alpha = 0.0
    for column in centred.T:
        alpha = alpha + np.cumsum(column * column)[-1]
    return max(float(alpha), np.finfo(np.float64).eps)


class _Slots:
    """Pair costs of the clusters in slots 0..size-1, and the merge record.

    ``costs[i, j]`` for i < j holds the cost of merging slots i and j; every
    other entry is +inf. ``column_min[j]`` and ``column_arg[j]`` cache the
    least cost in column j (over i < j) and the last row that holds it, so
    that finding the pair to merge reads one number per slot, not the whole
    triangle.
    """

    def __init__(self, costs):
        self.size = len(costs)
        self.costs = costs
        self.labels = np.arange(self.size)
        self.merges = np.empty((self.size - 1, 2), dtype=np.intp)
        self.merge_costs = np.empty(self.size - 1)
        self.step = 0
        self.column_min = np.full(self.size, np.inf)
        self.column_arg = np.zeros(self.size, dtype=np.intp)
        self._scan_columns(np.arange(1, self.size))

    def _scan_columns(self, columns):
        """Least cost of each column and the last row that holds it."""
        block = self.costs[: self.size, columns]
        last_first = block[::-1]
        self.column_min[columns] = last_first.min(axis=0)
        self.column_arg[columns] = len(block) - 1 - last_first.argmin(axis=0)

    def column(self, slot):
        """Costs between ``slot`` and every slot (inf at ``slot`` itself)."""
        return np.concatenate(
            [
                self.costs[:slot, slot],
                [np.inf],
                self.costs[slot, slot + 1 : self.size],
            ]
        )

    def best_pair(self):
        """The last pair (j-major, then i) of least cost: mclust's scan."""
        minima = self.column_min[: self.size]
        least = minima.min()
        j = np.flatnonzero(minima == least)[-1]
        return int(self.column_arg[j]), int(j), float(least)

    def merge(self, i, j, cost):
        """Record the merge of slots i < j and move the last slot into j."""
        label_i, label_j = self.labels[i], self.labels[j]
        self.merges[self.step] = sorted((label_i, label_j))
        self.merge_costs[self.step] = cost
        self.step += 1
        last = self.size - 1
        self.labels[i] = min(label_i, label_j)
        self.labels[j] = self.labels[last]
        costs = self.costs
        if j != last:
            costs[:j, j] = costs[:j, last]
            costs[j, j + 1 : last] = costs[j + 1 : last, last]
        costs[:, last] = np.inf
        costs[last, :] = np.inf
        self.column_min[last] = np.inf
        self.size = last
        self._moved = j

    def set_row(self, slot, values):
        """Costs between ``slot`` and every other slot (``values[slot]`` ignored).

        Called once after each :meth:`merge`, for the merged slot; brings the
        cached column minima up to date with both changes.
        """
        size, moved = self.size, self._moved
        self.costs[:slot, slot] = values[:slot]
        self.costs[slot, slot + 1 : size] = values[slot + 1 : size]
        stale = {slot}
        if moved < size:
            stale.add(moved)
        # columns after the merged slot: one new entry in row `slot`, and in
        # row `moved` for the columns after the moved slot
        later = np.arange(slot + 1, size)
        later = later[later != moved]
        changed_rows = [(slot, later), (moved, later[later > moved])]
        for row, columns in changed_rows:
            lost = columns[self.column_arg[columns] == row]
            stale.update(lost.tolist())
        for row, columns in changed_rows:
            columns = columns[~np.isin(columns, list(stale))]
            new = self.costs[row, columns]
            better = (new < self.column_min[columns]) | (
                (new == self.column_min[columns]) & (row > self.column_arg[columns])
            )
            self.column_min[columns[better]] = new[better]
            self.column_arg[columns[better]] = row
        stale = np.array(sorted(stale - {0}), dtype=np.intp)
        if len(stale):
            self._scan_columns(stale)


def _upper_costs(pair_costs):
    """Square matrix with the pair costs above the diagonal and +inf elsewhere."""
    n = len(pair_costs)
    return np.where(np.triu(np.ones((n, n), dtype=bool), k=1), pair_costs, np.inf)


def _merges_eii(Z):
    """Ward's merges with mclust's arithmetic (``hcEII``)."""
    n = len(Z)
    # v = sqrt(1/2) z_i - sqrt(1/2) z_j, its squared length summed left to right
    left = _SQRT_HALF * Z
    squares = np.zeros((n, n))
    for k in range(Z.shape[1]):
        difference = left[:, k][:, None] + (-_SQRT_HALF) * Z[:, k][None, :]
        squares = squares + difference * difference
    slots = _Slots(_upper_costs(squares))
    sizes = np.ones(n)
    while slots.size > 1:
        i, j, cost = slots.best_pair()
        size_i, size_j = sizes[i], sizes[j]
        size_ij = size_i + size_j
        to_i, to_j = slots.column(i), slots.column(j)
        last = slots.size - 1
        slots.merge(i, j, cost)
        if slots.size == 1:
            break
        # the slots after the merge, and where each was before it
        before = np.arange(slots.size)
        if j < slots.size:
            before[j] = last
        size_k = sizes[before]
        update = (size_k + size_i) * to_i[before] + (size_k + size_j) * to_j[before]
        update = (update - size_k * cost) / (size_k + size_ij)
        sizes[j] = sizes[last]
        sizes[i] = size_ij
        slots.set_row(i, update)
    return slots.merges, slots.merge_costs


def _vvv_terms(counts, traces, scatters, alpha, beta, n_features):
    """The terms t of merged clusters of ``counts`` points (arrays over candidates)."""
    trace_form = counts * np.log(beta * (traces + alpha) / counts)
    terms = trace_form.copy()
    large = counts > n_features
    if np.any(large):
        sign, log_det = np.linalg.slogdet(scatters[large])
        counts_large = counts[large]
        log_det = np.where(
            sign > 0, log_det - n_features * np.log(counts_large), -np.inf
        )
        log_trace = np.log(beta * (traces[large] + alpha) / counts_large)
        terms[large] = np.where(
            traces[large] == 0,
            counts_large * np.log(alpha * beta / counts_large),
            counts_large * np.logaddexp(log_det, log_trace),
        )
    return terms


def _merges_vvv(Z, alpha, beta):
    """Banfield and Raftery's VVV merges with mclust's regularisation (``hcVVV``)."""
    n, n_features = Z.shape
    ab_log = np.log(beta * alpha)
    # two single points: t = 2 log(beta (tr + alpha) / 2), tr = |(z_i - z_j)/sqrt 2|^2
    traces = np.zeros((n, n))
    for k in range(n_features):
        difference = (Z[:, k][:, None] - Z[:, k][None, :]) * _SQRT_HALF
        traces = traces + difference * difference
    pair_costs = 2.0 * np.log(beta * (traces + alpha) / 2.0) - (ab_log + ab_log)
    slots = _Slots(_upper_costs(pair_costs))
    counts = np.ones(n)
    means = Z.copy()
    scatters = np.zeros((n, n_features, n_features))
    cluster_traces = np.zeros(n)
    terms = np.full(n, ab_log)
    newest = None  # the slot of the last merged cluster
    while slots.size > 1:
        i, j, cost = slots.best_pair()
        count = counts[i] + counts[j]
        delta = means[i] - means[j]
        weight = counts[i] * counts[j] / count
        mean = (counts[i] * means[i] + counts[j] * means[j]) / count
        scatter = scatters[i] + scatters[j] + weight * np.outer(delta, delta)
        if count == 2:
            trace = traces[slots.labels[i], slots.labels[j]]
            term = 2.0 * np.log(beta * (trace + alpha) / 2.0)
        else:
            trace = (cluster_traces[i] + cluster_traces[j]) + weight * (delta @ delta)
            term = _vvv_terms(
                np.array([count]),
                np.array([trace]),
                scatter[None],
                alpha,
                beta,
                n_features,
            )[0]
        if newest is not None and newest not in (i, j):
            # a pair whose cost was not computed in the last step: mclust
            # takes its term as the cost plus the two old terms
            term = cost + (terms[i] + terms[j])
        last = slots.size - 1
        slots.merge(i, j, cost)
        for array in (counts, means, scatters, cluster_traces, terms):
            array[j] = array[last]
        counts[i], means[i], scatters[i] = count, mean, scatter
        cluster_traces[i], terms[i] = trace, term
        newest = i
        size = slots.size
        if size == 1:
            break
        others = counts[:size]
        merged_counts = others + count
        weights = others * count / merged_counts
        deltas = means[:size] - mean
        merged_traces = (
            trace + cluster_traces[:size] + weights * _sequential_row_sums(deltas**2)
        )
        merged_scatters = (
            scatter
            + scatters[:size]
            + weights[:, None, None] * deltas[:, :, None] * deltas[:, None, :]
        )
        merged_terms = _vvv_terms(
            merged_counts, merged_traces, merged_scatters, alpha, beta, n_features
        )
        slots.set_row(i, merged_terms - (term + terms[:size]))
    return slots.merges, slots.merge_costs


def hierarchical_merges(Z, model="VVV", alpha=None, beta=1.0):
    """The merges of model-based agglomerative hierarchical clustering, as mclust's ``hc``.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_features)
        The data as clustered: :func:`svd_transform` gives mclust's default.
    model : {'VVV', 'EII'}, default='VVV'
        The merge criterion (see the module's description).
    alpha : float, optional
        VVV's regularisation :math:`\\alpha`; default :func:`vvv_alpha` of Z,
        as mclust's ``hcVVV`` with its default ``alpha = 1``.
    beta : float, default=1.0
        VVV's :math:`\\beta` (mclust's default).

    Returns
    -------
    merges : ndarray of shape (n_samples - 1, 2), int
        Row s: the labels (smallest sample index, 0-based) of the two clusters
        merged at step s, smaller first. mclust's ``hc()`` returns the same
        pairs plus one, transposed.
    costs : ndarray of shape (n_samples - 1,)
        The cost :math:`\\Delta` of each merge.
    """
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or len(Z) < 2:
        raise ValueError(
            f"hierarchical clustering needs a 2-D array of at least 2 rows; got shape {Z.shape}."
        )
    if model == "EII":
        return _merges_eii(Z)
    if model != "VVV":
        raise ValueError(f"model must be one of {MODELS}; got {model!r}.")
    alpha = vvv_alpha(Z) if alpha is None else max(alpha, np.finfo(np.float64).eps)
    return _merges_vvv(Z, alpha, beta)


def partition(merges, n_clusters):
    """The classes left after all but ``n_clusters - 1`` merges, as mclust's ``hclass``.

    Parameters
    ----------
    merges : ndarray of shape (n_samples - 1, 2)
        From :func:`hierarchical_merges`.
    n_clusters : int
        Between 1 and n_samples.

    Returns
    -------
    labels : ndarray of shape (n_samples,), int
        Classes 0 .. n_clusters - 1, numbered in the order of their first sample
        (mclust's ``partconv``), so class k is mclust's class k + 1.
    """
    n_samples = len(merges) + 1
    if not 1 <= n_clusters <= n_samples:
        raise ValueError(
            f"n_clusters must be between 1 and {n_samples}; got {n_clusters}."
        )
    labels = np.arange(n_samples)
    for smaller, larger in merges[: n_samples - n_clusters]:
        labels[labels == larger] = smaller
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse]


def default_model(n_samples, n_features):
    """mclust's choice: 'VVV' (``mclust.options("hcModelName")``), 'EII' when n <= d."""
    return "VVV" if n_samples > n_features else "EII"


def hierarchical_labels(X, n_clusters, model=None):
    """mclust's default start on all of X: ``hclass(hc(X, use = "SVD"), G)``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_clusters : int
    model : {'VVV', 'EII'}, optional
        Default :func:`default_model`.

    Returns
    -------
    labels : ndarray of shape (n_samples,), int
        As :func:`partition` numbers them.

    Notes
    -----
    The merges do not depend on ``n_clusters``: those of the last
    :data:`MERGES_CACHE_SIZE` data sets are kept, keyed on a digest of the
    data, so a grid over the number of components clusters its data once,
    as mclust's ``Mclust`` does.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    if model is None:
        model = default_model(*X.shape)
    key = (hashlib.blake2b(X.tobytes()).hexdigest(), X.shape, model)
    if key in _MERGES_CACHE:
        _MERGES_CACHE.move_to_end(key)
    else:
        _MERGES_CACHE[key] = hierarchical_merges(svd_transform(X), model)[0]
        if len(_MERGES_CACHE) > MERGES_CACHE_SIZE:
            _MERGES_CACHE.popitem(last=False)
    return partition(_MERGES_CACHE[key], n_clusters)


def hierarchical_subset(n_samples, random_state, subset_rows=SUBSET_ROWS):
    """The rows clustered: all of them, or ``subset_rows`` drawn without replacement.

    Parameters
    ----------
    n_samples : int
    random_state : numpy.random.RandomState
        Used only when ``n_samples > subset_rows``.
    subset_rows : int, default=SUBSET_ROWS

    Returns
    -------
    rows : ndarray of shape (min(n_samples, subset_rows),), int
        Sorted row indices.
    """
    if n_samples <= subset_rows:
        return np.arange(n_samples)
    return np.sort(random_state.choice(n_samples, size=subset_rows, replace=False))


def hierarchical_responsibilities(
    X, n_components, random_state, subset_rows=SUBSET_ROWS, model=None
):
    """One-hot starting responsibilities from mclust's hierarchical start.

    Rows outside the clustered subset (:func:`hierarchical_subset`) get zero
    responsibilities, so the M-step that follows uses the subset only, as
    ``Mclust`` does; EM then runs on all the rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_components : int
    random_state : numpy.random.RandomState
    subset_rows : int, default=SUBSET_ROWS
    model : {'VVV', 'EII'}, optional
        Default :func:`default_model` of the subset's shape.

    Returns
    -------
    resp : ndarray of shape (n_samples, n_components)
    """
    rows = hierarchical_subset(len(X), random_state, subset_rows)
    if len(rows) < n_components:
        raise ValueError(
            f"hierarchical start: {len(rows)} rows cannot make {n_components} classes."
        )
    labels = hierarchical_labels(X[rows], n_components, model)
    resp = np.zeros((len(X), n_components), dtype=X.dtype)
    resp[rows, labels] = 1
    return resp
