"""The notation page lists every Greek, script, calligraphic and blackboard symbol of the chapters.

Latin letters cannot be told apart from words by a program, so the check covers the
symbols written with TeX commands: ``\\alpha`` ... ``\\Omega``, ``\\ell``,
``\\mathcal{N}``, ``\\mathbb{R}``. A chapter that brings in a new one fails here until
notation.md has a row for it.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "chapters").glob("*.md"))

GREEK = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "pi",
    "varpi",
    "rho",
    "varrho",
    "sigma",
    "varsigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Xi",
    "Pi",
    "Sigma",
    "Upsilon",
    "Phi",
    "Psi",
    "Omega",
    "ell",
]
SYMBOL = re.compile(
    r"\\(?:("
    + "|".join(GREEK)
    + r")(?![A-Za-z])|(mathcal|mathbb|mathscr)\s*\{?\s*([A-Za-z])\b)"
)
CODE_CELL = re.compile(r"^```\{code-cell\}.*?^```[ \t]*$", re.MULTILINE | re.DOTALL)


def symbols(text):
    """TeX symbols in Markdown text, code cells left out: {'\\pi', '\\mathcal{N}', ...}."""
    found = set()
    for greek, font, letter in SYMBOL.findall(CODE_CELL.sub("", text)):
        found.add(f"\\{greek}" if greek else f"\\{font}{{{letter}}}")
    return found


def test_symbols_are_found():
    text = (
        "$\\pi_k$ and $\\mathcal{N}(x \\mid \\mu, \\Sigma)$, $\\mathbb R$, $\\ell$, \\piano\n"
        "```{code-cell} ipython3\nlabel = r'$\\kappa$'\n```\n"
    )
    assert symbols(text) == {
        "\\pi",
        "\\mathcal{N}",
        "\\mu",
        "\\Sigma",
        "\\mathbb{R}",
        "\\ell",
    }


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[path.stem for path in CHAPTERS])
def test_notation_page_lists_every_symbol_of_the_chapter(chapter):
    listed = symbols((ROOT / "notation.md").read_text(encoding="utf-8"))
    missing = sorted(symbols(chapter.read_text(encoding="utf-8")) - listed)
    assert missing == [], (
        f"add these symbols of {chapter.name} to notation.md: {missing}"
    )
