"""How gmmlib runs its passes over the data: row blocks, threads and BLAS threads.

Nothing here changes a result beyond rounding; it holds only the plumbing that
:mod:`gmmlib.em_steps` and the estimators share:

* the size of the blocks of rows that every pass over the data works on
  (:data:`BLOCK_BYTES`, :data:`MIN_BLOCK_ROWS`, :data:`BLOCK_ROWS` from the
  environment variable ``GMMLIB_BLOCK_ROWS``, and :func:`block_size`; for the
  bounded E-step :data:`ROWS_PER_COMPONENT` and :func:`bounded_block_size`);
* the pool of threads that share those blocks (:func:`thread_pool`);
* the number of BLAS threads (:func:`blas_threads`) and the context managers that
  limit BLAS to one thread while gmmlib's own threads work
  (:func:`single_threaded_blas`) or BLAS and OpenMP for short work
  (:func:`single_threaded`).

Chapter "Empirical performance" (``chapters/12_empirical_performance.md``)
explains the block size and measures what blocks and threads buy.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np
from threadpoolctl import ThreadpoolController

from .covariance import n_statistics

#: Bytes that the working arrays of one block of rows (its features and
#: log-densities) may take. 2 MiB was fastest on the development machine (1 MiB
#: of L2 cache per core, 32 MiB of shared L3): small enough to stay in cache,
#: large enough that per-block overheads and threads waiting for the GIL stay small.
BLOCK_BYTES = 2**21

#: Fewest rows per block, so that per-block overheads stay small.
MIN_BLOCK_ROWS = 256

#: Rows per component in a block of the bounded E-step
#: (:func:`bounded_block_size`). On 50,000 x 50 with ten components a pass
#: took 25 ms with blocks of 1,872 rows, 17 ms with 8,192 to 12,500 and
#: 18 ms with 25,000 (two threads).
ROWS_PER_COMPONENT = 1024

#: Rows per block when the environment variable ``GMMLIB_BLOCK_ROWS`` is set at
#: import, whatever the budget above: every sum over the data is then split at
#: other places. ``make check-numerics`` sets it small, to show that no result of
#: the tests or chapters depends on where the sums are split. None otherwise.
BLOCK_ROWS = int(os.environ.get("GMMLIB_BLOCK_ROWS") or 0) or None


def block_size(n_components, n_features, covariance_type="full", dtype=np.float64):
    """Rows per block so that its features and log-densities fit in ``BLOCK_BYTES``.

    A row of a block holds its :func:`gmmlib.covariance.n_statistics` features
    and its ``n_components`` log-densities. ``BLOCK_ROWS``, when set, overrides
    the budget.

    Parameters
    ----------
    n_components : int
    n_features : int
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    dtype : numpy dtype, default=float64
        The dtype the block is computed in.

    Returns
    -------
    rows : int
        At least :data:`MIN_BLOCK_ROWS` unless :data:`BLOCK_ROWS` is set.
    """
    if BLOCK_ROWS is not None:
        return BLOCK_ROWS
    bytes_per_row = (
        n_statistics(n_features, covariance_type) + n_components
    ) * np.dtype(dtype).itemsize
    return max(MIN_BLOCK_ROWS, BLOCK_BYTES // bytes_per_row)


def bounded_block_size(n_components, n_features, dtype=np.float64):
    """Rows per block of the bounded E-step (:mod:`gmmlib.bounded_e_step`).

    About :data:`ROWS_PER_COMPONENT` rows per component, so that the products
    on each component's rows are large enough to amortise numpy's cost per
    call, within four times ``BLOCK_BYTES`` for the block's working arrays: a
    row holds its centred data, a sorted copy of them and about four numbers
    per component (log-densities, bounds, masks). ``BLOCK_ROWS``, when set,
    overrides both.

    Parameters
    ----------
    n_components : int
    n_features : int
    dtype : numpy dtype, default=float64

    Returns
    -------
    rows : int
        At least :data:`MIN_BLOCK_ROWS` unless :data:`BLOCK_ROWS` is set.
    """
    if BLOCK_ROWS is not None:
        return BLOCK_ROWS
    bytes_per_row = (2 * n_features + 4 * n_components) * np.dtype(dtype).itemsize
    return max(
        MIN_BLOCK_ROWS,
        min(ROWS_PER_COMPONENT * n_components, 4 * BLOCK_BYTES // bytes_per_row),
    )


@cache
def _controller():
    """threadpoolctl's controller of the loaded BLAS and OpenMP libraries (created once)."""
    return ThreadpoolController()


@cache
def _blas_controller():
    """threadpoolctl's controller of the loaded BLAS libraries (created once)."""
    return _controller().select(user_api="blas")


def blas_threads():
    """Threads BLAS may use now (``OPENBLAS_NUM_THREADS``, ``threadpool_limits``)."""
    return max(
        [lib.num_threads for lib in _blas_controller().lib_controllers], default=1
    )


def single_threaded_blas():
    """Context manager running BLAS on one thread, for a whole EM run if wanted.

    The E-step's own threads do the parallel work; BLAS threads would compete
    with them, and, once woken by the small linear algebra of an M-step, they
    keep spinning for a while and take a core from the next E-step. Online and
    incremental EM, which make many small steps, use it too: their tiny matrix
    factorisations run fastest on one BLAS thread.
    """
    return _blas_controller().limit(limits=1)


def single_threaded():
    """Context manager running BLAS and OpenMP (scikit-learn's KMeans) on one thread.

    For work of a few milliseconds, such as the k-means of a start on at most
    :data:`gmmlib.data_sources.START_SAMPLE_ROWS` rows: waking a second
    thread that has slept costs more than it saves. On two cores, 0.2 s after
    the last fit, the k-means start of 100,000 x 2 rows with three clusters
    took 4.4 ms (median of 12; all within 4-5 ms) on one thread, against a
    median of 27 ms, spread 4-48 ms, with OpenMP on two; on 50,000 x 50 with
    ten clusters, 17 against 21 ms.
    """
    return _controller().limit(limits=1)


@cache
def thread_pool(n_threads):
    """A pool of ``n_threads`` threads, created once and reused by every E-step."""
    return ThreadPoolExecutor(n_threads, thread_name_prefix="gmmlib-e-step")


def map_row_parts(function, n_samples, n_threads, min_rows):
    """``function(start, stop)`` on contiguous parts of the rows, a thread each.

    The rows are split into at most ``n_threads`` parts of at least
    ``min_rows`` rows, handled by the threads of :func:`thread_pool` with BLAS
    on one thread meanwhile (:func:`single_threaded_blas`), so that BLAS
    threads do not compete with these.

    Parameters
    ----------
    function : callable
        ``function(start, stop)`` for the rows ``start:stop``.
    n_samples : int
    n_threads : int
    min_rows : int
        Fewest rows per part (a block).

    Returns
    -------
    results : list
        One result per part, in the order of the rows.
    """
    n_parts = max(1, min(n_threads, n_samples // min_rows))
    limits = [n_samples * part // n_parts for part in range(n_parts + 1)]
    with single_threaded_blas():
        if n_parts == 1:
            return [function(0, n_samples)]
        return list(thread_pool(n_parts).map(function, limits[:-1], limits[1:]))
