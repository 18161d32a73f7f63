"""Every notebook in notebooks/ runs without errors, quickly, and is committed clean."""

from __future__ import annotations

import pathlib
import time

import nbformat
import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
BUDGET_S = 120.0  # all notebooks together
_elapsed: dict[str, float] = {}


def test_there_are_notebooks():
    assert "tour.ipynb" in [path.name for path in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, f"{path.name} has no code"
    for index, cell in enumerate(code):
        assert cell.outputs == [], f"{path.name}: code cell {index} has outputs"
        assert cell.execution_count is None, f"{path.name}: code cell {index} was run"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_runs_without_errors(path):
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=BUDGET_S,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    _elapsed[path.name] = time.perf_counter() - start
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", f"{path.name}: {output}"


@pytest.mark.slow
def test_all_notebooks_run_within_budget():
    # Runs after the notebooks themselves (pytest keeps file order).
    ran = [path.name for path in NOTEBOOKS if path.name in _elapsed]
    if len(ran) < len(NOTEBOOKS):
        pytest.skip("the notebooks did not all run in this session")
    total = sum(_elapsed.values())
    assert total < BUDGET_S, f"notebooks took {total:.0f} s: {_elapsed}"
