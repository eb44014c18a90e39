"""chapters/NN_topic.ipynb, the notebooks behind the launch buttons, match their .md sources.

The .md files are what the authors edit; `make ipynb` writes each .ipynb from its .md
(jupytext, no outputs). Colab and Binder open the .ipynb, so one left behind would
show readers an old chapter.
"""

from pathlib import Path

import jupytext
import pytest

CHAPTERS = sorted((Path(__file__).parents[2] / "chapters").glob("*.md"))


def cells(notebook):
    return [
        (cell.cell_type, cell.source, cell.metadata.get("tags", []))
        for cell in notebook.cells
    ]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_notebook_matches_its_chapter(chapter):
    notebook_path = chapter.with_suffix(".ipynb")
    assert notebook_path.exists(), f"{notebook_path.name} is missing: run `make ipynb`"
    notebook = jupytext.read(notebook_path)
    assert cells(notebook) == cells(jupytext.read(chapter)), (
        f"{notebook_path.name} differs from {chapter.name}: run `make ipynb`"
    )
    assert all(not cell.get("outputs") for cell in notebook.cells), (
        f"{notebook_path.name} holds outputs: run `make ipynb`"
    )


def test_every_chapter_offers_colab_its_install_cell():
    """On Colab the first code cell installs gmmlib; elsewhere it does nothing."""
    for chapter in CHAPTERS:
        first_code = next(
            cell for cell in jupytext.read(chapter).cells if cell.cell_type == "code"
        )
        assert 'if "google.colab" in sys.modules:' in first_code.source, chapter.name
        assert "remove-cell" in first_code.metadata.get("tags", []), chapter.name
