"""The offline policy evaluation notebook runs end to end on a small sample, and its estimates
of the logging policy agree with what was observed."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "offline_policy_evaluation.ipynb"


def test_notebook_replays_a_small_log_and_estimates_policies() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]
    [parameters] = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    parameters.source = "N_DECISIONS = 400\nSEED = 3\nBOOTSTRAP = 30"
    nb.cells.append(nbformat.v4.new_code_cell(  # type: ignore[no-untyped-call]
        "assert set(results) == set(POLICIES)\n"
        "logged = results['logging (Thompson)']\n"
        "assert abs(logged['IPS'][0] - rewards.mean()) < 0.05, (logged, rewards.mean())\n"
        "assert all(r['DR'][1] <= r['DR'][0] <= r['DR'][2] for r in results.values())\n"
        "print('checked')"
    ))  # fmt: skip
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})  # fmt: skip
    client.execute()
    assert "checked" in nb.cells[-1].outputs[0]["text"]
