r"""EM at scale: each E-step is one map-reduce over the blocks of a dask array.

Chapter "Empirical performance" explains why EM parallelises. The E-step is a
sum over samples: a block of rows, wherever it is stored, yields its own
responsibility-weighted feature sums :math:`\sum_{n \in \text{block}} r_{nk}\, t(x_n)`
and its log-likelihood with :func:`gmmlib.em_steps.accumulate_statistics`, the
function the in-memory E-step runs. The M-step needs only the totals. So one
iteration maps every block to ``n_components * n_statistics + 1`` numbers, adds
them up (dask's tree reduction), and runs the ordinary M-step on the driver:
the data never move.

``GaussianMixture.fit`` sends dask arrays here. dask is an optional dependency
(``pip install gmmlib[dask]``); this module imports it only when a dask array is
fitted, so ``import gmmlib`` never does.
"""

import sys

import numpy as np

from .em_steps import (SufficientStatistics, accumulate_statistics, as_shift,
                       natural_parameters, statistics_from_resp, unpack_moments)


def is_dask_array(X):
    """Whether X is a ``dask.array.Array`` (False, without importing dask, if dask is unused)."""
    dask_array = sys.modules.get("dask.array")
    return dask_array is not None and isinstance(X, dask_array.Array)


def check_dask_array(estimator, X):
    """Validate a dask array for ``fit``, like ``sklearn.utils.validation.validate_data``.

    Checks the shape, casts integer data to float64, checks for NaN and
    infinity (one pass over the data) and sets ``estimator.n_features_in_``.

    Parameters
    ----------
    estimator : GaussianMixture
    X : dask.array.Array of shape (n_samples, n_features)

    Returns
    -------
    X : dask.array.Array of shape (n_samples, n_features)
        Float32 or float64, chunked along rows only.
    """
    import dask
    import dask.array as da

    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got {X.ndim}D array instead.")
    if X.shape[0] < 2:
        raise ValueError(f"Found array with {X.shape[0]} sample(s) (shape={X.shape}) "
                         "while a minimum of 2 is required by GaussianMixture.")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    has_nan, has_inf = dask.compute(da.isnan(X).any(), da.isinf(X).any())
    if has_nan:
        raise ValueError("Input X contains NaN.")
    if has_inf:
        raise ValueError("Input X contains infinity or a value too large for "
                         f"dtype('{X.dtype}').")
    estimator.n_features_in_ = X.shape[1]
    return X.rechunk({1: -1})


def column_mean(X):
    """Mean of the columns of a dask array, in float64 (the ``shift`` of the sums)."""
    return X.mean(axis=0, dtype=np.float64).compute()


def initial_statistics(X, n_components, init_params, covariance_type, random_state):
    """Statistics of the starting responsibilities, for ``init_params='random_from_data'``.

    The start picks ``n_components`` rows, each the only member of its
    component: the same draw from ``random_state``, hence the same start, as
    the in-memory fit. Only those rows are fetched. The other starts need
    k-means on all the data in memory.

    Returns
    -------
    nk, first_moments, second_moments : ndarray
        As :func:`gmmlib.em_steps.statistics_from_resp` returns them.
    """
    if init_params != "random_from_data":
        raise ValueError(
            f"init_params='{init_params}' needs the data in memory; to fit a dask "
            "array, give weights_init, means_init and precisions_init, or use "
            "init_params='random_from_data'.")
    indices = random_state.choice(X.shape[0], size=n_components, replace=False)
    rows = X[indices].compute()
    resp = np.eye(n_components, dtype=rows.dtype)
    return statistics_from_resp(rows, resp, covariance_type)


def _block_sums(block, coefficients, covariance_type, shift):
    """The map: one block of rows -> its feature sums and log-likelihood, as one row."""
    moments, log_likelihood = accumulate_statistics(block, coefficients, covariance_type,
                                                    shift)
    return np.append(moments.ravel(), log_likelihood)[None, :]


def e_step(X, params, sample_weight=None, shift=None):
    """One E-step over a dask array: map every block, reduce by summing.

    Same contract as :func:`gmmlib.em_steps.e_step`.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked along rows only (see :func:`check_dask_array`).
    params : MixtureParameters
    sample_weight : None
        Not supported for dask arrays.
    shift : ndarray of shape (n_features,), optional
        Centre of the data used for the sums (default: zero).

    Returns
    -------
    SufficientStatistics
    """
    if sample_weight is not None:
        raise ValueError("sample_weight is not supported when fitting a dask array.")
    n_samples, n_features = X.shape
    shift = as_shift(shift, n_features, X.dtype)
    coefficients = natural_parameters(params, shift).astype(X.dtype)
    n_components, n_stats = coefficients.shape
    block_sums = X.map_blocks(
        _block_sums, coefficients, params.covariance_type, shift, dtype=np.float64,
        chunks=((1,) * X.numblocks[0], (n_components * n_stats + 1,)))
    totals = block_sums.sum(axis=0).compute()
    nk, first, second = unpack_moments(totals[:-1].reshape(n_components, n_stats),
                                       params.covariance_type, n_features)
    return SufficientStatistics(nk, first, second, float(totals[-1]), float(n_samples),
                                shift)
