"""One-sided checks with a tolerance: "never decreases, up to rounding".

``assert_allclose`` checks ``|actual - desired| <= atol + rtol |desired|``;
:func:`assert_not_less` checks only the side that matters for a monotone
quantity (a log-likelihood that EM never lowers, an inertia that Lloyd's
algorithm never raises)::

    actual >= desired - (atol + rtol |desired|)

With ``GMM_TOLERANCE_LOG`` set (``make check-numerics``) each call appends its
margin to that file in the format of ``tolerance_log.py``: ``ratio`` is the
largest shortfall ``desired - actual`` over the allowed slack (0 when ``actual``
is never below ``desired``), so the numerics matrix lists these slacks beside the
``assert_allclose`` tolerances.
"""

import sys

import numpy as np
from tolerance_log import log_margin


def shortfall_ratio(actual, desired, rtol, atol):
    """Largest :math:`(d - a) / (\\mathrm{atol} + \\mathrm{rtol}|d|)`, at least 0."""
    actual, desired = np.broadcast_arrays(
        np.asarray(actual, dtype=float), np.asarray(desired, dtype=float)
    )
    shortfall = desired - actual
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = shortfall / (atol + rtol * np.abs(desired))
    ratio = np.where(shortfall <= 0, 0.0, np.nan_to_num(ratio, nan=np.inf))
    return float(ratio.max(initial=0.0))


def _check(actual, desired, rtol, atol, what):
    """Log the margin (for the caller of the public function) and assert it."""
    __tracebackhide__ = True
    ratio = shortfall_ratio(actual, desired, rtol, atol)
    log_margin(sys._getframe(2), ratio, rtol, atol)
    rtol, atol = float(np.max(rtol)), float(np.max(atol))  # arrays: the largest
    assert ratio <= 1.0, (
        f"{what} by up to {ratio:.3g} times the allowed slack "
        f"(rtol={rtol:g}, atol={atol:g})"
    )


def assert_not_less(actual, desired, rtol=0.0, atol=0.0, err_msg=""):
    """Assert ``actual >= desired - (atol + rtol |desired|)`` element-wise."""
    __tracebackhide__ = True  # pytest shows the caller's line
    _check(
        actual, desired, rtol, atol, f"{err_msg} values fall below the bound".strip()
    )


def assert_never_decreases(values, rtol=0.0, atol=0.0, err_msg=""):
    """Assert that each value is at least the one before it, up to the slack."""
    __tracebackhide__ = True
    values = np.asarray(values, dtype=float)
    _check(
        values[1:],
        values[:-1],
        rtol,
        atol,
        f"{err_msg} a value falls below the one before it".strip(),
    )


def assert_never_increases(values, rtol=0.0, atol=0.0, err_msg=""):
    """Assert that each value is at most the one before it, up to the slack."""
    __tracebackhide__ = True
    values = -np.asarray(values, dtype=float)
    _check(
        values[1:],
        values[:-1],
        rtol,
        atol,
        f"{err_msg} a value rises above the one before it".strip(),
    )
