r"""Drawing Gaussian components as ellipses.

A component :math:`\mathcal{N}(\mu, \Sigma)` in the plane is drawn as the
ellipse of points at Mahalanobis distance ``scale`` from its mean,

.. math:: \{x : (x - \mu)^\top \Sigma^{-1} (x - \mu) = s^2\}.

With the eigendecomposition :math:`\Sigma = \sum_i \lambda_i v_i v_i^\top` its
semi-axes point along :math:`v_i` and have lengths :math:`s \sqrt{\lambda_i}`. In
two dimensions it encloses probability :math:`1 - e^{-s^2/2}` of the component
(0.39 for :math:`s = 1`, 0.86 for :math:`s = 2`). Chapter "scikit-learn in
practice" uses it to compare the four covariance types.

:func:`animation_html` turns a matplotlib animation into a player that works
without a network, for the animations of EM in chapters "General EM and why it
climbs", "The free-energy view" and "k-means as hard EM".
"""

import hashlib
import re

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


# The icons of matplotlib's player (Font Awesome 4 names, in the order of its
# buttons) and the text that replaces each.
PLAYER_SYMBOLS = {
    "fa-minus": "\u2212",  # decrease speed: minus sign
    "fa-fast-backward": "\u21e4",  # first frame: leftwards arrow to bar
    "fa-step-backward": "\u25c1",  # previous frame: white left triangle
    "fa-play fa-flip-horizontal": "\u25c0",  # play backwards: black left triangle
    "fa-pause": "\u2016",  # pause: double vertical line
    "fa-play": "\u25b6",  # play: black right triangle
    "fa-step-forward": "\u25b7",  # next frame: white right triangle
    "fa-fast-forward": "\u21e5",  # last frame: rightwards arrow to bar
    "fa-plus": "+",  # increase speed
}

# Lets the player shrink to a narrow column (a phone): matplotlib gives its slider
# a fixed width of 374 pixels, and its image keeps the figure's width.
NARROW_COLUMN_STYLE = """<style>
.animation { max-width: 100%; }
.animation img { max-width: 100%; height: auto; }
input[type=range].anim-slider { max-width: 100%; }
</style>
"""


def animation_html(animation, **options):
    """A matplotlib animation as a self-contained HTML player.

    The player is the one of :meth:`matplotlib.animation.Animation.to_jshtml`
    (every frame embedded as a PNG, a slider and buttons), changed in three
    ways. Its buttons show text symbols instead of Font Awesome icons, and the
    link to Font Awesome's style sheet on a content delivery network is
    dropped, so the player needs no network, in a notebook or on a static site.
    Its image and slider shrink to fit a column narrower than the figure. And
    its element ids, random in matplotlib, are derived from the frames, so the
    same animation gives the same HTML on every run (notebook outputs can then
    be compared between runs).

    Parameters
    ----------
    animation : matplotlib.animation.Animation
    **options
        Passed to ``to_jshtml`` (``fps``, ``embed_frames``, ``default_mode``).

    Returns
    -------
    html : str
        Show it in a notebook with ``IPython.display.HTML(html)``.
    """
    html = animation.to_jshtml(**options)
    random_id = re.search(r'id="_anim_img(\w+)"', html).group(1)
    html = re.sub(r"<link[^>]*font-awesome[^>]*>\s*", "", html)
    for icon, symbol in PLAYER_SYMBOLS.items():
        html = html.replace(f'<i class="fa {icon}"></i>', symbol)
    html = NARROW_COLUMN_STYLE + html
    stable_id = hashlib.sha256(html.replace(random_id, "").encode()).hexdigest()
    return html.replace(random_id, stable_id[:32])
