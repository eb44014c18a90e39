# Why not sphinx.ext.autosummary (tried with Sphinx 7.4.7 and Jupyter Book 1.0.4:
# autosummary_generate, autosummary_ignore_module_all false so that a template's
# `members` is gmmlib.__all__, `:recursive:`, `:toctree: api`, and a template in
# _templates/autosummary/ writing the table and one automodule per module):
# - `:recursive:` leaves out gmmlib.free_energy: gmmlib also exports a function
#   free_energy, and autosummary skips a submodule that a package attribute shadows
#   (generate._get_modules, "module was overwritten"). The module's entries vanish
#   and the links to them fail the strict build.
# - Its table renders every summary in one module (gmmlib), so the summaries that
#   say :func:`em_two_gaussians`, :func:`fit_grid` and :func:`isotropic_parameters`
#   fail the nitpicky build; it has no "Defined in" column, and a name without a
#   docstring gets an empty summary, not a warning.
# - Only an entry with `:toctree:` is generated, and the toctree it adds is a
#   warning (so an error) under Jupyter Book's external TOC ("toctree directive not
#   expected with external-toc", etoc.toctree). The page it writes into the source
#   tree (api/gmmlib.rst) must be listed in _toc.yml: otherwise only_build_toc_files
#   excludes it from the next build, and every {py:func} link of the chapters breaks.
# Working around them (the module list passed in autosummary_context, a module per
# row, a suppressed etoc.toctree, a TOC entry for a generated file) takes about as
# many lines as the two directives, and still loses the column and the warning.
"""The API reference of gmmlib, generated from the package when the book is built.

Two directives, used on ``api.md`` inside ``{eval-rst}`` blocks:

``gmmlib-api-summary``
    A table of every name in ``gmmlib.__all__``: the name to import, the module
    that defines it and the first line of its docstring, linked to its entry.
``gmmlib-api-modules``
    One section per module of gmmlib, with ``automodule``, ``:members:`` and
    ``:inherited-members:`` (a class lists the methods it inherits from a gmmlib
    base class, such as ``fit`` from :class:`gmmlib.mixture.BaseMixture`): every
    public module, and every module that defines a name of ``gmmlib.__all__``.

Nothing lists names or modules by hand: a module added to ``gmmlib/`` and a name
added to ``gmmlib.__all__`` appear on the next build. A name of ``__all__``
without a docstring, or defined outside gmmlib, is reported as a Sphinx warning,
which fails the strict build (``make book``).

Three event handlers make the docstrings render as written: ``gmmlib.Name``
resolves to the object the package exports under that name, members that
scikit-learn adds to estimator classes are left out, and fitted-attribute names
in numpydoc types (``n_iter_``) are written as literals.
"""

import importlib
import inspect
import pkgutil
import re

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

PACKAGE = "gmmlib"
logger = logging.getLogger(__name__)


def exported_objects(package):
    """``(name, object, defining module name)`` for every name in ``package.__all__``."""
    rows = []
    for name in package.__all__:
        obj = getattr(package, name)
        if inspect.ismodule(obj):
            module = obj.__name__
        elif inspect.isclass(obj) or inspect.isroutine(obj):
            module = obj.__module__
        else:
            module = next(
                (
                    mod.__name__
                    for mod in map(importlib.import_module, all_modules(package))
                    if getattr(mod, name, None) is obj
                ),
                package.__name__,
            )
        rows.append((name, obj, module))
    return rows


def all_modules(package):
    """Names of the package's modules that do not start with an underscore."""
    return [
        f"{package.__name__}.{info.name}"
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_")
    ]


def documented_modules(package):
    """Public modules, and the modules that define an exported name, sorted."""
    modules = set(all_modules(package))
    modules.update(
        module
        for _, obj, module in exported_objects(package)
        if not inspect.ismodule(obj)
    )
    return sorted(modules)


def summary_line(obj):
    """First paragraph of the docstring, on one line."""
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n")[0].split())


def reference(name, obj, module):
    """A cross-reference to the entry that ``automodule`` writes for the object."""
    if inspect.ismodule(obj):
        return f":py:mod:`{name} <{module}>`"
    role = (
        "class"
        if inspect.isclass(obj)
        else "func"
        if inspect.isroutine(obj)
        else "data"
    )
    return f":py:{role}:`{name} <{module}.{name}>`"


class SummaryDirective(SphinxDirective):
    """Table of ``gmmlib.__all__``: name, defining module, one-line summary."""

    def run(self):
        package = importlib.import_module(PACKAGE)
        lines = [
            ".. list-table::",
            "   :header-rows: 1",
            "   :widths: 30 25 45",
            "",
            f"   * - ``from {PACKAGE} import ...``",
            "     - Defined in",
            "     - Summary",
        ]
        for name, obj, module in exported_objects(package):
            if not module.startswith(PACKAGE):
                logger.warning(
                    f"{PACKAGE}.{name} is defined in {module}, outside {PACKAGE}: "
                    "the API reference cannot document it",
                    location=self.get_location(),
                )
            if not inspect.getdoc(obj):
                logger.warning(
                    f"{PACKAGE}.{name} has no docstring", location=self.get_location()
                )
            # currentmodule: a summary that says :func:`name` means a name of its own module
            lines += [
                f"   * - {reference(name, obj, module)}",
                f"     - .. py:currentmodule:: {module}",
                "",
                f"       :py:mod:`{module}`",
                f"     - {summary_line(obj)}",
            ]
        lines += ["", ".. py:currentmodule:: None"]
        container = nodes.container(classes=["gmmlib-api-summary"])
        self.state.nested_parse(
            StringList(lines, source=self.get_source_info()[0]),
            self.content_offset,
            container,
        )
        return [container]


class ModulesDirective(SphinxDirective):
    """One section per module, each holding ``automodule`` with its members, inherited too."""

    def run(self):
        package = importlib.import_module(PACKAGE)
        sections = []
        for module in documented_modules(package):
            # An incremental build re-reads this page when a module's source changes.
            self.env.note_dependency(importlib.import_module(module).__file__)
            section = nodes.section(ids=[nodes.make_id(f"api-{module}")])
            section += nodes.title(module, "", nodes.literal(module, module))
            lines = [
                f".. automodule:: {module}",
                "   :members:",
                "   :inherited-members:",
            ]
            self.state.nested_parse(
                StringList(lines, source=self.get_source_info()[0]),
                self.content_offset,
                section,
            )
            sections.append(section)
        return sections


def skip_foreign_members(app, what, name, obj, skip, options):
    """Skip class members defined outside gmmlib.

    scikit-learn's metadata routing adds ``set_fit_request``-style methods to every
    estimator class; their docstrings belong to scikit-learn's documentation and
    refer to its glossary, which this book does not have.
    """
    module = getattr(obj, "__module__", None)
    if (
        what == "class"
        and inspect.isroutine(obj)
        and module
        and not module.startswith(PACKAGE)
    ):
        return True
    return None


# A numpydoc "name : type" line, and a word that ends in an underscore (not in backticks).
PARAMETER_LINE = re.compile(r"^(\s*[\w*][\w*, ]* : )(.*)$")
FITTED_ATTRIBUTE = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?![\w`])")


def literal_attributes_in_types(app, what, name, obj, options, lines):
    """Write fitted-attribute names in numpydoc types as literals.

    scikit-learn's idiom ``history_ : ndarray of shape (n_iter_,)`` puts ``n_iter_``
    in the type, which reStructuredText reads as a link to a target "n_iter" that
    does not exist (an error). Runs before numpydoc, on the docstring as written.
    """
    for index, line in enumerate(lines):
        match = PARAMETER_LINE.match(line)
        if match and "`" not in match.group(2):
            lines[index] = match.group(1) + FITTED_ATTRIBUTE.sub(
                r"``\1``", match.group(2)
            )


def resolve_public_names(app, env, node, contnode):
    """Resolve ``gmmlib.Name`` (and ``gmmlib.Name.attribute``) to the documented object.

    Docstrings refer to exported objects by the name readers import them by,
    ``gmmlib.GaussianMixture``; the reference documents them where they are
    defined, ``gmmlib.gaussian_mixture.GaussianMixture``.
    """
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith(PACKAGE + "."):
        return None
    package = importlib.import_module(PACKAGE)
    name, _, rest = target[len(PACKAGE) + 1 :].partition(".")
    defined_in = {
        exported: module
        for exported, obj, module in exported_objects(package)
        if not inspect.ismodule(obj)
    }
    if name not in defined_in or defined_in[name] == PACKAGE:
        return None
    canonical = ".".join(filter(None, [defined_in[name], name, rest]))
    return env.get_domain("py").resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], canonical, node, contnode
    )


def setup(app):
    app.setup_extension("sphinx.ext.autodoc")
    app.connect("autodoc-skip-member", skip_foreign_members)
    app.connect("autodoc-process-docstring", literal_attributes_in_types, priority=400)
    app.connect("missing-reference", resolve_public_names)
    app.add_directive("gmmlib-api-summary", SummaryDirective)
    app.add_directive("gmmlib-api-modules", ModulesDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
