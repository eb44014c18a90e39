"""The PDF of the whole book, as `make pdf` writes it.

`make pdf` prints the single-page HTML build (`_build/singlehtml`) to
`_build/pdf/gmm-em-book.pdf` with Chromium (tools/print_pdf.py), copies it into the
site, then runs this module with GMM_CHECK_PDF=1. A plain `pytest tests` skips it.
The text is read with pypdf and compared with the sources and with the single-page
build the PDF was printed from: every chapter starts a page under its numbered
title, every numbered equation and every figure is there, and so are the
bibliography, the notation page and the other back matter.
"""

import os
import re
import unicodedata
from pathlib import Path

import pytest

if os.environ.get("GMM_CHECK_PDF") != "1":
    pytest.skip("the PDF is checked by `make pdf`", allow_module_level=True)

import yaml
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parents[2]
PDF = ROOT / "_build" / "pdf" / "gmm-em-book.pdf"
SINGLE_PAGE = ROOT / "_build" / "singlehtml" / "intro.html"
SITE_COPY = ROOT / "_build" / "html" / PDF.name


def normalise(text):
    """NFKC (the PDF's ligatures "fi", "fl" become two letters), a word hyphenated
    at a line end ("one-\nparameter") joined again, one space for any run of
    white space."""
    text = re.sub(r"-\n", "-", unicodedata.normalize("NFKC", text))
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def reader():
    if not PDF.exists():
        pytest.fail(f"{PDF} is missing: run `make pdf`", pytrace=False)
    return PdfReader(PDF)


@pytest.fixture(scope="module")
def pages(reader):
    return [normalise(page.extract_text()) for page in reader.pages]


@pytest.fixture(scope="module")
def text(pages):
    return " ".join(pages)


def title(source):
    """The first level-one heading of a MyST page."""
    for line in source.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return normalise(line[2:])
    raise AssertionError(f"{source} has no '# ' title")


def toc_pages():
    """(number or None, file) for every page of _toc.yml in order; chapters in
    numbered parts are numbered 1, 2, ... across the parts, as on the site."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    number = 0
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            if part.get("numbered"):
                number += 1
                yield number, chapter["file"]
            else:
                yield None, chapter["file"]


def test_page_count_and_size(reader):
    # The twelve chapters alone fill well over 200 A4 pages (about 300 with the
    # back matter); a print that stopped early or lost chapters falls below.
    assert len(reader.pages) > 200
    # About 5 MB, of which 1.6 MB are the figures. Chromium turns every box
    # shadow into a greyscale image (the theme's shadows once made the PDF
    # 19 MB); 10 MB leaves room for new figures and catches that regression.
    assert PDF.stat().st_size < 10e6
    print(f"{PDF.name}: {len(reader.pages)} pages, {PDF.stat().st_size / 1e6:.1f} MB")


@pytest.mark.parametrize(
    "number, file", list(toc_pages()), ids=lambda value: str(value)
)
def test_every_page_of_the_book_starts_a_pdf_page(number, file, pages):
    heading = title(ROOT / f"{file}.md")
    if number is not None:
        heading = f"{number}. {heading}"
    # Each chapter and back-matter page starts a new PDF page (tools/print_pdf.css),
    # so its title is at the top of one. The bibliography's page starts with the
    # column of its labels ([1] [2] ...) in pypdf's reading order, hence 300.
    starts = [index for index, page in enumerate(pages) if heading in page[:300]]
    assert starts, f"no page starts with {heading!r}"


def test_every_numbered_equation_is_printed(text):
    numbers = re.findall(
        r'class="eqno">(\(\d+\.\d+\))', SINGLE_PAGE.read_text(encoding="utf-8")
    )
    assert len(numbers) > 50  # every chapter but one numbers several equations
    assert [number for number in numbers if number not in text] == []
    # Equations are referred to by number in the text as well: (2.3), the
    # expected complete-data log-likelihood Q, is cited from chapters 2 and 3.
    assert text.count("(2.3)") >= 2


def test_every_figure_is_embedded(reader):
    html = SINGLE_PAGE.read_text(encoding="utf-8")
    figures = set(re.findall(r'<img [^>]*src="(_images/[^"]+)"', html))
    images = set()
    for page in reader.pages:
        resources = page.get("/Resources")
        xobjects = resources.get_object().get("/XObject") if resources else None
        for reference in (xobjects or {}).values():
            if reference.get_object().get("/Subtype") == "/Image":
                images.add(reference.idnum)
    assert len(figures) > 20
    assert len(images) >= len(figures)


def test_the_bibliography_is_printed(text):
    # bibliography.md lists every entry of references.bib (:all:).
    bib = (ROOT / "references.bib").read_text(encoding="utf-8")
    titles = [
        normalise(re.sub(r"[{}]", "", entry))
        for entry in re.findall(r"^\s*title\s*=\s*\{(.*)\},?\s*$", bib, re.MULTILINE)
    ]
    assert len(titles) > 10
    missing = [entry for entry in titles if entry.lower() not in text.lower()]
    assert missing == []


def test_the_notation_page_is_printed(text):
    assert "Every symbol the chapters use, in one place." in text


def test_the_site_links_to_the_pdf():
    """The landing page links to the PDF, which `make pdf` copies into the site;
    the browser test (make check-site) fails on the link if the copy is missing."""
    assert SITE_COPY.read_bytes() == PDF.read_bytes()
    landing = (ROOT / "_build" / "html" / "intro.html").read_text(encoding="utf-8")
    assert f'href="{PDF.name}"' in landing
