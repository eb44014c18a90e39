"""Every page of the built site, opened in headless Chromium.

Run by `make check-site`, which builds the site first (`make book`). The pages are
served from `_build/html` by a local http.server on 127.0.0.1 and visited in one
browser session. For each page the test asserts that

- the browser logs no error (console level SEVERE: a JavaScript exception, or a
  script, style sheet, font or image that failed to load);
- every image has loaded (``naturalWidth > 0``);
- MathJax, served from the site itself, has typeset every maths element, with no
  TeX error, and no raw ``$$``, ``\\(``, ``\\[`` or ``\\begin{`` is left in the text;
- every link to a page of the site points to a file that exists, and every
  ``#anchor`` to an id on that page;
- no table is wider than the text column (its last columns would be cut off);

and saves a screenshot of the top of the page (1280 x 1600) to `_build/screenshots/`.
Then it opens every collapsed block (hidden code cells) and checks the layout at two
screen sizes, resizing the same window:

- at 1366 x 768, the commonest laptop screen, no display equation and no code block
  (code cell, printed output, literal block) is wider than the box it shows in;
- at 390 x 844, a phone, each one that is wider scrolls sideways and shows that it
  does: _static/scroll-cue.js gives it a shadow on the side where more is hidden,
  since phone browsers hide scroll bars until one scrolls.
"""

import functools
import http.server
import os
import re
import shutil
import tempfile
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

# `make check-site` builds the site, installs Chromium when it is missing and sets
# GMM_CHECK_SITE=1. A plain `pytest tests` skips this module.
if os.environ.get("GMM_CHECK_SITE") != "1":
    pytest.skip(
        "the browser test runs through `make check-site`", allow_module_level=True
    )

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[3]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
# The screenshot shows the top of each page, one window high: a full-page capture
# re-lays out the page and costs seconds for a long chapter.
WINDOW = (1280, 1600)
# The two screens of the layout checks: a laptop, where every display equation and
# code line fits the column, and a phone, where they may scroll (visibly).
LAPTOP = (1366, 768)
PHONE = (390, 844)

if not (HTML / "index.html").exists():
    pytest.fail(
        f"{HTML} has no index.html: build the site first (make check-site)",
        pytrace=False,
    )

PAGES = sorted(
    path.relative_to(HTML).as_posix()
    for path in HTML.rglob("*.html")
    if not any(part.startswith("_") for part in path.relative_to(HTML).parts)
)

# Flags for a machine without network access: no sandbox (CI runs as root), and no
# background connections that would only be refused and logged.
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
    "--hide-scrollbars",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
]

# Waits for every image (including lazy ones) to finish loading or failing.
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

# Waits for MathJax's first typesetting pass, then reports what it did.
WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
const report = (loaded) => {
  const maths = Array.from(document.querySelectorAll(".math"));
  done({
    loaded: loaded,
    maths: maths.length,
    typeset: document.querySelectorAll("mjx-container").length,
    untypeset: maths.filter(m => !m.querySelector("mjx-container"))
                    .map(m => m.textContent.trim().slice(0, 80)),
    errors: Array.from(document.querySelectorAll("mjx-merror"))
                 .map(e => e.getAttribute("data-mjx-error") || e.textContent),
  });
};
if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
  MathJax.startup.promise.then(() => report(true), () => report(true));
} else {
  report(false);
}
"""

# The text a reader sees outside code and typeset maths.
PROSE_TEXT = """
const copy = document.body.cloneNode(true);
copy.querySelectorAll("pre, code, script, style, textarea, mjx-container")
    .forEach(e => e.remove());
return copy.textContent;
"""

# Tables wider than the column they sit in: their last columns scroll out of view.
WIDE_TABLES = """
return Array.from(document.querySelectorAll("article table"))
  .filter(table => table.scrollWidth > table.parentElement.clientWidth + 1)
  .map(table => `${table.scrollWidth}px in ${table.parentElement.clientWidth}px: `
                + table.textContent.trim().replace(/\\s+/g, " ").slice(0, 60));
"""

# Opens every <details> (the code cells of hidden inputs), so that their code is
# measured as a reader who opens them sees it.
OPEN_DETAILS = "document.querySelectorAll('details').forEach(d => { d.open = true; });"

# Lets a resized page settle: two animation frames, so that the ResizeObservers of
# _static/scroll-cue.js have run.
SETTLE = """
const done = arguments[arguments.length - 1];
requestAnimationFrame(() => requestAnimationFrame(() => done()));
"""

# Display equations and code blocks wider than the box they show in: content beyond
# their own box (scrolled out of view), or a box cut off by an ancestor that clips.
# With arguments[0] true (the phone), content that scrolls (overflow-x auto or scroll)
# with a visible cue (the shadow of _static/scroll-cue.css) is allowed. Each is
# reported with the px hidden and its first 60 characters (for maths, its TeX).
WIDE_BLOCKS = """
const phone = arguments[0];
const tex = new Map();
if (window.MathJax && MathJax.startup && MathJax.startup.document) {
  for (const item of MathJax.startup.document.math) {
    tex.set(item.typesetRoot, item.math);
  }
}
const found = [];
for (const el of document.querySelectorAll(
    "article mjx-container[display='true'], article div.highlight pre")) {
  if (!el.getClientRects().length) continue;  // not rendered
  const style = getComputedStyle(el);
  const beyond = el.scrollWidth - el.clientWidth;
  let clipped = 0;
  const box = el.getBoundingClientRect();
  for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
    if (getComputedStyle(a).overflowX === "visible") continue;
    const left = a.getBoundingClientRect().left + a.clientLeft;
    clipped = Math.max(clipped, box.right - (left + a.clientWidth), left - box.left);
  }
  const scrolls = ["auto", "scroll"].includes(style.overflowX);
  const cue = scrolls && style.boxShadow !== "none";
  if (clipped > 1 || (beyond > 1 && !(phone && cue))) {
    const kind = el.tagName === "PRE" ? "code" : "equation";
    const how = clipped > 1 ? "cut off by its container"
              : !scrolls ? "spills out, no scrolling"
              : phone ? "scrolls with no visible cue" : "scrolls sideways";
    const text = (tex.get(el) ?? el.textContent).trim().replace(/\\s+/g, " ");
    found.push(`${kind}, ${Math.round(Math.max(beyond, clipped))}px too wide `
               + `(${how}): ${text.slice(0, 60)}`);
  }
}
return found;
"""

RAW_MATH = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\\end\{")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value)


@functools.cache
def anchors(path):
    """The ids (and <a name=...>) in one HTML file of the site."""
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8"))
    return frozenset(parser.ids)


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(_Quiet, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _executable(names, variable):
    found = os.environ.get(variable) or next(
        filter(None, map(shutil.which, names)), None
    )
    if not found:
        pytest.fail(
            f"none of {names} found (set {variable}); `make check-site` installs "
            "Debian's chromium and chromium-driver",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = _executable(["chromium", "chromium-browser"], "CHROMIUM")
    profile = tempfile.mkdtemp(prefix="gmm-site-chromium-")
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=_executable(["chromedriver"], "CHROMEDRIVER"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def broken_links(hrefs, server):
    """Links to the local site whose file, or whose #anchor in it, does not exist."""
    broken = []
    for href in sorted(set(hrefs)):
        url = urlsplit(href)
        if f"{url.scheme}://{url.netloc}" != server:
            continue
        path = HTML / unquote(url.path).lstrip("/")
        if url.path.endswith("/"):
            path = path / "index.html"
        if not path.is_file():
            broken.append(f"{href} (no file {path.relative_to(HTML)})")
        elif (
            url.fragment
            and path.suffix == ".html"
            and unquote(url.fragment) not in anchors(path)
        ):
            broken.append(f"{href} (no id {unquote(url.fragment)!r})")
    return broken


@pytest.mark.parametrize("page", PAGES)
def test_page(page, browser, server):
    browser.get_log("browser")  # drop messages left by the previous page
    browser.set_window_size(*WINDOW)  # the previous page ended on the phone
    browser.get(f"{server}/{page}")
    WebDriverWait(browser, 60).until(
        lambda driver: driver.execute_script("return document.readyState") == "complete"
    )

    failed_images = browser.execute_async_script(WAIT_FOR_IMAGES)
    mathjax = browser.execute_async_script(WAIT_FOR_MATHJAX)
    prose = browser.execute_script(PROSE_TEXT)
    wide_tables = browser.execute_script(WIDE_TABLES)
    hrefs = browser.execute_script(
        "return Array.from(document.querySelectorAll('a[href]'), a => a.href)"
    )
    errors = [
        entry["message"]
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE"
    ]

    browser.save_screenshot(
        SCREENSHOTS / (page.removesuffix(".html").replace("/", "__") + ".png")
    )

    browser.execute_script(OPEN_DETAILS)
    too_wide = {}
    for name, size in (("laptop", LAPTOP), ("phone", PHONE)):
        browser.set_window_size(*size)
        browser.execute_async_script(SETTLE)
        too_wide[name] = browser.execute_script(WIDE_BLOCKS, name == "phone")

    problems = {
        "errors logged by the browser": errors,
        "images that did not load": failed_images,
        "maths that MathJax did not typeset": mathjax["untypeset"],
        "TeX errors": mathjax["errors"],
        "raw TeX left in the text": sorted(set(RAW_MATH.findall(prose))),
        "broken internal links": broken_links(hrefs, server),
        "tables wider than the page": wide_tables,
        f"equations and code wider than the column at {LAPTOP[0]} x {LAPTOP[1]}": (
            too_wide["laptop"]
        ),
        f"equations and code cut off at {PHONE[0]} x {PHONE[1]}": too_wide["phone"],
    }
    if mathjax["maths"] and not mathjax["loaded"]:
        problems["MathJax"] = [
            f"{mathjax['maths']} maths elements, but MathJax did not load"
        ]
    problems = {kind: found for kind, found in problems.items() if found}
    assert not problems, f"{page}:\n" + "\n".join(
        f"  {kind} ({len(found)}):\n" + "\n".join(f"    {item}" for item in found[:5])
        for kind, found in problems.items()
    )
    assert mathjax["typeset"] >= mathjax["maths"]


def test_pages_were_found():
    """The pages the browser visits: the book's pages and Sphinx's index pages."""
    assert {
        "intro.html",
        "api.html",
        "notation.html",
        "run_it_yourself.html",
        "bibliography.html",
        "genindex.html",
        "search.html",
    } <= set(PAGES)
    assert any(page.startswith("chapters/") for page in PAGES)
