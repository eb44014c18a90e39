"""Shared by every test: each assert_allclose logs its margin when make check-numerics asks.

The library's fixtures are in tests/library/conftest.py; ``bounds`` and ``tolerance_log``,
here in tests/, are importable from both folders because this file's folder is on the path.
"""

from tolerance_log import install as log_tolerances

log_tolerances()  # only when GMM_TOLERANCE_LOG is set (make check-numerics)
