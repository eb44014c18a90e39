"""Ellipse geometry and the animation player of gmmlib.plotting."""

import re

import numpy as np
import pytest
from matplotlib.animation import FuncAnimation
from matplotlib.figure import Figure
from numpy.testing import assert_allclose, assert_array_equal

from gmmlib import GaussianMixture
from gmmlib.covariance import full_covariances
from gmmlib.datasets import make_blobs_mixture
from gmmlib.plotting import (
    PLAYER_SYMBOLS,
    animation_html,
    ellipse_geometry,
    plot_gaussian_ellipses,
)

#: Geometry of one 2 x 2 matrix two ways (eigh against the closed form): a few u
#: times the condition number (<= 18 here). Largest difference seen 1.8e-16.
GEOMETRY_TOL = 1e-12
#: A point of the drawn outline goes through matplotlib's affine transform and
#: back through an inverse covariance: ~10 kappa u = 2e-14 for kappa <~ 20.
#: Largest seen 1.3e-15.
OUTLINE_RTOL = 1e-9


def boundary_points(ellipse):
    """Points of the drawn outline in data coordinates: the patch maps the unit circle."""
    angles = np.linspace(0.0, 2.0 * np.pi, 50)
    unit_circle = np.column_stack([np.cos(angles), np.sin(angles)])
    return ellipse.get_patch_transform().transform(unit_circle)


def mahalanobis(points, mean, covariance):
    diff = points - mean
    return np.sqrt(np.einsum("ni,ij,nj->n", diff, np.linalg.inv(covariance), diff))


@pytest.mark.parametrize(
    "covariance",
    [
        [[4.0, 0.0], [0.0, 1.0]],
        [[1.0, 0.0], [0.0, 4.0]],
        [[2.0, 1.5], [1.5, 2.0]],
        [[2.0, -1.5], [-1.5, 2.0]],
        [[3.0, 0.3], [0.3, 0.2]],
        [[1.0, 0.0], [0.0, 1.0]],
    ],
)
@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_axes_are_scaled_square_roots_of_the_eigenvalues(covariance, scale):
    covariance = np.array(covariance)
    width, height, angle = ellipse_geometry(covariance, scale)
    eigenvalues = np.linalg.eigvalsh(covariance)
    assert_allclose(
        [width / 2, height / 2], scale * np.sqrt(eigenvalues[::-1]), rtol=GEOMETRY_TOL
    )
    assert -90.0 < angle <= 90.0
    # The major axis is an eigenvector of the largest eigenvalue (any direction
    # will do for a multiple of the identity).
    direction = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
    assert_allclose(
        covariance @ direction, eigenvalues[-1] * direction, atol=GEOMETRY_TOL
    )


def test_known_angles():
    assert_allclose(
        ellipse_geometry([[4.0, 0.0], [0.0, 1.0]])[2], 0.0, atol=GEOMETRY_TOL
    )
    assert_allclose(
        ellipse_geometry([[1.0, 0.0], [0.0, 4.0]])[2], 90.0, atol=GEOMETRY_TOL
    )
    assert_allclose(
        ellipse_geometry([[2.0, 1.0], [1.0, 2.0]])[2], 45.0, atol=GEOMETRY_TOL
    )
    assert_allclose(
        ellipse_geometry([[2.0, -1.0], [-1.0, 2.0]])[2], -45.0, atol=GEOMETRY_TOL
    )


def test_outlines_lie_at_the_chosen_mahalanobis_distance(covariance_type):
    X, _ = make_blobs_mixture(400, n_components=3, random_state=0)
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    ax = Figure().add_subplot()
    ellipses = plot_gaussian_ellipses(
        ax, model.means_, model.covariances_, covariance_type, scale=1.5
    )
    assert len(ellipses) == 3 and all(e in ax.patches for e in ellipses)
    covariances = full_covariances(model.covariances_, covariance_type, 3, 2)
    for k, ellipse in enumerate(ellipses):
        assert_array_equal(ellipse.center, model.means_[k])
        assert_allclose(
            mahalanobis(boundary_points(ellipse), model.means_[k], covariances[k]),
            1.5,
            rtol=OUTLINE_RTOL,
        )
    shapes = np.array([(e.width, e.height, e.angle) for e in ellipses])
    if covariance_type == "tied":
        assert_allclose(shapes, np.repeat(shapes[:1], 3, axis=0), rtol=GEOMETRY_TOL)
    if covariance_type == "diag":
        # Axis-aligned: 0 or 90 degrees up to rounding (~1e-14 degrees).
        assert np.all(np.isin(np.round(shapes[:, 2], 9), [0.0, 90.0]))
    if covariance_type == "spherical":
        assert_allclose(shapes[:, 0], shapes[:, 1], rtol=GEOMETRY_TOL)


def test_two_of_several_features_use_the_marginal(covariance_type):
    X, _ = make_blobs_mixture(500, n_components=2, n_features=4, random_state=1)
    model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    ax = Figure().add_subplot()
    ellipses = plot_gaussian_ellipses(
        ax,
        model.means_,
        model.covariances_,
        covariance_type,
        scale=2.0,
        features=(3, 1),
    )
    covariances = full_covariances(model.covariances_, covariance_type, 2, 4)
    for k, ellipse in enumerate(ellipses):
        marginal = covariances[k][np.ix_([3, 1], [3, 1])]
        assert_array_equal(ellipse.center, model.means_[k, [3, 1]])
        assert_allclose(
            mahalanobis(boundary_points(ellipse), model.means_[k, [3, 1]], marginal),
            2.0,
            rtol=OUTLINE_RTOL,
        )


def test_styles_and_colours():
    ax = Figure().add_subplot()
    means, covariances = np.zeros((2, 2)), np.array([1.0, 2.0])
    default = plot_gaussian_ellipses(ax, means, covariances, "spherical")
    assert not default[0].get_fill()
    assert default[0].get_edgecolor() != default[1].get_edgecolor()
    red = plot_gaussian_ellipses(
        ax, means, covariances, "spherical", colors=["red", "red"]
    )
    assert_array_equal(red[0].get_edgecolor(), (1, 0, 0, 1))
    filled = plot_gaussian_ellipses(
        ax, means, covariances, "spherical", fill=True, facecolor="0.5", alpha=0.3
    )
    assert filled[0].get_fill() and filled[0].get_alpha() == 0.3


def moving_point(n_frames, speed=1.0):
    """A small animation: a point moving along a line, one frame per step."""
    fig = Figure(figsize=(2, 2), dpi=40)
    ax = fig.add_subplot()
    ax.set_xlim(0, n_frames)
    (point,) = ax.plot([0], [0], "o")
    return FuncAnimation(
        fig, lambda i: point.set_data([speed * i], [0]), frames=n_frames
    )


def test_animation_html_needs_no_network():
    html = animation_html(moving_point(3), default_mode="once")
    # matplotlib's player links Font Awesome on a CDN and draws its buttons
    # with it; here nothing is fetched and every button shows a symbol.
    assert "<link" not in html and "://" not in html
    assert 'class="fa' not in html
    for symbol in PLAYER_SYMBOLS.values():
        assert f">{symbol}</button>" in html.replace("\n", "").replace(" ", "")
    assert html.count('title="') >= len(PLAYER_SYMBOLS)
    # It shrinks to a narrow column.
    assert ".animation img { max-width: 100%; height: auto; }" in html
    # The frames are embedded, and the player starts in the mode asked for.
    assert html.count("data:image/png;base64,") == 3
    assert re.search(r'value="once"[^>]*\s+checked', html)


def test_animation_html_is_the_same_on_every_run():
    first = animation_html(moving_point(3))
    assert animation_html(moving_point(3)) == first
    (image_id,) = re.findall(r'<img id="(_anim_img\w+)"', first)
    # The id is used by the player's script, and another animation has
    # another one.
    assert first.count(image_id) == 2
    other = animation_html(moving_point(3, speed=0.5))
    assert image_id not in other
