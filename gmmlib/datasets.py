"""Seeded data sets for the chapters and the tests, and small public data sets.

Every generator takes ``random_state`` (an int, a ``numpy.random.Generator``
or ``None``) so that a chapter that calls it twice gets the same data twice.
:func:`load_old_faithful` reads a copy of R's ``faithful``,
:func:`load_mclust_dataset` copies of three of R mclust's data sets and
:func:`load_mclust_bic` mclust's model grid on five data sets, all shipped
with gmmlib so that chapters and tests run offline.
"""

from importlib.resources import files

import numpy as np


def _rng(random_state):
    return np.random.default_rng(random_state)


def sample_two_gaussians(
    n_samples, pi=0.4, mu0=-1.0, sigma0=0.8, mu1=2.0, sigma1=1.2, random_state=None
):
    r"""Draw from the one-dimensional two-component mixture of chapter 1.

    The generative story: :math:`z_n \sim \mathrm{Bernoulli}(\pi)`, then
    :math:`y_n \mid z_n = j \sim \mathcal{N}(\mu_j, \sigma_j^2)`.

    Parameters
    ----------
    n_samples : int
        Number of draws.
    pi : float, default=0.4
        Probability that a draw comes from component 1.
    mu0, sigma0, mu1, sigma1 : float
        Means and standard deviations of components 0 and 1.
    random_state : int, numpy.random.Generator or None
        Seed or generator.

    Returns
    -------
    y : ndarray of shape (n_samples,)
        The observations.
    z : ndarray of shape (n_samples,)
        The hidden labels (0 or 1).
    """
    rng = _rng(random_state)
    z = (rng.random(n_samples) < pi).astype(int)
    y = np.where(
        z == 1, rng.normal(mu1, sigma1, n_samples), rng.normal(mu0, sigma0, n_samples)
    )
    return y, z


def make_mixture(n_samples, weights, means, covariances, random_state=None):
    """Draw from a Gaussian mixture with full covariance matrices.

    Parameters
    ----------
    n_samples : int
        Number of draws.
    weights : array-like of shape (n_components,)
        Mixing weights, summing to one.
    means : array-like of shape (n_components, n_features)
        Component means.
    covariances : array-like of shape (n_components, n_features, n_features)
        Component covariance matrices.
    random_state : int, numpy.random.Generator or None
        Seed or generator.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The draws, in random order.
    labels : ndarray of shape (n_samples,)
        The component each draw came from.
    """
    rng = _rng(random_state)
    weights = np.asarray(weights, dtype=float)
    means = np.asarray(means, dtype=float)
    covariances = np.asarray(covariances, dtype=float)
    labels = rng.choice(len(weights), size=n_samples, p=weights)
    noise = rng.standard_normal((n_samples, means.shape[1]))
    factors = np.linalg.cholesky(covariances)
    X = means[labels] + np.einsum("nij,nj->ni", factors[labels], noise)
    return X, labels


def make_blobs_mixture(
    n_samples=600, n_components=3, n_features=2, separation=4.0, random_state=None
):
    """Draw a mixture with random means and random correlated covariances.

    ``separation`` scales the spread of the means relative to the unit-size
    components: about 4 gives well separated clusters, about 1 overlapping ones.

    Parameters
    ----------
    n_samples : int, default=600
        Number of draws.
    n_components : int, default=3
        Number of components.
    n_features : int, default=2
        Dimension of the data.
    separation : float, default=4.0
        Standard deviation of the component means.
    random_state : int, numpy.random.Generator or None
        Seed or generator.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The draws.
    labels : ndarray of shape (n_samples,)
        The component each draw came from.
    """
    rng = _rng(random_state)
    weights = rng.dirichlet(np.full(n_components, 5.0))
    means = separation * rng.standard_normal((n_components, n_features))
    factors = rng.standard_normal((n_components, n_features, n_features)) / np.sqrt(
        n_features
    )
    covariances = factors @ factors.transpose(0, 2, 1) + 0.3 * np.eye(n_features)
    return make_mixture(n_samples, weights, means, covariances, rng)


def make_mixture_with_outliers(
    n_samples=600,
    n_outliers=30,
    n_components=3,
    n_features=2,
    separation=4.0,
    box_scale=2.0,
    random_state=None,
):
    """A mixture with planted anomalies: uniform draws on a wide box.

    The inliers come from :func:`make_blobs_mixture`. The outliers are uniform
    on the bounding box of the inliers enlarged ``box_scale`` times about its
    centre, so most land in regions the mixture gives low density, but some
    fall among the inliers and cannot be told apart from them. Used by the
    chapter "Anomaly detection".

    Parameters
    ----------
    n_samples : int, default=600
        Number of inliers.
    n_outliers : int, default=30
        Number of planted anomalies.
    n_components, n_features, separation
        Passed to :func:`make_blobs_mixture`.
    box_scale : float, default=2.0
        Side lengths of the outliers' box relative to the inliers' bounding box.
    random_state : int, numpy.random.Generator or None
        Seed or generator.

    Returns
    -------
    X : ndarray of shape (n_samples + n_outliers, n_features)
        Inliers and outliers, in random order.
    is_outlier : ndarray of shape (n_samples + n_outliers,), dtype bool
        True for the planted anomalies.
    """
    rng = _rng(random_state)
    inliers, _ = make_blobs_mixture(
        n_samples, n_components, n_features, separation, rng
    )
    low, high = inliers.min(axis=0), inliers.max(axis=0)
    centre, half_width = (low + high) / 2, box_scale * (high - low) / 2
    outliers = rng.uniform(
        centre - half_width, centre + half_width, size=(n_outliers, n_features)
    )
    order = rng.permutation(n_samples + n_outliers)
    X = np.concatenate([inliers, outliers])[order]
    is_outlier = (np.arange(n_samples + n_outliers) >= n_samples)[order]
    return X, is_outlier


def remove_at_random(X, missing_fraction, random_state=None):
    """Hide entries of X completely at random, keeping one value in every row.

    Each entry is replaced by NaN with probability ``missing_fraction``,
    independently of everything else; a row that loses all its values gets one
    of them back, chosen at random. Whether a value is missing never depends on
    the data, so the result is missing completely at random. Used by the chapter
    "EM with missing values".

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Complete data (not modified).
    missing_fraction : float in [0, 1)
        Probability that an entry is hidden.
    random_state : int, numpy.random.Generator or None
        Seed or generator.

    Returns
    -------
    X_missing : ndarray of shape (n_samples, n_features)
        A copy of X with NaN for the hidden entries.
    """
    rng = _rng(random_state)
    X_missing = np.array(X, dtype=float)
    n_samples, n_features = X_missing.shape
    missing = rng.random((n_samples, n_features)) < missing_fraction
    empty = np.flatnonzero(missing.all(axis=1))
    missing[empty, rng.integers(n_features, size=empty.size)] = False
    X_missing[missing] = np.nan
    return X_missing


def load_old_faithful():
    """The Old Faithful geyser data: 272 eruptions, two features.

    R's ``datasets::faithful`` (Azzalini and Bowman 1990; Härdle 1991), shipped
    with gmmlib as ``gmmlib/data/old_faithful.csv`` so that chapters and tests
    run offline. A standard test case for mixtures: two clusters, long and
    short eruptions, and slow EM convergence with three or more components.

    Returns
    -------
    X : ndarray of shape (272, 2)
        Column 0: eruption time in minutes; column 1: waiting time to the next
        eruption in minutes.
    """
    path = files("gmmlib") / "data" / "old_faithful.csv"
    return np.loadtxt(path, delimiter=",", skiprows=1)


#: The data sets of R's mclust 6.0 shipped with gmmlib, by name: the label
#: column of the file (None when there is none).
MCLUST_DATASETS = {"diabetes": "class", "banknote": "Status", "wreath": None}


def load_mclust_dataset(name, return_labels=False):
    """One of R mclust's data sets, without its label column.

    Copies of mclust 6.0's ``diabetes``, ``banknote`` and ``wreath``, exactly
    as R holds them (written with 17 significant digits), shipped as
    ``gmmlib/data/<name>.csv``. With R's ``faithful``
    (:func:`load_old_faithful`) and ``iris`` they are the data on which
    gmmlib's starts and model grids are compared with mclust's (chapter
    "Where EM starts").

    Parameters
    ----------
    name : {'diabetes', 'banknote', 'wreath'}
        'diabetes': glucose, insulin and SSPG of 145 adults, in classes
        Chemical, Normal and Overt diabetes (Reaven and Miller 1979).
        'banknote': six measurements (mm) of 200 Swiss bank notes, genuine
        or counterfeit (Flury and Riedwyl 1988). 'wreath': 1,000 points
        simulated from 14 Gaussian clusters of one size and shape, turned to
        different orientations around a ring (Fraley and Raftery 2002).
    return_labels : bool, default=False
        Also return the known classes (diabetes and banknote only).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        diabetes: (145, 3), glucose, insulin and sspg; banknote: (200, 6),
        Length, Left, Right, Bottom, Top, Diagonal; wreath: (1000, 2).
    labels : ndarray of str of shape (n_samples,)
        Only with ``return_labels=True``.
    """
    if name not in MCLUST_DATASETS:
        raise ValueError(f"name must be one of {sorted(MCLUST_DATASETS)}, got {name!r}")
    label_column = MCLUST_DATASETS[name]
    if return_labels and label_column is None:
        raise ValueError(f"the {name} data set has no labels")
    path = files("gmmlib") / "data" / f"{name}.csv"
    table = np.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding="utf-8")
    columns = [column for column in table.dtype.names if column != label_column]
    X = np.column_stack([table[column].astype(np.float64) for column in columns])
    if return_labels:
        return X, table[label_column].astype(str)
    return X


#: Fields of :func:`load_mclust_bic`'s table, as in
#: the table of :class:`gmmlib.model_selection.ModelGrid`.
MCLUST_BIC_DTYPE = np.dtype(
    [
        ("n_components", np.int64),
        ("covariance_type", "U9"),
        ("log_likelihood", np.float64),
        ("bic", np.float64),
    ]
)


def load_mclust_bic(name):
    r"""R mclust 6.0's model grid on one of its data sets, for comparison.

    What ``mclustBIC(X, G = 1:9, modelNames = c("VVV", "EEE", "VVI",
    "VII"))`` computes (mclust's hierarchical start, then EM to its default
    tolerance), shipped as ``gmmlib/data/mclust_bic.csv`` so that chapters
    compare gmmlib's grid with mclust's offline. The test suite recomputes it
    with R's mclust (``tests/library/test_mclust.py``).

    Parameters
    ----------
    name : {'faithful', 'iris', 'diabetes', 'banknote', 'wreath'}
        R's ``faithful`` (:func:`load_old_faithful`), ``iris[, 1:4]``
        (scikit-learn's ``load_iris().data``) and the data sets of
        :func:`load_mclust_dataset`.

    Returns
    -------
    table : structured ndarray of shape (36,)
        Fields ``n_components`` (1 to 9), ``covariance_type`` (gmmlib's
        names for mclust's VVV, EEE, VVI and VII: 'full', 'tied', 'diag',
        'spherical'), ``log_likelihood`` (total) and ``bic`` in gmmlib's
        convention (:math:`-2 \log L + p \log n`, lower is better: minus
        mclust's). NaN where mclust could not fit the cell.
    """
    path = files("gmmlib") / "data" / "mclust_bic.csv"
    table = np.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding="utf-8")
    if name not in set(table["dataset"]):
        raise ValueError(
            f"name must be one of {sorted(set(table['dataset']))}, got {name!r}"
        )
    rows = table[table["dataset"] == name]
    result = np.empty(len(rows), dtype=MCLUST_BIC_DTYPE)
    for field in MCLUST_BIC_DTYPE.names:
        result[field] = rows[field]
    return result
