"""Batch grids (models × modes × suites) as papermill-parameterized notebooks.

`reports/templates/batch.ipynb` runs `cibench run` once per mode with every model, then
`cibench report` over the resulting run folders; papermill executes it with the grid as
parameters and keeps the executed notebook as the record of the batch.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from .errors import CibenchError
from .resources import templates_dir

log = logging.getLogger(__name__)

def run_batch(parameters: dict[str, Any], executed: Path, template: Path | None = None) -> Path:
    """Execute the batch template with papermill; returns the executed notebook's path."""
    template = template or templates_dir() / "batch.ipynb"
    try:
        import papermill
    except ImportError as exc:
        raise CibenchError("papermill is not installed", hint='pip install -e ".[batch]"') from exc
    if not template.is_file():
        raise CibenchError("batch template not found", path=template)
    executed = Path(executed)
    executed.parent.mkdir(parents=True, exist_ok=True)
    log.info("papermill %s -> %s", template, executed)
    try:
        papermill.execute_notebook(str(template), str(executed), parameters=parameters,
                                   cwd=os.getcwd(), kernel_name="python3", progress_bar=False)
    except papermill.PapermillExecutionError as exc:
        raise CibenchError(f"batch cell {exc.cell_index} failed: {exc.ename}: {exc.evalue}",
                           path=executed, cell=exc.cell_index) from exc
    return executed
