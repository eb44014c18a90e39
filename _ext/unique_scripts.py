"""Write each <script> once per page.

With Sphinx 7.4, a script that an extension adds as inline code after the builder
started (sphinx-thebe's ``const THEBE_JS_URL = ...``, sphinx-togglebutton's
selector) reaches the page twice: once with the file name ``None`` and once, from
the registry, with ``''``, which Sphinx's own check treats as different files. The
second ``const`` declaration is a JavaScript SyntaxError in every page, which the
browser test (`make check-site`) reports. This extension drops the repeats.
"""


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    seen = set()
    unique = []
    for script in context.get("script_files", []):
        key = (script.filename or "", tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    # After the extensions that add page-specific scripts in html-page-context.
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
