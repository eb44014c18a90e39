"""Every chapter runs twice in fresh kernels with the same printed output, offline.

Each chapter is executed with a first cell that makes any connection to a
non-loopback address raise, so a chapter that reads the network fails here.
"""

from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

CHAPTERS = sorted((Path(__file__).parents[1] / "chapters").glob("*.md"))

NETWORK_GUARD = '''
import socket
_connect = socket.socket.connect
_LOOPBACK = ("127.", "::1", "localhost")

def _loopback_only(self, address):
    host = address[0] if isinstance(address, tuple) else str(address)
    if self.family in (socket.AF_INET, socket.AF_INET6) and not str(host).startswith(_LOOPBACK):
        raise OSError(f"network access is not allowed in a chapter: {address}")
    return _connect(self, address)

socket.socket.connect = _loopback_only
'''


def run_offline(notebook, directory):
    """Execute a copy of the notebook behind the network guard; return its text outputs."""
    notebook = nbformat.from_dict(notebook)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(NETWORK_GUARD))
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(directory)}}).execute()
    return [text_outputs(cell) for cell in notebook.cells if cell.cell_type == "code"]


def text_outputs(cell):
    """What a reader sees printed: streams and plain-text results of one cell."""
    texts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            texts.append(output["text"])
        elif "data" in output and "text/plain" in output["data"]:
            texts.append(output["data"]["text/plain"])
    return texts


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[path.stem for path in CHAPTERS])
def test_chapter_output_is_reproducible_offline(chapter):
    notebook = jupytext.read(chapter)
    first = run_offline(notebook, chapter.parent)
    second = run_offline(notebook, chapter.parent)
    assert first == second


def test_the_network_guard_blocks_outside_addresses(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import socket\n"
        "socket.create_connection(('192.0.2.1', 80), timeout=1)")])
    with pytest.raises(CellExecutionError, match="network access is not allowed"):
        run_offline(notebook, tmp_path)
