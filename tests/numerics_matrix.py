"""The numerics matrix (``make check-numerics``): tests and chapters under other roundings.

numpy and scipy call OpenBLAS, whose kernels for one processor family round
differently from another's, and whose threads split sums differently; gmmlib
splits its own sums into blocks of rows. A check that passes on one machine only
because of how that machine rounds fails on the next one. So this script runs the
pytest suite and executes every chapter (its assertions; outputs are not compared)
under each configuration:

* each OpenBLAS kernel among :data:`KERNELS` that this processor can run
  (``OPENBLAS_CORETYPE``; a kernel whose instructions the CPU lacks is skipped, and
  one that this OpenBLAS build runs as a kernel already in the list is run once),
  with one and with three BLAS/OpenMP threads;
* once more, under the last of those kernels, with gmmlib's blocks of :data:`SMALL_BLOCK_ROWS` rows
  (``GMMLIB_BLOCK_ROWS``), so that every gmmlib sum is split elsewhere.

Every ``assert_allclose`` logs how close it came to failing (tests/tolerance_log.py).
The script prints the kernels and thread counts that ran, each configuration's
result, and the assertions that came within a factor of ten of their tolerance in
any configuration: their bound needs an error model beside it, not a margin read off
one machine. The full table goes to ``_build/numerics/tolerances.tsv``. Exits
non-zero if any configuration failed.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
BIN = Path(PYTHON).parent
OUT = ROOT / "_build" / "numerics"

#: OpenBLAS core types and the CPU flags (as /proc/cpuinfo names them) each needs.
SKYLAKEX_FLAGS = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}
KERNELS = {
    "Prescott": {"pni"},  # SSE3
    "Sandybridge": {"avx"},
    "Haswell": {"avx2", "fma"},
    "Zen": {"avx2", "fma"},
    "SkylakeX": SKYLAKEX_FLAGS,
    "Cooperlake": SKYLAKEX_FLAGS | {"avx512_bf16"},
    "SapphireRapids": SKYLAKEX_FLAGS
    | {"avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16"},
}
THREADS = (1, 3)
#: A prime number of rows, so that blocks fall at other places than any default.
SMALL_BLOCK_ROWS = 37
#: Assertions whose worst error exceeds this fraction of their tolerance are listed.
MARGIN = 0.1
CHAPTERS = sorted((ROOT / "chapters").glob("*.md"))


def cpu_flags():
    """The instruction-set flags of the first processor in /proc/cpuinfo."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def kernels_running(coretype):
    """The OpenBLAS core names numpy's and scipy's libraries report under ``coretype``."""
    code = (
        "import numpy, scipy.linalg; from threadpoolctl import threadpool_info; "
        "print(' and '.join(sorted({i['architecture'] for i in threadpool_info() "
        "if i['internal_api'] == 'openblas'})))"
    )
    env = dict(os.environ, OPENBLAS_CORETYPE=coretype)
    return subprocess.run(
        [PYTHON, "-c", code], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def choose_kernels():
    """Kernels to run: those the CPU supports, once per distinct kernel that runs."""
    flags, chosen, seen = cpu_flags(), [], {}
    for name, needed in KERNELS.items():
        if not needed <= flags:
            print(
                f"  {name:15s} skipped: the CPU lacks {', '.join(sorted(needed - flags))}"
            )
            continue
        running = kernels_running(name)
        if running in seen:
            print(
                f"  {name:15s} skipped: OpenBLAS runs it as {running}, as for {seen[running]}"
            )
            continue
        seen[running] = name
        chosen.append(name)
        print(f"  {name:15s} runs OpenBLAS {running}")
    return chosen


def configurations(kernels):
    """(name, environment changes) for every run of the matrix."""
    runs = [
        (
            f"{kernel}, {threads} thread{'s' * (threads > 1)}",
            dict(OPENBLAS_CORETYPE=kernel, threads=threads),
        )
        for kernel in kernels
        for threads in THREADS
    ]
    runs.append(
        (
            f"{kernels[-1]}, 1 thread, gmmlib blocks of {SMALL_BLOCK_ROWS} rows",
            dict(
                OPENBLAS_CORETYPE=kernels[-1],
                threads=1,
                GMMLIB_BLOCK_ROWS=str(SMALL_BLOCK_ROWS),
            ),
        )
    )
    return runs


def environment(changes, log):
    """The process environment of one configuration, logging tolerances to ``log``."""
    env = dict(
        os.environ,
        GMM_TOLERANCE_LOG=str(log),
        IPYTHONDIR=str(ROOT / "tests" / "book" / "offline"),
    )
    threads = str(changes["threads"])
    env.update(
        OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads
    )
    env.update({key: value for key, value in changes.items() if key != "threads"})
    env.pop("GMM_TOLERANCE_SOURCE", None)
    return env


def run(command, env, log_file):
    """Run ``command``; its output goes to ``log_file``. True if it succeeded."""
    with open(log_file, "w") as output:
        return (
            subprocess.run(
                command,
                env=env,
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
                check=False,  # a failure is reported by the return value
            ).returncode
            == 0
        )


def run_configuration(name, changes, folder):
    """The pytest suite, then every chapter (two at a time); the failures by name."""
    folder.mkdir(parents=True)
    env = environment(changes, folder / "tolerances.jsonl")
    failures = []
    pytest = [
        PYTHON,
        "-m",
        "pytest",
        "-q",
        "-n",
        "2",
        "-p",
        "no:cacheprovider",
        "tests",
    ]
    if not run(pytest, dict(env, MPLBACKEND="Agg"), folder / "pytest.log"):
        failures.append("pytest")

    def execute(chapter):
        command = [
            str(BIN / "jupytext"),
            "--to",
            "ipynb",
            "--execute",
            "--output",
            str(folder / f"{chapter.stem}.ipynb"),
            str(chapter),
        ]
        ok = run(
            command,
            dict(env, GMM_TOLERANCE_SOURCE=chapter.stem),
            folder / f"{chapter.stem}.log",
        )
        return None if ok else chapter.stem

    with ThreadPoolExecutor(2) as pool:
        failures += [stem for stem in pool.map(execute, CHAPTERS) if stem]
    return failures


def closest_calls(folders):
    """Per assertion site: largest ratio, its configuration, tolerance, and the spread.

    A site's ratio in one configuration is its largest over the calls there; the
    spread is the largest minus the smallest of those over the configurations, so
    0 means the checked value did not move with the rounding at all.
    """
    per_site = {}
    for name, folder in folders:
        path = folder / "tolerances.jsonl"
        if not path.exists():
            continue
        largest = {}
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            if (
                entry["site"] not in largest
                or entry["ratio"] > largest[entry["site"]][0]
            ):
                largest[entry["site"]] = (
                    entry["ratio"],
                    name,
                    entry["rtol"],
                    entry["atol"],
                )
        for site, values in largest.items():
            per_site.setdefault(site, []).append(values)
    table = []
    for site, values in per_site.items():
        ratios = [value[0] for value in values]
        table.append((site, max(values) + (max(ratios) - min(ratios),)))
    return sorted(table, key=lambda item: -item[1][0])


def main():
    print("OpenBLAS kernels (OPENBLAS_CORETYPE):")
    kernels = choose_kernels()
    runs = configurations(kernels)
    print(
        f"Running {len(runs)} configurations: the pytest suite and {len(CHAPTERS)} chapters"
        " in each."
    )
    OUT.mkdir(parents=True, exist_ok=True)
    results, folders = [], []
    with tempfile.TemporaryDirectory(prefix="numerics-") as scratch:
        for index, (name, changes) in enumerate(runs):
            folder = Path(scratch) / str(index)
            start = time.perf_counter()
            failures = run_configuration(name, changes, folder)
            seconds = time.perf_counter() - start
            status = "passed" if not failures else "FAILED: " + ", ".join(failures)
            print(f"  {name:50s} {seconds:5.0f} s  {status}", flush=True)
            for failure in failures:
                log = folder / (
                    "pytest.log" if failure == "pytest" else f"{failure}.log"
                )
                print(f"--- {failure} under {name} (last lines of its output)")
                print("\n".join(log.read_text().splitlines()[-40:]))
            results.append(failures)
            folders.append((name, folder))
        table = closest_calls(folders)
    with open(OUT / "tolerances.tsv", "w") as out:
        out.write("largest ratio\tconfiguration\trtol\tatol\tspread\tsite\n")
        for site, (ratio, name, rtol, atol, spread) in table:
            out.write(
                f"{ratio:.3g}\t{name}\t{rtol:g}\t{atol:g}\t{spread:.3g}\t{site}\n"
            )
    close = [(site, values) for site, values in table if values[0] > MARGIN]
    print(
        f"\n{len(table)} assert_allclose sites; {len(close)} came within a factor of "
        f"{1 / MARGIN:g} of their tolerance. Ratio: largest error / allowed error, in "
        "the worst configuration; spread: how much that ratio moved between "
        "configurations (0: the value checked does not depend on rounding, the "
        "bound is statistical or a quoted precision, with its reason beside it):"
    )
    for site, (ratio, name, rtol, atol, spread) in close:
        print(
            f"  {ratio:8.3g}  spread {spread:8.2g}  rtol={rtol:g} atol={atol:g}  [{name}]"
            f"  {site[:100]}"
        )
    print(f"Full table: {OUT / 'tolerances.tsv'}")
    failed = sum(bool(failures) for failures in results)
    print(f"{len(runs) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
