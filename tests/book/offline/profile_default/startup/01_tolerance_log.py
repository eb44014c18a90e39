"""IPython start-up file: with GMM_TOLERANCE_LOG set, log each assert_allclose's margin.

``make check-numerics`` sets it when it executes the chapters; see tests/tolerance_log.py.
"""

import os
import sys

if os.environ.get("GMM_TOLERANCE_LOG"):
    sys.path.insert(0, os.path.join(os.environ["IPYTHONDIR"], os.pardir, os.pardir))
    import tolerance_log

    tolerance_log.install()
    del sys.path[0]
