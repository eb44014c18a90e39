"""gmmlib.datasets: the copies of R mclust's data sets shipped with gmmlib.

The counts and rows below were read from the CSV files and from R's mclust
6.0 (``table(diabetes$class)``, ``table(banknote$Status)``, ``head``, ``tail``);
:func:`test_the_copies_are_mclusts_data` compares every value with R's when
R and mclust are installed.
"""

import numpy as np
import pytest
from mclust_reference import requires_mclust, run_mclust
from numpy.testing import assert_array_equal

from gmmlib.datasets import MCLUST_DATASETS, load_mclust_dataset

SHAPES = {"diabetes": (145, 3), "banknote": (200, 6), "wreath": (1000, 2)}

#: First and last rows, as the files and R print them (the same decimal
#: strings parse to the same float64, so they compare exactly).
ROWS = {
    "diabetes": ([80, 356, 124], [346, 1568, 15]),
    "banknote": (
        [214.8, 131, 131.1, 9, 9.7, 141],
        [214.3, 129.9, 129.9, 10.2, 11.5, 139.6],
    ),
    "wreath": (
        [-11.2386964979405, 0.66956449816135799],
        [9.6411031531985607, 13.782206186429599],
    ),
}

#: The classes and their counts (R: Chemical 36, Normal 76, Overt 33).
LABEL_COUNTS = {
    "diabetes": {"Chemical": 36, "Normal": 76, "Overt": 33},
    "banknote": {"counterfeit": 100, "genuine": 100},
}


def test_the_shipped_data_sets_are_the_ones_named():
    assert sorted(MCLUST_DATASETS) == sorted(SHAPES)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shape_dtype_and_rows(name):
    X = load_mclust_dataset(name)
    assert X.shape == SHAPES[name]
    assert X.dtype == np.float64
    assert np.isfinite(X).all()
    first, last = ROWS[name]
    assert_array_equal(X[0], first)
    assert_array_equal(X[-1], last)


@pytest.mark.parametrize("name", sorted(LABEL_COUNTS))
def test_labels_and_their_counts(name):
    X, labels = load_mclust_dataset(name, return_labels=True)
    assert_array_equal(X, load_mclust_dataset(name))
    assert labels.shape == (SHAPES[name][0],)
    assert labels.dtype.kind == "U"
    classes, counts = np.unique(labels, return_counts=True)
    assert (
        dict(zip(classes.tolist(), counts.tolist(), strict=True))
        == (LABEL_COUNTS[name])
    )


def test_first_labels():
    _, diabetes = load_mclust_dataset("diabetes", return_labels=True)
    _, banknote = load_mclust_dataset("banknote", return_labels=True)
    assert (diabetes[0], diabetes[-1]) == ("Normal", "Overt")
    assert (banknote[0], banknote[-1]) == ("genuine", "counterfeit")


@pytest.mark.parametrize("name", ["iris", "Diabetes", "faithful", ""])
def test_an_unknown_name_is_a_clear_error(name):
    message = (
        r"name must be one of \['banknote', 'diabetes', 'wreath'\], "
        f"got '{name}'"
    )
    with pytest.raises(ValueError, match=message):
        load_mclust_dataset(name)


def test_wreath_has_no_labels():
    with pytest.raises(ValueError, match="^the wreath data set has no labels$"):
        load_mclust_dataset("wreath", return_labels=True)


@requires_mclust
def test_the_copies_are_mclusts_data():
    """Every value, and the class of every row (R's factor codes, in the
    alphabetical order of the levels, as numpy's unique sorts them)."""
    code = (
        "numeric <- function(d) { d <- as.data.frame(d); d[sapply(d, is.numeric)] }\n"
    )
    code += "\n".join(
        f"data({name}); out('{name}', numeric({name}))" for name in SHAPES
    )
    code += "\nout('diabetes_class', as.integer(diabetes$class))"
    code += "\nout('banknote_class', as.integer(banknote$Status))"
    reference = run_mclust(code)
    for name in SHAPES:
        # Written by R with 17 significant digits: every float64 exactly.
        assert_array_equal(load_mclust_dataset(name), reference[name], err_msg=name)
    for name in LABEL_COUNTS:
        _, labels = load_mclust_dataset(name, return_labels=True)
        codes = np.unique(labels, return_inverse=True)[1] + 1
        assert_array_equal(codes, reference[f"{name}_class"][:, 0], err_msg=name)
