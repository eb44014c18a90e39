"""Apply ruff's formatter and safe fixes to the code cells of MyST chapters.

`make format` runs this on chapters/*.md. jupytext reads each chapter into a
notebook and writes it back; ruff formats and fixes the notebook's code cells in
its own notebook mode (which understands IPython magics such as `%pip` and works
cell by cell), reading and writing the notebook through stdin and stdout. The
settings are ruff's for the chapter (chapters/ruff.toml, found from the
chapter's path). Only the sources of code cells are taken from ruff's output:
the cells' metadata stay the objects jupytext read, in their original order.

One adjustment to jupytext: its YAML writer would turn a multi-line string (a
figure caption written as a `|` block) into a quoted string, so multi-line
strings are written as `|` blocks again. A chapter that jupytext would not write
back exactly as it is stops the script before anything is written.

`make lint` does not use this script: it pipes each chapter from
`jupytext --to ipynb --output -` into ruff, which reads it as a notebook.
"""

import subprocess
import sys
from pathlib import Path

import jupytext
from jupytext.myst import CompactDumper

RUFF = str(Path(sys.executable).with_name("ruff"))


def represent_str(dumper, data):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


CompactDumper.add_representer(str, represent_str)


def ruff(args, notebook, path):
    """Run ruff on the notebook through stdin; return the notebook it prints."""
    stdin_name = str(path.with_suffix(".ipynb"))
    result = subprocess.run(
        [RUFF, *args, "--stdin-filename", stdin_name, "-"],
        input=jupytext.writes(notebook, fmt="ipynb"),
        capture_output=True,
        text=True,
        check=False,
    )
    # `ruff check --fix-only` exits with 0, `ruff format` with 0 or 2 (error)
    if result.returncode != 0:
        sys.exit(f"{path}: ruff {' '.join(args)} failed:\n{result.stderr}")
    return jupytext.reads(result.stdout, fmt="ipynb")


def format_chapter(path):
    text = path.read_text(encoding="utf-8")
    notebook = jupytext.reads(text, fmt="md:myst")
    if jupytext.writes(notebook, fmt="md:myst") != text:
        sys.exit(
            f"{path}: jupytext would not write this chapter back unchanged; "
            "format its code cells by hand"
        )
    fixed = ruff(["check", "--fix-only", "--quiet"], notebook, path)
    fixed = ruff(["format", "--quiet"], fixed, path)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    new_code = [cell for cell in fixed.cells if cell.cell_type == "code"]
    assert len(code) == len(new_code), path
    for cell, new_cell in zip(code, new_code, strict=True):
        cell.source = new_cell.source
    new_text = jupytext.writes(notebook, fmt="md:myst")
    if new_text != text:
        path.write_text(new_text, encoding="utf-8")
        print(f"reformatted {path}")


if __name__ == "__main__":
    for name in sys.argv[1:]:
        format_chapter(Path(name))
