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

import numpy as np
import pytest
from mclust_reference import requires_mclust, run_mclust
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_iris

from gmmlib import GaussianMixture
from gmmlib.datasets import load_old_faithful
from gmmlib.model_selection import mclust_bic

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
    weights = results[f"{key}_pro"].ravel()
    means = results[f"{key}_mean"]
    n_components = len(weights)
    sigma = results[f"{key}_sigma"].reshape(
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
