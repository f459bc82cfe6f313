"""The intent evaluation notebook runs end to end on a small sample."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "intent_evaluation.ipynb"


def test_notebook_evaluates_a_small_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAIROS_NOTEBOOK_SAMPLE", "5")
    monkeypatch.setenv("KAIROS_NOTEBOOK_ENCODER", "hashing")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "assert SAMPLE == 5 and len(examples) == 5 * 2 * (len(data.catalog) + 1)\n"
        "assert set(per_language) == {'de', 'en'}\n"
        "assert all(0.0 <= a <= 1.0 for a in per_language.values())\n"
        "assert len(mean_conf) > 0 and 0.0 <= ece <= 1.0\n"
        "print('checked')"
    ))  # fmt: skip
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})  # fmt: skip
    client.execute()
    assert "checked" in nb.cells[-1].outputs[0]["text"]
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]  # fmt: skip
    assert len(images) == 2  # confusion matrix and calibration plot
