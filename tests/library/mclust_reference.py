"""R's mclust as a second reference: small R scripts run by Rscript, data passed as files.

``make mclust`` installs Debian's r-base-core and r-cran-mclust when they are
missing, and ``.ci/run`` calls it, so in CI these comparisons always run; on a
machine without R they are skipped (:data:`requires_mclust`).

:func:`run_mclust` writes each input array to a CSV file (17 significant
digits, so every float64 survives exactly), runs the R code with
``library(mclust)`` loaded and each input bound to a numeric matrix of the same
name, and reads back what the code passed to ``out(name, value)``.
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

RSCRIPT = shutil.which("Rscript")


def _has_mclust():
    if RSCRIPT is None:
        return False
    check = subprocess.run(
        [RSCRIPT, "-e", "quit(status = !requireNamespace('mclust', quietly = TRUE))"],
        capture_output=True,
        check=False,  # the status is the answer
    )
    return check.returncode == 0


MCLUST_AVAILABLE = _has_mclust()
requires_mclust = pytest.mark.skipif(
    not MCLUST_AVAILABLE, reason="R's mclust is not installed (make mclust)"
)

PRELUDE = r"""
suppressMessages(library(mclust))
.dir <- commandArgs(trailingOnly = TRUE)[1]
.read <- function(name) {
  as.matrix(read.csv(file.path(.dir, paste0(name, ".csv")), header = FALSE))
}
out <- function(name, value) {
  m <- as.matrix(value)
  storage.mode(m) <- "double"
  m[is.na(m)] <- NaN  # NA (a cell mclust could not fit) is read back as NaN
  lines <- apply(m, 1, function(row) paste(sprintf("%.17g", row), collapse = ","))
  writeLines(lines, file.path(.dir, paste0("out_", name, ".csv")))
}
"""


def run_mclust(code, **inputs):
    """Run R code with mclust loaded; return the arrays it passed to ``out``.

    Parameters
    ----------
    code : str
        R code. Each keyword of ``inputs`` is a numeric matrix of that name;
        ``out(name, value)`` returns ``value`` (coerced to a double matrix).
    **inputs : array-like
        1-D arrays become one-column matrices.

    Returns
    -------
    dict of str to ndarray of shape (n_rows, n_columns)
        Float64, exactly as R held them.
    """
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        bind = []
        for name, value in inputs.items():
            array = np.asarray(value, dtype=np.float64)
            np.savetxt(
                folder / f"{name}.csv",
                array.reshape(len(array), -1),
                delimiter=",",
                fmt="%.17g",
            )
            bind.append(f'{name} <- .read("{name}")')
        script = folder / "script.R"
        script.write_text(PRELUDE + "\n".join(bind) + "\n" + code + "\n")
        run = subprocess.run(
            [RSCRIPT, "--vanilla", str(script), str(folder)],
            capture_output=True,
            text=True,
            check=False,  # R's own message is more useful than the status
        )
        if run.returncode != 0:
            raise RuntimeError(f"Rscript failed:\n{run.stderr}")
        return {
            path.stem[len("out_") :]: np.loadtxt(path, delimiter=",", ndmin=2)
            for path in folder.glob("out_*.csv")
        }
