r"""EM at scale: each pass over a dask array is one map-reduce over its blocks.

Chapter "Empirical performance" explains why EM parallelises. The E-step is a
sum over samples: a block of rows, wherever it is stored, yields its own
responsibility-weighted feature sums :math:`\sum_{n \in \text{block}} r_{nk}\, t(x_n)`
and its log-likelihood with :func:`gmmlib.em_steps.accumulate_statistics`, the
function the in-memory E-step runs. The M-step needs only the totals. So one
iteration maps every block to ``n_components * n_statistics + 1`` numbers, adds
them up (dask's tree reduction), and runs the ordinary M-step on the driver:
the data never move. The starting statistics of the k-means and random starts
are map-reduces of the same form (:func:`kmeans_moments`, :func:`random_moments`).

:class:`gmmlib.data_sources.DaskData` calls these functions for the estimators.
dask is an optional dependency (``pip install gmmlib[dask]``); this module
imports it only when a dask array is fitted, so ``import gmmlib`` never does.
"""

import sys

import numpy as np

from .covariance import n_statistics
from .em_steps import (
    SufficientStatistics,
    accumulate_statistics,
    as_shift,
    estimate_log_prob_resp,
    moments_from_resp,
    natural_parameters,
    unpack_moments,
)
from .hard_em import hard_responsibilities, nearest_centres


def is_dask_array(X):
    """Whether X is a ``dask.array.Array`` (False, without importing dask, if dask is unused)."""
    dask_array = sys.modules.get("dask.array")
    return dask_array is not None and isinstance(X, dask_array.Array)


def check_dask_array(X, min_samples, estimator_name):
    """Validate a dask array as ``sklearn.utils.check_array`` validates an ndarray.

    Checks the shape, casts integer data to float64 and checks for NaN and
    infinity (one pass over the data).

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
    min_samples : int
    estimator_name : str
        Named in the error messages, as scikit-learn does.

    Returns
    -------
    X : dask.array.Array of shape (n_samples, n_features)
        Float32 or float64, chunked along rows only.
    """
    import dask
    import dask.array as da

    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got {X.ndim}D array instead.")
    if X.shape[0] < min_samples:
        raise ValueError(
            f"Found array with {X.shape[0]} sample(s) (shape={X.shape}) "
            f"while a minimum of {min_samples} is required by "
            f"{estimator_name}."
        )
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    has_nan, has_inf = dask.compute(da.isnan(X).any(), da.isinf(X).any())
    if has_nan:
        raise ValueError(
            "Input X contains NaN. Missing values (missing_values='marginalize') are "
            "handled for data in memory only: compute the dask array into a numpy "
            "array, or remove the samples with NaN."
        )
    if has_inf:
        raise ValueError(
            f"Input X contains infinity or a value too large for dtype('{X.dtype}')."
        )
    return X.rechunk({1: -1})


def _reduce_blocks(X, block_function, width, *args):
    """Map every block of rows to one row of ``width`` numbers; return their sum."""
    sums = X.map_blocks(
        block_function,
        *args,
        dtype=np.float64,
        chunks=((1,) * X.numblocks[0], (width,)),
    )
    return sums.sum(axis=0).compute()


def _e_step_block(block, coefficients, covariance_type, shift):
    """The map of the E-step: one block -> its feature sums and log-likelihood, as one row."""
    moments, log_likelihood = accumulate_statistics(
        block, coefficients, covariance_type, shift
    )
    return np.append(moments.ravel(), log_likelihood)[None, :]


def e_step(X, params, shift=None, log_weights=None):
    """One E-step over a dask array: map every block, reduce by summing.

    Same contract as :func:`gmmlib.em_steps.e_step` (without sample weights).

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked along rows only (see :func:`check_dask_array`).
    params : MixtureParameters
    shift : ndarray of shape (n_features,), optional
        Centre of the data used for the sums (default: zero).
    log_weights : ndarray of shape (n_components,), optional
        Added to the log-densities instead of ``log(params.weights)``.

    Returns
    -------
    SufficientStatistics
    """
    n_samples, n_features = X.shape
    shift = as_shift(shift, n_features, X.dtype)
    coefficients = natural_parameters(params, shift, log_weights).astype(X.dtype)
    n_components, n_stats = coefficients.shape
    totals = _reduce_blocks(
        X,
        _e_step_block,
        n_components * n_stats + 1,
        coefficients,
        params.covariance_type,
        shift,
    )
    nk, first, second = unpack_moments(
        totals[:-1].reshape(n_components, n_stats), params.covariance_type, n_features
    )
    return SufficientStatistics(
        nk, first, second, float(totals[-1]), float(n_samples), shift
    )


def _log_prob_resp_block(block, params, log_weights):
    log_prob_norm, resp = estimate_log_prob_resp(block, params, log_weights=log_weights)
    return np.column_stack([log_prob_norm, resp])


def log_prob_resp(X, params, log_weights=None):
    """:func:`gmmlib.em_steps.estimate_log_prob_resp` block by block, gathered in memory.

    Returns
    -------
    log_prob_norm : ndarray of shape (n_samples,)
    resp : ndarray of shape (n_samples, n_components)
    """
    n_components = len(params.weights)
    both = X.map_blocks(
        _log_prob_resp_block,
        params,
        log_weights,
        dtype=X.dtype,
        chunks=(X.chunks[0], (n_components + 1,)),
    ).compute()
    return both[:, 0], both[:, 1:]


def _kmeans_block(block, centres, covariance_type, shift):
    resp = hard_responsibilities(nearest_centres(block, centres), len(centres))
    return moments_from_resp(block, resp, covariance_type, shift=shift).ravel()[None, :]


def kmeans_moments(X, centres, covariance_type, shift):
    """Feature sums of every sample assigned to its nearest centre (one Lloyd step).

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
    centres : ndarray of shape (n_components, n_features)
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    shift : ndarray of shape (n_features,)
        From :func:`gmmlib.em_steps.as_shift`.

    Returns
    -------
    moments : ndarray of shape (n_components, n_statistics)
        As :func:`gmmlib.em_steps.moments_from_resp` returns them.
    """
    n_stats = n_statistics(X.shape[1], covariance_type)
    totals = _reduce_blocks(
        X, _kmeans_block, len(centres) * n_stats, centres, covariance_type, shift
    )
    return totals.reshape(len(centres), n_stats)


def _random_block(block, seeds, n_components, covariance_type, shift, block_id=None):
    rng = np.random.RandomState(seeds[block_id[0]])
    resp = rng.uniform(size=(len(block), n_components))
    resp /= resp.sum(axis=1)[:, None]
    return moments_from_resp(
        block, resp.astype(block.dtype), covariance_type, shift=shift
    ).ravel()[None, :]


def random_moments(X, n_components, covariance_type, shift, random_state):
    """Feature sums for responsibilities drawn uniformly and normalised, row by row.

    Each block draws its rows' responsibilities from its own seed, taken from
    ``random_state``, so the start does not depend on where the blocks are
    computed.

    Returns
    -------
    moments : ndarray of shape (n_components, n_statistics)
    """
    seeds = random_state.randint(np.iinfo(np.int32).max, size=X.numblocks[0])
    n_stats = n_statistics(X.shape[1], covariance_type)
    totals = _reduce_blocks(
        X,
        _random_block,
        n_components * n_stats,
        seeds,
        n_components,
        covariance_type,
        shift,
    )
    return totals.reshape(n_components, n_stats)
