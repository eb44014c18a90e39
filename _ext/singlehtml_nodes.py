"""Let the single-page HTML builder render every node the HTML builder renders.

`make pdf` prints the book from Sphinx's single-page HTML build
(``jupyter-book build . --builder singlehtml``). Sphinx looks up the visitors of
extension nodes by builder name first and falls back to the output format
(``html``) only when no extension registered any visitor for that builder name.
sphinx-exercise registers its nodes for ``singlehtml`` explicitly, so the
fallback is lost for every other extension: sphinx-proof's theorem, definition
and proof boxes, registered for ``html`` only, then stop the build with
"unknown node type". This extension gives the ``singlehtml`` builder each
``html`` visitor it lacks.
"""


def share_html_visitors(app):
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for node, visitors in handlers.get("html", {}).items():
        single.setdefault(node, visitors)


def setup(app):
    # builder-inited runs after every extension's setup() has registered its
    # nodes, and before the translator is created.
    app.connect("builder-inited", share_html_visitors)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
