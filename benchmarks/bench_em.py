"""Time per EM iteration of gmmlib's mixtures against scikit-learn's.

Every configuration of the performance targets is fitted by both libraries
in this one process, alternating, from the same starting parameters, with
``tol=0`` so both run the same iterations. The time per iteration is the
difference between a fit of ``1 + iterations`` and a fit of 1 iteration,
divided by ``iterations`` (so validation and set-up do not count); the table
shows the median over ``--repeats`` runs (:mod:`gmmlib.timing`). "max rel diff" is
the largest of ``max|ours - theirs| / max|theirs|`` over the weights, means and covariances
after the long fit. The float32 fit is timed alternately with the float64 one;
BayesianGaussianMixture (variational EM) is timed in the same way.

Peak memory is measured for 2,000,000 x 10 with 8 full components in a child
process per library: the child loads the data, then the peak resident memory
of the process (VmHWM) minus the resident memory before the fit is the memory
the fit needed beyond the data.

Run with ``make bench`` or ``python benchmarks/bench_em.py`` (``--quick`` for a
smaller smoke run). Plain Python: numpy, scikit-learn and gmmlib only.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn
from sklearn.mixture import BayesianGaussianMixture as SklearnBayesianGaussianMixture
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
from threadpoolctl import threadpool_info

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gmmlib import BayesianGaussianMixture, GaussianMixture
from gmmlib.datasets import make_blobs_mixture
from gmmlib.timing import (
    common_start,
    compare_iteration_times,
    fit_seconds,
    max_relative_difference,
)

LIBRARIES = {"scikit-learn": SklearnGaussianMixture, "gmmlib": GaussianMixture}


@dataclass
class Case:
    """One configuration of the targets."""

    n_samples: int
    n_features: int
    n_components: int
    covariance_type: str
    target_ratio: float
    iterations: int = 10

    @property
    def name(self):
        return (
            f"{self.n_samples:,} x {self.n_features}, {self.n_components} "
            f"{self.covariance_type}"
        )


CASES = [
    Case(200_000, 10, 8, "full", 5.0),
    Case(1_000_000, 2, 5, "full", 5.0),
    *[
        Case(100_000, 2, 3, covariance_type, 5.0, iterations=30)
        for covariance_type in ("full", "tied", "diag", "spherical")
    ],
    Case(50_000, 50, 10, "full", 3.0),
]
FLOAT32_CASE = Case(200_000, 10, 8, "full", 1.8)
MEMORY_CASE = Case(2_000_000, 10, 8, "full", 2.0, iterations=2)
#: Variational Bayesian mixtures: 100,000 x 2 (five clusters), ten full components.
BAYES_SAMPLES, BAYES_ITERATIONS, BAYES_TARGET = 100_000, 20, 3.0
BAYES_COMPARED = (
    "weights_",
    "means_",
    "covariances_",
    "mean_precision_",
    "degrees_of_freedom_",
)
#: Seconds per iteration that the arithmetic and memory traffic need (issue 5).
FLOOR_SECONDS = 0.010


def make_data(case):
    """Seeded data of the case and its starting parameters."""
    X, _ = make_blobs_mixture(
        case.n_samples,
        n_components=case.n_components,
        n_features=case.n_features,
        random_state=0,
    )
    return X, common_start(X, case.n_components, case.covariance_type, random_state=1)


def factories(case, start):
    """``max_iter -> unfitted estimator`` for each library, from the same start."""

    def factory(estimator):
        return lambda max_iter: estimator(
            case.n_components,
            covariance_type=case.covariance_type,
            tol=0.0,
            max_iter=max_iter,
            **start,
        )

    return {library: factory(estimator) for library, estimator in LIBRARIES.items()}


def time_case(case, repeats):
    """Median seconds per iteration of each library, alternating them."""
    X, start = make_data(case)
    return compare_iteration_times(factories(case, start), X, case.iterations, repeats)


def time_bayesian(prior_type, n_samples, repeats):
    """Both BayesianGaussianMixture classes from the same start (scikit-learn's
    'random_from_data' draws with the same seed, which gmmlib reproduces)."""
    X, _ = make_blobs_mixture(
        n_samples, n_components=5, n_features=2, separation=3.0, random_state=0
    )

    def factory(estimator):
        return lambda max_iter: estimator(
            n_components=10,
            covariance_type="full",
            weight_concentration_prior_type=prior_type,
            init_params="random_from_data",
            random_state=0,
            tol=0.0,
            max_iter=max_iter,
        )

    return compare_iteration_times(
        {
            "scikit-learn": factory(SklearnBayesianGaussianMixture),
            "gmmlib": factory(BayesianGaussianMixture),
        },
        X,
        BAYES_ITERATIONS,
        repeats,
    )


def memory_child(library, folder):
    """Run in a child process: print the peak memory of one fit beyond the data."""
    X = np.load(Path(folder) / "X.npy")
    start = dict(np.load(Path(folder) / "start.npz"))
    before = memory_megabytes("VmRSS")
    fit_seconds(factories(MEMORY_CASE, start)[library](MEMORY_CASE.iterations), X)
    print(
        json.dumps(
            {
                "peak_beyond_data_mb": memory_megabytes("VmHWM") - before,
                "data_mb": X.nbytes / 2**20,
            }
        )
    )


def memory_megabytes(field):
    """Resident memory now (VmRSS) or at its peak (VmHWM) from /proc (Linux).

    Unlike ``getrusage``'s ``ru_maxrss``, VmHWM starts afresh in a new program
    rather than inheriting the parent's peak.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB


def measure_memory(n_samples):
    """Peak memory beyond the data of each library, each in its own child process."""
    case = MEMORY_CASE
    X, _ = make_blobs_mixture(
        n_samples,
        n_components=case.n_components,
        n_features=case.n_features,
        random_state=0,
    )
    with tempfile.TemporaryDirectory() as folder:
        np.save(Path(folder) / "X.npy", X)
        np.savez(
            Path(folder) / "start.npz",
            **common_start(X, case.n_components, case.covariance_type, random_state=1),
        )
        del X
        result = {}
        for library in LIBRARIES:
            output = subprocess.run(
                [sys.executable, __file__, "--memory-child", library, folder],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result[library] = json.loads(output.strip().splitlines()[-1])
    return result


def machine_description():
    model = platform.processor() or "unknown CPU"
    try:
        # a failing lscpu leaves no "Model name" line: the model stays as it is
        lscpu = subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=False
        ).stdout
        model = next(
            line.split(":", 1)[1].strip()
            for line in lscpu.splitlines()
            if line.startswith("Model name")
        )
    except (OSError, StopIteration):
        pass
    blas = ", ".join(
        sorted(
            {
                f"{info.get('internal_api')} {info.get('architecture')} "
                f"x{info['num_threads']}"
                for info in threadpool_info()
                if info["user_api"] == "blas"
            }
        )
    )
    # numpy's float64 exp and log are vectorised on x86 only with AVX-512
    # (X86_V4); on AVX2 (X86_V3) they are scalar and bound the E-step in low
    # dimensions (README, "Benchmarks").
    simd = np.show_config(mode="dicts")["SIMD Extensions"]
    return (
        f"{model}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"numpy {np.__version__} (SIMD found: {', '.join(simd['found']) or 'none'}), "
        f"scikit-learn {sklearn.__version__}; BLAS: {blas}; "
        f"load average before: {os.getloadavg()[0]:.1f}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of the samples, for a smoke run"
    )
    parser.add_argument(
        "--memory-child", nargs=2, metavar=("LIBRARY", "FOLDER"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    scale = 10 if args.quick else 1

    print(f"Machine: {machine_description()}\n")
    print(
        "| configuration | scikit-learn s/iter | gmmlib s/iter | speed-up | target "
        "| max rel diff |"
    )
    print("| --- | ---: | ---: | ---: | --- | ---: |")
    for case in CASES:
        case.n_samples //= scale
        times, models = time_case(case, args.repeats)
        ratio = times["scikit-learn"] / times["gmmlib"]
        target = f">= {case.target_ratio:g}x"
        if case.n_samples >= 200_000:
            target += f", <= {5 * FLOOR_SECONDS:.2f} s"
        print(
            f"| {case.name} | {times['scikit-learn']:.4f} | {times['gmmlib']:.4f} "
            f"| {ratio:.1f}x | {target} "
            f"| {max_relative_difference(models['gmmlib'], models['scikit-learn']):.1e} |",
            flush=True,
        )

    case = FLOAT32_CASE
    case.n_samples //= scale
    X, start64 = make_data(case)
    start32 = {name: value.astype(np.float32) for name, value in start64.items()}
    runs = {
        "gmmlib float64": (X, factories(case, start64)["gmmlib"]),
        "gmmlib float32": (X.astype(np.float32), factories(case, start32)["gmmlib"]),
        "scikit-learn float32": (
            X.astype(np.float32),
            factories(case, start32)["scikit-learn"],
        ),
    }
    times, models = compare_iteration_times(
        {name: factory for name, (_, factory) in runs.items()},
        {name: data for name, (data, _) in runs.items()},
        case.iterations,
        args.repeats,
    )
    ours64, ours32 = models["gmmlib float64"], models["gmmlib float32"]
    theirs32 = models["scikit-learn float32"]
    print(
        f"\nfloat32, {case.name}: gmmlib {times['gmmlib float32']:.4f} s/iter, "
        f"{times['gmmlib float64'] / times['gmmlib float32']:.2f}x faster than its float64 "
        f"({times['gmmlib float64']:.4f} s/iter, fitted alternately; target >= 1.8x); "
        f"scikit-learn float32 {times['scikit-learn float32']:.4f} s/iter."
    )
    print(
        f"  log-likelihood relative to gmmlib's float64 fit: gmmlib float32 "
        f"{abs(float(ours32.lower_bound_) / ours64.lower_bound_ - 1):.1e}, scikit-learn "
        f"float32 {abs(float(theirs32.lower_bound_) / ours64.lower_bound_ - 1):.1e} "
        f"(target <= 1e-4); fitted dtype {ours32.means_.dtype}.",
        flush=True,
    )

    print(
        "\n| BayesianGaussianMixture | scikit-learn s/iter | gmmlib s/iter | speed-up "
        "| target | max rel diff |"
    )
    print("| --- | ---: | ---: | ---: | --- | ---: |")
    for prior_type in ("dirichlet_process", "dirichlet_distribution"):
        n_samples = BAYES_SAMPLES // scale
        times, models = time_bayesian(prior_type, n_samples, args.repeats)
        difference = max_relative_difference(
            models["gmmlib"], models["scikit-learn"], BAYES_COMPARED
        )
        print(
            f"| {n_samples:,} x 2, 10 full, {prior_type} | {times['scikit-learn']:.4f} "
            f"| {times['gmmlib']:.4f} | {times['scikit-learn'] / times['gmmlib']:.1f}x "
            f"| >= {BAYES_TARGET:g}x | {difference:.1e} |",
            flush=True,
        )

    n_samples = MEMORY_CASE.n_samples // scale
    memory = measure_memory(n_samples)
    ours, theirs = (
        memory[name]["peak_beyond_data_mb"] for name in ("gmmlib", "scikit-learn")
    )
    print(
        f"\nPeak memory beyond the data ({memory['gmmlib']['data_mb']:.0f} MB), "
        f"{n_samples:,} x 10, 8 full: scikit-learn {theirs:.0f} MB, gmmlib {ours:.0f} MB "
        f"({ours / theirs:.2f} of scikit-learn's; target <= 0.5)."
    )


if __name__ == "__main__":
    main()
