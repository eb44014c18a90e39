"""The "Use gmmlib" quickstart: the same five lines in README.md and on the landing
page, and they run.

The landing page (intro.md) executes them when the book is built and checks the
fit in a hidden cell; README.md cannot run anything, so this test takes the
Python block from its "Use gmmlib" section, checks that it is the landing page's
code cell, and runs it.
"""

import re
import subprocess
import sys
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[2]
INSTALL = 'pip install "gmmlib @ git+https://github.com/gmm-course/gmm-em-book"'


def readme_section():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(
        r"^## Use gmmlib\n(.*?)(?=^## )", readme, re.MULTILINE | re.DOTALL
    )
    assert match, "README.md has no '## Use gmmlib' section"
    return match.group(1)


def readme_code():
    blocks = re.findall(
        r"^```python\n(.*?)^```", readme_section(), re.MULTILINE | re.DOTALL
    )
    assert len(blocks) == 1, "the quickstart has one ```python block"
    return blocks[0].strip()


def landing_page_code():
    notebook = jupytext.read(ROOT / "intro.md")
    code = [
        cell.source
        for cell in notebook.cells
        if cell.cell_type == "code"
        and "remove-cell" not in cell.metadata.get("tags", [])
    ]
    assert len(code) == 1, "the landing page shows one code cell, the quickstart"
    return code[0].strip()


def test_readme_and_landing_page_show_the_same_quickstart():
    assert readme_code() == landing_page_code()
    lines = readme_code().splitlines()
    assert len([line for line in lines if line.strip()]) == 5
    assert all(len(line) <= 79 for line in lines)
    assert INSTALL in readme_section()
    assert INSTALL in (ROOT / "intro.md").read_text(encoding="utf-8")
    # The install line names the repository the book is published from.
    config = (ROOT / "_config.yml").read_text(encoding="utf-8")
    assert "url: https://github.com/gmm-course/gmm-em-book" in config


def test_the_quickstart_runs():
    """In a fresh interpreter, as a reader would run it."""
    result = subprocess.run(
        [sys.executable, "-c", readme_code()],
        capture_output=True,
        text=True,
        check=False,  # the test reads the return code and the output
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    printed = result.stdout.splitlines()
    # converged_, then the weights and the 3 x 2 means: 1 + 3 lines; then the
    # labels and log-densities of five points.
    assert printed[0].startswith("True [")
    assert len(printed) == 4
    assert len(printed[3].split("]")[0].strip("[").split()) == 5
