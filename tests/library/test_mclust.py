"""gmmlib against R's mclust 6.0: same-start EM, parameter counts and BIC.

mclust's starting parameters are its default ones: model-based hierarchical
clustering (``hc(X, modelName = "VVV", use = "SVD")``), the partition into G
classes (``hclass``), then one M-step (``mstep``). Both libraries run EM from
them: mclust's ``em()`` (an E-step, then M-step and E-step pairs) and gmmlib's
``fit`` with those parameters as ``weights_init``, ``means_init`` and
``precisions_init``, ``reg_covar=0`` (mclust's EM adds nothing to the
covariances when no prior is given) and ``tol=0``.

The stopping rules differ: mclust stops when the relative change of the total
log-likelihood, :math:`|l_t - l_{t-1}| / (1 + |l_t|)`, is at most
``emControl()$tol[1]`` (1e-5 by default), or after ``itmax`` iterations;
gmmlib stops when the mean log-likelihood changes by less than ``tol``. So
mclust runs with ``tol = 0`` and ``itmax = MAX_ITERATIONS``: it stops after that
many iterations, or earlier when an iteration leaves the log-likelihood
unchanged to the last bit (err = 0 is not > tol). gmmlib then runs exactly as
many iterations (``max_iter`` = mclust's count, ``tol=0``). Both report the
parameters after the last M-step, and mclust's ``loglik`` is the
log-likelihood at those parameters, which is gmmlib's ``score(X) * n``.

gmmlib's ``full``, ``tied``, ``diag`` and ``spherical`` are mclust's ``VVV``,
``EEE``, ``VVI`` and ``VII``. The data: R's ``faithful``
(:func:`gmmlib.datasets.load_old_faithful`) and R's ``iris[, 1:4]``, which is
scikit-learn's ``load_iris().data`` to the last digit (checked below).
"""

import functools
import warnings
from pathlib import Path

import numpy as np
import pytest
from mclust_reference import requires_mclust, run_mclust
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_iris

import gmmlib
from gmmlib import GaussianMixture
from gmmlib.datasets import (
    MCLUST_BIC_DTYPE,
    load_mclust_bic,
    load_mclust_dataset,
    load_old_faithful,
    make_blobs_mixture,
)
from gmmlib.hierarchical import (
    MODELS,
    SUBSET_ROWS,
    hierarchical_merges,
    hierarchical_subset,
    partition,
    svd_transform,
    vvv_alpha,
)
from gmmlib.model_selection import fit_grid, mclust_bic

pytestmark = requires_mclust

MCLUST_MODELS = {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII"}
N_COMPONENTS = (2, 3, 4)
MAX_ITERATIONS = 200

#: The same EM from the same start in two implementations (mclust's Givens
#: rotations and reference BLAS, gmmlib's Cholesky factors and OpenBLAS):
#: rounding only, u = 1.1e-16 per operation, carried through at most 200
#: iterations of a contraction on well-conditioned data (covariance condition
#: numbers below 1e3). Largest relative difference seen (parameters relative to
#: the largest entry of their array, log-likelihoods, BIC) across
#: kernels/threads/blocks: 3.1e-14; bound 1e-10.
RTOL = 1e-10

DATASETS = {
    "faithful": load_old_faithful,
    "iris": lambda: load_iris().data,
}

#: For each G and model: mclust's start (hc, hclass, mstep), its em() from
#: there, the iteration count, nMclustParams and bic. Every variance is
#: returned as mclust stores it, ``sigma`` (d x d x G), one row per component.
SAME_START_EM = r"""
n <- nrow(X); d <- ncol(X)
classes <- hclass(hc(X, modelName = "VVV", use = "SVD"), 2:4)
put <- function(key, parameters) {
  G <- length(parameters$pro)
  out(paste(key, "pro", sep = "_"), parameters$pro)
  out(paste(key, "mean", sep = "_"), t(parameters$mean))
  out(paste(key, "sigma", sep = "_"),
      matrix(aperm(parameters$variance$sigma, c(3, 1, 2)), G))
}
for (G in 2:4) for (model in c("VVV", "EEE", "VVI", "VII")) {
  key <- paste(model, G, sep = "_")
  start <- mstep(modelName = model, data = X,
                 z = unmap(classes[, as.character(G)]))
  fit <- em(modelName = model, data = X, parameters = start$parameters,
            control = emControl(tol = 0, itmax = MAX_ITERATIONS))
  put(paste(key, "start", sep = "_"), start$parameters)
  put(paste(key, "end", sep = "_"), fit$parameters)
  out(paste(key, "loglik", sep = "_"), fit$loglik)
  # negative when itmax was reached
  out(paste(key, "iterations", sep = "_"), abs(attr(fit, "info")["iterations"]))
  out(paste(key, "nparams", sep = "_"), nMclustParams(model, d, G))
  out(paste(key, "bic", sep = "_"), bic(model, fit$loglik, n, d, G))
}
""".replace("MAX_ITERATIONS", str(MAX_ITERATIONS))


@functools.cache
def mclust_results(name):
    """X and mclust's outputs for one data set (one Rscript run per worker)."""
    X = DATASETS[name]()
    return X, run_mclust(SAME_START_EM, X=X)


def mclust_parameters(results, key, covariance_type, n_features):
    """weights, means and covariances in gmmlib's layout for ``covariance_type``."""
    prefix = f"{key}_" if key else ""
    weights = results[f"{prefix}pro"].ravel()
    means = results[f"{prefix}mean"]
    n_components = len(weights)
    sigma = results[f"{prefix}sigma"].reshape(
        n_components, n_features, n_features, order="F"
    )
    covariances = {
        "full": lambda: sigma,
        "tied": lambda: sigma[0],
        "diag": lambda: np.diagonal(sigma, axis1=1, axis2=2),
        "spherical": lambda: sigma[:, 0, 0],
    }[covariance_type]()
    return weights, means, covariances


def precisions(covariances, covariance_type):
    if covariance_type in ("full", "tied"):
        return np.linalg.inv(covariances)
    return 1 / covariances


def assert_close(ours, theirs, err_msg=""):
    """Relative to the largest entry: small entries (off-diagonal terms) too."""
    theirs = np.asarray(theirs)
    assert_allclose(
        ours, theirs, rtol=RTOL, atol=RTOL * np.abs(theirs).max(), err_msg=err_msg
    )


def fit_from_mclust_start(name, n_components, covariance_type):
    X, results = mclust_results(name)
    key = f"{MCLUST_MODELS[covariance_type]}_{n_components}"
    weights, means, covariances = mclust_parameters(
        results, f"{key}_start", covariance_type, X.shape[1]
    )
    n_iterations = int(results[f"{key}_iterations"][0, 0])
    model = GaussianMixture(
        n_components,
        covariance_type=covariance_type,
        reg_covar=0.0,
        tol=0.0,
        max_iter=n_iterations,
        weights_init=weights,
        means_init=means,
        precisions_init=precisions(covariances, covariance_type),
    )
    with warnings.catch_warnings():
        # tol=0 never converges by gmmlib's rule; that is the point.
        warnings.simplefilter("ignore")
        model.fit(X)
    return X, results, key, model, n_iterations


def test_iris_is_rs_iris_to_the_last_digit():
    """scikit-learn's copy of iris is R's ``iris[, 1:4]``, bit for bit."""
    X = load_iris().data
    assert_array_equal(run_mclust("out('iris', as.matrix(iris[, 1:4]))")["iris"], X)


@pytest.mark.parametrize("n_components", N_COMPONENTS)
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_same_start_em_matches_mclust(name, n_components, covariance_type):
    X, results, key, model, n_iterations = fit_from_mclust_start(
        name, n_components, covariance_type
    )
    assert model.n_iter_ == n_iterations
    weights, means, covariances = mclust_parameters(
        results, f"{key}_end", covariance_type, X.shape[1]
    )
    assert_close(model.weights_, weights, "weights")
    assert_close(model.means_, means, "means")
    assert_close(model.covariances_, covariances, "covariances")
    assert_allclose(model.score(X) * len(X), results[f"{key}_loglik"][0, 0], rtol=RTOL)


@pytest.mark.parametrize("n_components", N_COMPONENTS)
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_parameter_counts_and_bic_match_mclust(name, n_components, covariance_type):
    """nMclustParams, and mclust's bic = 2 log L - p log n = -gmmlib's bic."""
    X, results, key, model, _ = fit_from_mclust_start(
        name, n_components, covariance_type
    )
    assert model._n_parameters() == results[f"{key}_nparams"][0, 0]
    assert_allclose(mclust_bic(model.bic(X)), results[f"{key}_bic"][0, 0], rtol=RTOL)


# ------------------------------------------- the hierarchical start: hc(), hclass()

#: mclust's data sets beside faithful and iris, read from R's mclust package.
MCLUST_DATA = r"""
out("diabetes", data.matrix(diabetes[, -1]))
out("banknote", data.matrix(banknote[, -1]))
out("wreath", wreath)
"""
HC_DATASETS = ("faithful", "iris", "diabetes", "banknote", "wreath")

#: For each model: the transformed data hc() clusters, its merges (1-based
#: labels, one merge per row), hclass for G = 1..9; and hcVVV's alpha.
HC = r"""
for (model in c("VVV", "EII")) {
  tree <- hc(X, modelName = model, use = "SVD")
  out(paste0("Z_", model), attr(tree, "data"))
  out(paste0("merges_", model), t(tree))
  out(paste0("classes_", model), hclass(tree, 1:9))
}
Z <- attr(tree, "data")
out("alpha", mclust:::traceW(Z / sqrt(nrow(Z) * ncol(Z))))
"""


@pytest.mark.parametrize("name", ["diabetes", "banknote", "wreath"])
def test_shipped_data_sets_are_mclusts_to_the_last_digit(name):
    assert_array_equal(load_mclust_dataset(name), run_mclust(MCLUST_DATA)[name])


@functools.cache
def hc_data(name):
    if name in DATASETS:
        return DATASETS[name]()
    return run_mclust(MCLUST_DATA)[name]


@functools.cache
def mclust_hc(name):
    """X and mclust's hc() outputs for one data set."""
    X = hc_data(name)
    return X, run_mclust(HC, X=X)


def mclust_merges(results, model):
    return results[f"merges_{model}"].astype(int) - 1


def mclust_classes(results, model):
    return results[f"classes_{model}"].astype(int) - 1


#: mclust 6.0's hcVVV keeps the Cholesky factor of each merged cluster's
#: scatter matrix for later merges, but stores the factor's first row in
#: every row it keeps, so a cluster of 3 or more points that is read back
#: carries another matrix than its scatter matrix. gmmlib uses the scatter
#: matrix. On wreath this changes mclust's last 3 merges (of 999): the
#: partitions into 2 and 3 classes. (A transcription of mclust's Fortran that
#: stores row k as row k reproduces gmmlib's merges there.)
VVV_WREATH_EQUAL_MERGES = 996


@pytest.mark.parametrize("name", HC_DATASETS)
def test_svd_transform_matches_mclust(name):
    """hcUse = "SVD": Z = X~ V D^(-1/2), equal up to the signs of the columns."""
    X, results = mclust_hc(name)
    ours, theirs = svd_transform(X), results["Z_VVV"]
    signs = np.sign(np.sum(ours * theirs, axis=0))
    # Two backward-stable SVDs (LAPACK's gesdd in numpy's OpenBLAS and in R's
    # reference LAPACK) of standardised matrices whose smallest singular
    # value is at least 8e-2 of the largest (wreath: two nearly equal ones,
    # 1% apart, so its singular vectors move by u / 1e-2): differences of
    # order n u / 1e-2 = 2e-11 at most. Largest seen across
    # kernels/threads/blocks: 9.0e-14 (of the largest entry); bound 1e-10.
    assert_allclose(ours * signs, theirs, rtol=0, atol=1e-10 * np.abs(theirs).max())


@pytest.mark.parametrize("name", HC_DATASETS)
def test_vvv_alpha_is_mclusts_to_the_last_bit(name):
    """hcVVV's alpha, traceW(Z / sqrt(n p)), summed in mclust's order."""
    _, results = mclust_hc(name)
    assert vvv_alpha(results["Z_VVV"]) == results["alpha"][0, 0]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", HC_DATASETS)
def test_merges_match_mclust_on_its_transformed_data(name, model):
    """From mclust's own Z, every merge is mclust's, ties included.

    The first merges (duplicated rows, pairs of single points) are computed
    with mclust's arithmetic, so that exact ties stay ties and are broken by
    mclust's scan order.
    """
    _, results = mclust_hc(name)
    merges, _ = hierarchical_merges(results[f"Z_{model}"], model)
    expected = mclust_merges(results, model)
    if (name, model) == ("wreath", "VVV"):
        n_equal = VVV_WREATH_EQUAL_MERGES
        assert_array_equal(merges[:n_equal], expected[:n_equal])
    else:
        assert_array_equal(merges, expected)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", HC_DATASETS)
def test_partitions_match_hclass(name, model):
    """gmmlib's own transform and merges: mclust's classes for G = 1..9.

    With EII, exact ties (faithful and iris lie on grids, so many pairs of
    points are equally far apart) are broken by the last bits of Z, which
    differ between the two SVDs: the order of tied merges can differ, the
    partitions into up to 9 classes do not.
    """
    X, results = mclust_hc(name)
    merges, _ = hierarchical_merges(svd_transform(X), model)
    expected = mclust_classes(results, model)
    for n_clusters in range(1, 10):
        if (name, model) == ("wreath", "VVV") and n_clusters in (2, 3):
            continue  # VVV_WREATH_EQUAL_MERGES
        assert_array_equal(
            partition(merges, n_clusters),
            expected[:, n_clusters - 1],
            err_msg=f"G = {n_clusters}",
        )


@pytest.mark.parametrize("name", ["faithful", "iris", "diabetes", "banknote"])
def test_vvv_merges_match_mclust_from_gmmlibs_transform(name):
    """VVV from gmmlib's own Z: every merge is mclust's."""
    X, results = mclust_hc(name)
    merges, _ = hierarchical_merges(svd_transform(X), "VVV")
    assert_array_equal(merges, mclust_merges(results, "VVV"))


@pytest.mark.parametrize("n_components", N_COMPONENTS)
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_hierarchical_start_is_mclusts(name, n_components, covariance_type):
    """init_params='hierarchical' starts where mclust's mstep(hclass(hc())) does."""
    X, results = mclust_results(name)
    key = f"{MCLUST_MODELS[covariance_type]}_{n_components}_start"
    model = GaussianMixture(
        n_components,
        covariance_type=covariance_type,
        init_params="hierarchical",
        reg_covar=0.0,
        max_iter=0,
    ).fit(X)
    weights, means, covariances = mclust_parameters(
        results, key, covariance_type, X.shape[1]
    )
    # One M-step on the same classes in two implementations: rounding only
    # (n u = 3e-14 for sums of n = 272 terms). Covered by RTOL.
    assert_close(model.weights_, weights, "weights")
    assert_close(model.means_, means, "means")
    assert_close(model.covariances_, covariances, "covariances")


#: Mclust on more than mclust.options("subset") = 2000 rows: hc on a random
#: subset, mstep on that subset. The same subset is given to both.
SUBSET_START = r"""
rows <- as.integer(ROWS[, 1]) + 1L
classes <- hclass(hc(X[rows, ], modelName = "VVV", use = "SVD"), 3)
start <- mstep(modelName = "VVV", data = X[rows, ], z = unmap(classes))
out("pro", start$parameters$pro)
out("mean", t(start$parameters$mean))
out("sigma", matrix(aperm(start$parameters$variance$sigma, c(3, 1, 2)), 3))
"""


def test_hierarchical_start_on_a_subset_is_mclusts():
    X, _ = make_blobs_mixture(2400, n_components=3, random_state=0)
    rows = hierarchical_subset(len(X), np.random.RandomState(0))
    assert len(rows) == SUBSET_ROWS
    results = run_mclust(SUBSET_START, X=X, ROWS=rows)
    model = GaussianMixture(
        3, init_params="hierarchical", reg_covar=0.0, max_iter=0, random_state=0
    ).fit(X)
    weights, means, covariances = mclust_parameters(results, "", "full", 2)
    assert_close(model.weights_, weights, "weights")
    assert_close(model.means_, means, "means")
    assert_close(model.covariances_, covariances, "covariances")


def test_one_column_vvv_merges_match_mclust():
    """One column (faithful's eruption times): hc(x, "VVV") with p = 1."""
    x = load_old_faithful()[:, :1]
    results = run_mclust(
        'tree <- hc(X, modelName = "VVV", use = "SVD"); out("merges", t(tree))', X=x
    )
    merges, _ = hierarchical_merges(svd_transform(x), "VVV")
    assert_array_equal(merges, results["merges"].astype(int) - 1)


# ------------------------------------------------ the model grid: mclustBIC()

#: mclust's default grid, G = 1..9 for VVV, EEE, VVI, VII, as ``Mclust`` fits
#: it (hierarchical start, EM to its default tolerance); the log-likelihood of
#: each cell from its BIC, 2 log L - p log n. NA (a cell mclust could not fit)
#: is read back as NaN.
MCLUST_GRID = r"""
models <- c("VVV", "EEE", "VVI", "VII")
table <- mclustBIC(X, G = 1:9, modelNames = models)
n <- nrow(X); d <- ncol(X)
for (model in models) {
  p <- sapply(1:9, function(G) nMclustParams(model, d, G))
  out(paste0("bic_", model), table[, model])
  out(paste0("loglik_", model), (table[, model] + p * log(n)) / 2)
}
"""


@functools.cache
def mclust_grid(name):
    """mclust's BIC table in gmmlib's layout: rows as gmmlib.datasets.load_mclust_bic."""
    X = hc_data(name)
    results = run_mclust(MCLUST_GRID, X=X)
    rows = [
        (
            k,
            covariance_type,
            results[f"loglik_{model}"][k - 1, 0],
            mclust_bic(results[f"bic_{model}"][k - 1, 0]),
        )
        for covariance_type, model in MCLUST_MODELS.items()
        for k in range(1, 10)
    ]
    return X, np.array(rows, dtype=MCLUST_BIC_DTYPE)


@pytest.mark.parametrize("name", HC_DATASETS)
def test_shipped_bic_tables_are_mclusts(name):
    """gmmlib.datasets.load_mclust_bic is what mclust computes here.

    mclust stops EM when the relative change of the log-likelihood is at most
    1e-5; rounding on another machine can move that stop by an iteration,
    which moves the log-likelihood by about that much. Bound 1e-4 relative;
    NA cells must stay NA.
    """
    _, live = mclust_grid(name)
    shipped = load_mclust_bic(name)
    assert_array_equal(shipped["n_components"], live["n_components"])
    assert_array_equal(shipped["covariance_type"], live["covariance_type"])
    for field in ["log_likelihood", "bic"]:
        assert_allclose(shipped[field], live[field], rtol=1e-4, err_msg=field)


@pytest.mark.parametrize("name", HC_DATASETS)
def test_default_grid_finds_mclusts_maxima_or_better(name):
    """Issue 12's bar: the default grid chooses mclust's model, or a sound model
    with a better BIC, and no sound cell ends more than 1 log-likelihood unit
    below mclust's. The 1 unit is the issue's margin for "the same maximum":
    EM stopped by mclust's rule (relative change 1e-5) and by gmmlib's Aitken
    rule (1e-6 per sample) ends within a few hundredths of a unit of the
    maximum on these data; another maximum is usually units away.
    """
    X, theirs = mclust_grid(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starts discarded, slow cells
        ours = fit_grid(X, random_state=0).table
    assert_array_equal(ours["n_components"], theirs["n_components"])
    assert_array_equal(ours["covariance_type"], theirs["covariance_type"])
    sound = ~ours["failed"] & ~ours["degenerate"]
    fitted = sound & ~np.isnan(theirs["log_likelihood"])
    gaps = ours["log_likelihood"][fitted] - theirs["log_likelihood"][fitted]
    assert gaps.min() > -1.0, ours[fitted][np.argmin(gaps)]
    their_choice = np.nanargmin(theirs["bic"])
    our_choice = np.flatnonzero(sound)[np.argmin(ours["bic"][sound])]
    assert our_choice == their_choice or (
        ours["bic"][our_choice] < theirs["bic"][their_choice]
    )


def test_mclust_stops_early_on_wreath_and_reaches_gmmlibs_maximum_when_tight():
    """Chapter "Where EM starts": on wreath with 8 VVV components, Mclust's default
    tolerance (relative change 1e-5, about 0.06 here) stops 27 units below the
    maximum that gmmlib reaches from the same hierarchical start; with a tight
    tolerance mclust reaches it too.

    Both runs end near one maximum: gmmlib's Aitken rule at 1e-6 per sample
    (1e-3 in total) and mclust at relative change 1e-10; reg_covar = 1e-6
    moves a log-likelihood of ~6e3 by far less. Bound 0.05.
    """
    X = hc_data("wreath")
    results = run_mclust(
        r"""
        fit <- Mclust(X, G = 8, modelNames = "VVV")
        tight <- Mclust(X, G = 8, modelNames = "VVV",
                        control = emControl(tol = c(1e-10, sqrt(.Machine$double.eps))))
        out("default", fit$loglik)
        out("tight", tight$loglik)
        """,
        X=X,
    )
    ours = GaussianMixture(
        8, init_params="hierarchical", tol=1e-6, stopping="aitken", max_iter=1000
    ).fit(X)
    ours_total = ours.score(X) * len(X)
    assert_allclose(ours_total, results["tight"][0, 0], atol=0.05)
    assert round(ours_total - results["default"][0, 0]) == 27


if __name__ == "__main__":
    # Writes gmmlib/data/mclust_bic.csv from the mclust installed here.
    lines = ["dataset,covariance_type,n_components,log_likelihood,bic"]
    for name in HC_DATASETS:
        for row in mclust_grid(name)[1]:
            lines.append(
                f"{name},{row['covariance_type']},{row['n_components']},"
                f"{float(row['log_likelihood'])!r},{float(row['bic'])!r}"
            )
    path = Path(gmmlib.__file__).parent / "data" / "mclust_bic.csv"
    path.write_text("\n".join(lines) + "\n")
