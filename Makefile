# Two commands: `make book` builds the site, `make test` runs the tests.
# Both create the virtual environment in .venv on first use. `make lint` checks
# the code with ruff, `make format` rewrites it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CHAPTERS := $(sort $(wildcard chapters/*.md))
NBVAL_NOTEBOOKS := $(patsubst chapters/%.md,_build/nbval/%.ipynb,$(CHAPTERS))
EXECUTED_NOTEBOOKS := $(patsubst chapters/%.md,notebooks/%.ipynb,$(CHAPTERS))
CHAPTER_NOTEBOOKS := $(CHAPTERS:.md=.ipynb)

# Stable runs: two BLAS/OpenMP threads where one chapter or benchmark runs at a time
# (gmmlib's E-step then runs on two threads too), one where `make test` runs two
# pytest workers or two chapter kernels side by side, so the two cores are not
# oversubscribed.
book notebooks bench pdf: export OMP_NUM_THREADS := 2
book notebooks bench pdf: export OPENBLAS_NUM_THREADS := 2
book notebooks bench pdf: export MKL_NUM_THREADS := 2
test: export OMP_NUM_THREADS := 1
test: export OPENBLAS_NUM_THREADS := 1
test: export MKL_NUM_THREADS := 1
# Every chapter kernel starts with tests/book/offline/.../00_no_network.py: chapters
# that try to reach the network fail.
book test notebooks pdf: export IPYTHONDIR := $(CURDIR)/tests/book/offline

.PHONY: mclust venv book test lint format check-numerics ipynb notebooks lab check-site chromium pdf bench clean

venv: $(STAMP)

# Redone only when the pins or the package metadata change.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -r requirements.txt
	$(BIN)/python -m pip install -e . --no-deps
	touch $@

book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "$(CURDIR)/_build/html/index.html"

# MPLBACKEND=Agg is for the library tests only: set for a Jupyter kernel it would
# replace the inline backend, and the chapters' figures would silently vanish.
# The chapters then run twice in fresh kernels: jupytext executes each into
# _build/nbval, and nbval runs it again and compares every printed output with
# the first run (figures excepted), so a chapter must be reproducible.
test: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -n 2 tests
	rm -rf _build/nbval
	$(MAKE) -j 2 $(NBVAL_NOTEBOOKS)
	$(BIN)/python -m pytest -n 2 --dist loadfile -p no:cacheprovider --nbval \
		--nbval-current-env $(NBVAL_NOTEBOOKS)

# ruff over the Python sources (settings in pyproject.toml) and over the code
# cells of the chapters (chapters/ruff.toml: 79 columns). jupytext converts each
# chapter to a notebook on stdout and ruff reads it from stdin as that chapter's
# .ipynb, so ruff's notebook mode applies (IPython magics, rules taken cell by
# cell) and its reports name the chapter and the cell (counting all cells from
# 1). Nothing is written. Every check runs; the target fails if any failed.
# (Not `jupytext --check`: without --output it saves the chapter in place.)
# `make format` applies the formatter and ruff's safe fixes to the same files;
# tools/format_chapters.py writes the chapters' code cells back through jupytext.
LINT_PATHS := gmmlib tests benchmarks _ext tools

lint: $(STAMP)
	@status=0; \
	$(BIN)/ruff check $(LINT_PATHS) || status=1; \
	$(BIN)/ruff format --check --output-format concise $(LINT_PATHS) || status=1; \
	for chapter in $(CHAPTERS); do \
		notebook=$${chapter%.md}.ipynb; \
		$(BIN)/jupytext --quiet --to ipynb --output - $$chapter \
			| $(BIN)/ruff check --stdin-filename $$notebook - || status=1; \
		$(BIN)/jupytext --quiet --to ipynb --output - $$chapter \
			| $(BIN)/ruff format --diff --stdin-filename $$notebook - || status=1; \
	done; \
	exit $$status

format: $(STAMP)
	$(BIN)/ruff check --fix-only $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)
	$(BIN)/python tools/format_chapters.py $(CHAPTERS)

# The numerics matrix: the pytest suite and every chapter under each OpenBLAS kernel
# the CPU can run, with one and three BLAS threads, and with small gmmlib blocks
# (tests/numerics_matrix.py). Prints the kernels that ran and the assertions that
# came within a factor of ten of their tolerance.
check-numerics: $(STAMP)
	$(BIN)/python tests/numerics_matrix.py

_build/nbval/%.ipynb: chapters/%.md
	@mkdir -p $(@D)
	$(BIN)/jupytext --to ipynb --execute --output $@ $<

# chapters/NN_topic.ipynb: each chapter without outputs, made from its .md (never
# edited by hand), for the launch buttons: Colab opens only .ipynb files from the
# repository. tests/book/test_chapter_notebooks.py checks that they match the .md files.
# jupytext gives every new cell a random id; --update takes the cells' ids from the
# notebook already there, so an unchanged chapter gives an unchanged notebook. It
# also keeps that notebook's outputs, which nbconvert then clears (rewriting the
# file, so that it is newer than its .md even when nothing changed).
ipynb: $(CHAPTER_NOTEBOOKS)

chapters/%.ipynb: chapters/%.md | $(STAMP)
	$(BIN)/jupytext --update --to ipynb --output $@ $<
	$(BIN)/jupyter nbconvert --clear-output --inplace --log-level WARN $@

notebooks: $(EXECUTED_NOTEBOOKS)

notebooks/%.ipynb: chapters/%.md $(STAMP)
	@mkdir -p $(@D)
	$(BIN)/jupytext --to ipynb --execute --output $@ $<

# JupyterLab on the chapters, with the .md files opening as notebooks (jupytext):
# the settings in .binder/overrides.json are copied into the virtual environment.
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json

lab: $(STAMP)
	@mkdir -p $(dir $(LAB_OVERRIDES))
	cp .binder/overrides.json $(LAB_OVERRIDES)
	$(BIN)/jupyter lab

# The browser test: build the site, then open every page in headless Chromium
# (tests/book/site/test_site.py). Debian's chromium and chromium-driver are installed
# when missing.
# The landing page links to the PDF (make pdf), so the site is checked with it:
# made here when _build/html has no copy yet.
check-site: book
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || $(MAKE) chromium
	@test -f _build/html/$(notdir $(PDF)) || $(MAKE) pdf
	GMM_CHECK_SITE=1 $(BIN)/python -m pytest -p no:cacheprovider -v tests/book/site

# The whole book as one PDF: Sphinx's single-page HTML build (from the same
# execution cache as the site, so no chapter runs again), printed by the Chromium
# of `make chromium` once MathJax has typeset every formula
# (tools/print_pdf.py, print style tools/print_pdf.css). The PDF is copied into
# the site, whose landing page links to it, then tests/book/test_pdf.py checks it
# (every chapter, equation number, figure and reference; page count and size).
PDF := _build/pdf/gmm-em-book.pdf

pdf: book
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || $(MAKE) chromium
	$(BIN)/jupyter-book build . --builder singlehtml --warningiserror --nitpick --keep-going
	$(BIN)/python tools/print_pdf.py _build/singlehtml/intro.html $(PDF)
	cp $(PDF) _build/html/
	GMM_CHECK_PDF=1 $(BIN)/python -m pytest -p no:cacheprovider -v -s tests/book/test_pdf.py

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

chromium:
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver

# R's mclust, the second reference of the tests (tests/library/mclust_reference.py):
# Debian's r-base-core and r-cran-mclust, installed when Rscript or mclust is missing.
mclust:
	@Rscript -e "quit(status = !requireNamespace('mclust', quietly = TRUE))" 2>/dev/null \
		|| ($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y r-base-core r-cran-mclust)

# The benchmark lets OpenBLAS pick the machine's own kernel: a core type forced
# in the environment (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE) is dropped for this
# command only; the benchmark prints the kernel that ran.
bench: $(STAMP)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/bench_em.py
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/bench_acceleration.py
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/bench_default_fit.py

clean:
	rm -rf _build notebooks .pytest_cache
