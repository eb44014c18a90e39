"""SQUAREM against plain EM: iterations and time to come close to the maximum.

For each slow problem, both start from the same parameters: gmmlib's default
k-means start with ``random_state=0``, what a user gets. The maximum is the log-likelihood of a SQUAREM fit run to
``tol=1e-13``. A fit has "arrived" at the first iteration whose mean
log-likelihood lies within 1e-8 (relative) of it; the table gives that
iteration (EM iterations, SQUAREM cycles), the E-steps it took (one per EM
iteration, up to four per cycle), and the time of a fit stopped there
(``max_iter`` set to that iteration, median of ``--repeats`` runs), and the
final log-likelihoods of both, to show they arrive at the same maximum.

Run with ``make bench`` or ``python benchmarks/bench_acceleration.py``.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gmmlib import GaussianMixture
from gmmlib.datasets import load_old_faithful, make_blobs_mixture

#: Relative distance to the maximum at which a fit counts as arrived.
CLOSE = 1e-8


class CountingGaussianMixture(GaussianMixture):
    """GaussianMixture that counts its E-steps (the bench's only instrument)."""

    def _e_step(self, data, state):
        self.e_steps_counted_ += 1
        return super()._e_step(data, state)

    def fit(self, X, y=None, sample_weight=None):
        self.e_steps_counted_ = 0
        return super().fit(X, y, sample_weight)


def problems(scale):
    """(name, X, n_components, covariance_type, max_iter) of the slow problems."""
    overlapping, _ = make_blobs_mixture(
        4000 // scale, n_components=4, n_features=2, separation=1.0, random_state=1
    )
    large, _ = make_blobs_mixture(
        200_000 // scale, n_components=8, n_features=10, separation=0.8, random_state=3
    )
    faithful = load_old_faithful()
    return [
        ("Old Faithful, 3 full", faithful, 3, "full", 5000),
        ("Old Faithful, 4 tied", faithful, 4, "tied", 5000),
        (
            f"overlapping, {len(overlapping):,} x 2, 4 full",
            overlapping,
            4,
            "full",
            5000,
        ),
        (f"{len(large):,} x 10, 8 full", large, 8, "full", 2000),
    ]


def arrival(X, settings, acceleration, target, max_iter):
    """The first iteration within CLOSE of the target, and the E-steps to get there."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = CountingGaussianMixture(
            tol=0.0, max_iter=max_iter, acceleration=acceleration, **settings
        ).fit(X)
    after = model.history_["log_likelihood_after"]
    close = np.flatnonzero(after >= target - CLOSE * abs(target))
    if not close.size:
        return None, None, float(after[-1])
    iteration = int(close[0]) + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        stopped = CountingGaussianMixture(
            tol=0.0, max_iter=iteration, acceleration=acceleration, **settings
        ).fit(X)
    return iteration, stopped.e_steps_counted_, float(after[-1])


def seconds(X, settings, acceleration, iterations, repeats):
    """Median wall time of a fit stopped after ``iterations``."""
    times = []
    for _ in range(repeats):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = GaussianMixture(
                tol=0.0, max_iter=iterations, acceleration=acceleration, **settings
            )
            start = time.perf_counter()
            model.fit(X)
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of the samples, for a smoke run"
    )
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    print(
        f"\nSQUAREM against plain EM, from the same start, to within {CLOSE:g} "
        "(relative) of the maximum:\n"
    )
    print(
        "| problem | EM iterations | SQUAREM cycles | E-steps EM / SQUAREM "
        "| time EM / SQUAREM (s) | speed-up | final log-lik. EM, SQUAREM |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, X, n_components, covariance_type, max_iter in problems(scale):
        start = GaussianMixture(
            n_components, covariance_type=covariance_type, max_iter=0, random_state=0
        ).fit(X)
        settings = dict(
            n_components=n_components,
            covariance_type=covariance_type,
            weights_init=start.weights_,
            means_init=start.means_,
            precisions_init=start.precisions_,
        )
        target = (
            GaussianMixture(
                tol=1e-13, max_iter=20 * max_iter, acceleration="squarem", **settings
            )
            .fit(X)
            .score(X)
        )
        em_iter, em_steps, em_final = arrival(X, settings, None, target, max_iter)
        sq_iter, sq_steps, sq_final = arrival(X, settings, "squarem", target, max_iter)
        if em_iter is None or sq_iter is None:
            print(f"| {name} | {em_iter} | {sq_iter} | did not arrive | | | |")
            continue
        em_time = seconds(X, settings, None, em_iter, args.repeats)
        sq_time = seconds(X, settings, "squarem", sq_iter, args.repeats)
        print(
            f"| {name} | {em_iter} | {sq_iter} | {em_steps} / {sq_steps} "
            f"| {em_time:.3f} / {sq_time:.3f} | {em_time / sq_time:.1f}x "
            f"| {em_final:.10f}, {sq_final:.10f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
