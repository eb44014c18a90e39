"""How close each ``assert_allclose`` comes to failing, gathered by ``make check-numerics``.

With the environment variable ``GMM_TOLERANCE_LOG`` set to a file name,
:func:`install` wraps :func:`numpy.testing.assert_allclose` (tests/conftest.py
calls it in every pytest process, the IPython start-up file
``01_tolerance_log.py`` in every chapter kernel). Each call then appends one JSON
line to that file before the real assertion runs::

    {"site": "tests/library/test_em_steps.py:95", "ratio": 0.003, "rtol": 1e-10, "atol": 0.0}

where ``ratio`` is the worst element's error over the allowed error,

.. math:: \\max_i \\frac{|a_i - d_i|}{\\mathrm{atol} + \\mathrm{rtol}\\,|d_i|},

so 1 is the edge of failing and 0.1 leaves a margin of ten. The one-sided checks
of ``tests/bounds.py`` log their slack the same way (:func:`log_margin`). The site is the file
and line of the call; in a chapter kernel, the chapter named by
``GMM_TOLERANCE_SOURCE`` and the text of the line. ``tests/numerics_matrix.py``
reads the lines of every run and prints, for each site, the largest ratio seen
across kernels, thread counts and block sizes. Without ``GMM_TOLERANCE_LOG``
nothing is wrapped.
"""

import json
import linecache
import os
import sys

import numpy as np
import numpy.testing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worst_ratio(actual, desired, rtol, atol):
    """Largest :math:`|a - d| / (\\mathrm{atol} + \\mathrm{rtol} |d|)` over the elements.

    Elements equal in value (infinities and NaNs included, as ``assert_allclose``
    treats them) count 0; an unequal element allowed no error counts ``inf``.
    """
    actual, desired = np.broadcast_arrays(
        np.asarray(actual, dtype=float), np.asarray(desired, dtype=float)
    )
    equal = (actual == desired) | (np.isnan(actual) & np.isnan(desired))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ratio = np.abs(actual - desired) / (atol + rtol * np.abs(desired))
    ratio = np.where(equal, 0.0, np.nan_to_num(ratio, nan=np.inf))
    return float(ratio.max(initial=0.0))


def call_site(frame):
    """``path:line`` of a test, or ``chapter: source line`` in a chapter kernel."""
    chapter = os.environ.get("GMM_TOLERANCE_SOURCE")
    filename, lineno = frame.f_code.co_filename, frame.f_lineno
    if chapter:
        return f"{chapter}: {linecache.getline(filename, lineno).strip()}"
    return f"{os.path.relpath(filename, ROOT)}:{lineno}"


def log_margin(frame, ratio, rtol, atol):
    """Append one line for the check called at ``frame``, if ``GMM_TOLERANCE_LOG`` is set."""
    path = os.environ.get("GMM_TOLERANCE_LOG")
    if path:
        line = json.dumps(
            {
                "site": call_site(frame),
                "ratio": ratio,
                "rtol": float(np.max(rtol)),
                "atol": float(np.max(atol)),
            }
        )
        with open(path, "a") as log:  # one short line per write: appends do not mix
            log.write(line + "\n")


def install():
    """Wrap ``numpy.testing.assert_allclose`` when ``GMM_TOLERANCE_LOG`` is set."""
    path = os.environ.get("GMM_TOLERANCE_LOG")
    if not path or getattr(numpy.testing.assert_allclose, "logs_tolerance", False):
        return
    original = numpy.testing.assert_allclose

    def assert_allclose(actual, desired, rtol=1e-7, atol=0, *args, **kwargs):
        __tracebackhide__ = True  # pytest shows the caller's line, not this wrapper's
        try:
            ratio = worst_ratio(actual, desired, rtol, atol)
        except (TypeError, ValueError):  # not numbers: the real assertion will say so
            ratio = None
        caller = sys._getframe(1)
        # Calls from installed packages (scikit-learn's estimator checks) are theirs.
        if ratio is not None and "site-packages" not in caller.f_code.co_filename:
            log_margin(caller, ratio, rtol, atol)
        return original(actual, desired, rtol, atol, *args, **kwargs)

    assert_allclose.logs_tolerance = True
    numpy.testing.assert_allclose = assert_allclose
