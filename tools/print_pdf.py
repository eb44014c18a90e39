"""Print the single-page HTML build of the book to one PDF with Chromium.

`make pdf` runs ``jupyter-book build . --builder singlehtml``, then this script:

    python tools/print_pdf.py _build/singlehtml/intro.html _build/pdf/book.pdf

The page is served by a local http.server on 127.0.0.1 (MathJax loads its fonts
over HTTP) and opened in Debian's headless Chromium through chromedriver, as the
browser test does. Before printing, the script waits for every image, opens the
exercise solutions (dropdowns on the site), waits until MathJax has typeset every
formula, adds tools/print_pdf.css (page breaks before chapters, no theme
navigation, code wrapped rather than cut) and shrinks any display formula wider
than the column so that none is cut off. Chromium's DevTools command
``Page.printToPDF`` then writes an A4 PDF with page numbers and an outline of
the chapters and sections (the PDF's bookmarks).
"""

import argparse
import base64
import functools
import http.server
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

CSS = Path(__file__).with_name("print_pdf.css")

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # The layout width of an A4 page with the margins below (about 170 mm).
    "--window-size=800,1100",
]

# Loads every image now (not lazily) and waits until each has loaded or failed;
# returns the sources that failed.
WAIT_FOR_IMAGES = """
const done = arguments[arguments.length - 1];
const images = Array.from(document.images);
images.forEach(img => { img.loading = "eager"; });
Promise.all(images.map(img => img.complete ? null :
    new Promise(resolve => { img.addEventListener("load", resolve);
                             img.addEventListener("error", resolve); })))
  .then(() => done(images.filter(img => !(img.complete && img.naturalWidth > 0))
                         .map(img => img.getAttribute("src"))));
"""

# Opens what the site folds away: sphinx-togglebutton's dropdown admonitions
# (the exercises' solutions) and any other <details> than the plotting code
# the chapters hide (tag hide-input; the print style sheet leaves it out).
OPEN_FOLDED = """
document.querySelectorAll("details:not(.hide)").forEach(d => { d.open = true; });
document.querySelectorAll(".toggle-hidden").forEach(
    e => e.classList.remove("toggle-hidden"));
document.querySelectorAll(".toggle-button.toggle-button-hidden").forEach(
    e => e.classList.remove("toggle-button-hidden"));
"""

# Waits for MathJax's typesetting, then reports the maths left untypeset and
# any TeX error.
WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
const report = () => {
  const maths = Array.from(document.querySelectorAll(".math"));
  done({
    untypeset: maths.filter(m => !m.querySelector("mjx-container"))
                    .map(m => m.textContent.trim().slice(0, 80)),
    errors: Array.from(document.querySelectorAll("mjx-merror"))
                 .map(e => e.getAttribute("data-mjx-error") || e.textContent),
    maths: maths.length,
  });
};
if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
  MathJax.startup.promise.then(report, report);
} else {
  done({untypeset: ["MathJax did not load"], errors: [], maths: 0});
}
"""

# With the print style sheet applied: every display formula wider than its
# column is scaled down to fit (its equation number stays beside it), and the
# widths are reported.
FIT_WIDE_MATHS = """
const shrunk = [];
document.querySelectorAll("mjx-container[display='true']").forEach(m => {
  const column = m.parentElement.clientWidth;
  const width = m.scrollWidth;
  if (width > column + 1) {
    const scale = Math.floor(1000 * column / width) / 1000;
    m.style.fontSize = `${100 * scale}%`;
    shrunk.push([Math.round(width), Math.round(column), scale]);
  }
});
return shrunk;
"""

# Chromium prints a box shadow as a greyscale image: the theme's shadows under
# admonitions and proof boxes cost megabytes. They are set with !important by
# selectors more specific than a style sheet here can override in general, so
# each one is removed inline.
DROP_SHADOWS = """
let dropped = 0;
document.querySelectorAll("*").forEach(e => {
  if (getComputedStyle(e).boxShadow !== "none") {
    e.style.setProperty("box-shadow", "none", "important");
    dropped += 1;
  }
});
return dropped;
"""

ADD_STYLE = """
const style = document.createElement("style");
style.textContent = arguments[0];
document.head.appendChild(style);
"""

# Footer: page number of page count; header: the book's title.
FOOTER = (
    '<div style="font-size: 8px; width: 100%; text-align: center; '
    'color: #555;"><span class="pageNumber"></span> / '
    '<span class="totalPages"></span></div>'
)
HEADER = (
    '<div style="font-size: 8px; width: 100%; text-align: center; '
    'color: #555;"><span class="title"></span></div>'
)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def executable(names, variable):
    found = os.environ.get(variable) or next(
        filter(None, map(shutil.which, names)), None
    )
    if not found:
        sys.exit(
            f"none of {names} found (set {variable}); `make chromium` installs "
            "Debian's chromium and chromium-driver"
        )
    return found


def start_browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = executable(["chromium", "chromium-browser"], "CHROMIUM")
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    service = Service(executable_path=executable(["chromedriver"], "CHROMEDRIVER"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(120)
    driver.set_script_timeout(300)
    return driver


def print_page(driver, url):
    """Open ``url``, wait for images and maths, and return the PDF's bytes."""
    driver.get(url)
    WebDriverWait(driver, 120).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    failed = driver.execute_async_script(WAIT_FOR_IMAGES)
    if failed:
        sys.exit(f"images that did not load: {failed[:5]}")
    driver.execute_script(OPEN_FOLDED)
    mathjax = driver.execute_async_script(WAIT_FOR_MATHJAX)
    if mathjax["untypeset"] or mathjax["errors"]:
        sys.exit(f"MathJax: {mathjax}")
    driver.execute_script(ADD_STYLE, CSS.read_text(encoding="utf-8"))
    # The print style sheet applies from here on (emulated print media), so the
    # widths measured below are those of the printed column.
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    driver.execute_script(DROP_SHADOWS)
    shrunk = driver.execute_script(FIT_WIDE_MATHS)
    print(
        f"{mathjax['maths']} formulas typeset; {len(shrunk)} display formulas "
        "scaled to the column width"
        + (f" (smallest scale {min(s for *_, s in shrunk)})" if shrunk else "")
    )
    result = driver.execute_cdp_cmd(
        "Page.printToPDF",
        {
            "paperWidth": 8.27,  # A4, in inches
            "paperHeight": 11.69,
            "marginTop": 0.6,
            "marginBottom": 0.6,
            "marginLeft": 0.5,
            "marginRight": 0.5,
            "printBackground": True,
            "displayHeaderFooter": True,
            "headerTemplate": HEADER,
            "footerTemplate": FOOTER,
            "generateDocumentOutline": True,
            "generateTaggedPDF": False,
        },
    )
    return base64.b64decode(result["data"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, help="the single-page build's HTML file")
    parser.add_argument("output", type=Path, help="the PDF to write")
    args = parser.parse_args()

    start = time.perf_counter()
    handler = functools.partial(_Quiet, directory=str(args.page.parent))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    profile = tempfile.mkdtemp(prefix="gmm-pdf-chromium-")
    driver = start_browser(profile)
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/{args.page.name}"
        pdf = print_page(driver, url)
    finally:
        driver.quit()
        httpd.shutdown()
        httpd.server_close()
        shutil.rmtree(profile, ignore_errors=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(pdf)
    print(
        f"{args.output}: {len(pdf) / 1e6:.1f} MB, "
        f"printed in {time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
