r"""Drawing Gaussian components as ellipses.

A component :math:`\mathcal{N}(\mu, \Sigma)` in the plane is drawn as the
ellipse of points at Mahalanobis distance ``scale`` from its mean,

.. math:: \{x : (x - \mu)^\top \Sigma^{-1} (x - \mu) = s^2\}.

With the eigendecomposition :math:`\Sigma = \sum_i \lambda_i v_i v_i^\top` its
semi-axes point along :math:`v_i` and have lengths :math:`s \sqrt{\lambda_i}`. In
two dimensions it encloses probability :math:`1 - e^{-s^2/2}` of the component
(0.39 for :math:`s = 1`, 0.86 for :math:`s = 2`). Chapter "scikit-learn in
practice" uses it to compare the four covariance types.
"""

import numpy as np

from .covariance import full_covariances


def ellipse_geometry(covariance, scale=2.0):
    r"""Width, height and angle of the ellipse of a 2 x 2 covariance matrix.

    Parameters
    ----------
    covariance : array-like of shape (2, 2)
        Symmetric positive definite matrix :math:`\Sigma`.
    scale : float, default=2.0
        Mahalanobis radius :math:`s` of the ellipse.

    Returns
    -------
    width : float
        Length of the major axis, :math:`2 s \sqrt{\lambda_{\max}}`.
    height : float
        Length of the minor axis, :math:`2 s \sqrt{\lambda_{\min}}`.
    angle : float
        Angle of the major axis from the first coordinate axis, in degrees,
        in (-90, 90].
    """
    eigenvalues, eigenvectors = np.linalg.eigh(np.asarray(covariance, dtype=np.float64))
    major = eigenvectors[:, 1]
    angle = np.degrees(np.arctan2(major[1], major[0]))
    if angle <= -90.0:
        angle += 180.0
    elif angle > 90.0:
        angle -= 180.0
    width, height = 2.0 * scale * np.sqrt(eigenvalues[::-1])
    return float(width), float(height), float(angle)


def plot_gaussian_ellipses(
    ax,
    means,
    covariances,
    covariance_type="full",
    scale=2.0,
    features=(0, 1),
    colors=None,
    **kwargs,
):
    """Draw one ellipse per mixture component on a matplotlib axes.

    Works for the four covariance types in scikit-learn's layout, so the
    fitted attributes of :class:`gmmlib.GaussianMixture` or
    :class:`sklearn.mixture.GaussianMixture` can be passed directly. Data in
    more than two dimensions are shown through two of their coordinates: the
    marginal of a Gaussian on coordinates ``features`` has the corresponding
    sub-vector of the mean and sub-matrix of the covariance.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    means : array-like of shape (n_components, n_features)
    covariances : array-like
        Shape (n_components, n_features, n_features) for 'full',
        (n_features, n_features) for 'tied', (n_components, n_features) for
        'diag' and (n_components,) for 'spherical'.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    scale : float, default=2.0
        Mahalanobis radius of every ellipse (see the module docstring).
    features : pair of int, default=(0, 1)
        The coordinates on the horizontal and vertical axes.
    colors : sequence of colours, optional
        One per component; default: the colour cycle C0, C1, ... (ignored when
        ``color``, ``edgecolor`` or ``facecolor`` is given).
    **kwargs
        Passed to :class:`matplotlib.patches.Ellipse` (e.g. ``fill``, ``lw``, ``alpha``).

    Returns
    -------
    ellipses : list of matplotlib.patches.Ellipse
        The patches added to ``ax``, one per component.
    """
    from matplotlib.patches import Ellipse  # matplotlib is needed only to draw

    means = np.asarray(means, dtype=np.float64)
    n_components, n_features = means.shape
    pair = list(features)
    matrices = full_covariances(covariances, covariance_type, n_components, n_features)[
        :, pair
    ][:, :, pair]
    options = dict(fill=False, lw=2)
    options.update(kwargs)
    ellipses = []
    for k in range(n_components):
        width, height, angle = ellipse_geometry(matrices[k], scale)
        style = dict(options)
        if not {"color", "edgecolor", "facecolor"} & style.keys():
            style["color"] = f"C{k}" if colors is None else colors[k]
        ellipse = Ellipse(means[k, pair], width, height, angle=angle, **style)
        ax.add_patch(ellipse)
        ellipses.append(ellipse)
    return ellipses
