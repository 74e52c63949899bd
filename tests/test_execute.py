"""Figure data read from the cell's own execute_reply (a user expression), and the collect cell
it falls back to; real kernels."""

from __future__ import annotations

from pathlib import Path

import pytest

from cibench import execute
from cibench.execute import FIGURES, figures_after
from cibench.kernel import KernelSession, startup_code

pytestmark = pytest.mark.kernel

PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [4, 5, 7], label='a')\nplt.show()"


def _data(figure: dict) -> dict:
    return {k: v for k, v in figure.items() if k not in ("seq", "execution_count")}


async def test_figures_come_with_the_reply_and_fall_back_to_a_collect_cell(tmp_path: Path,
                                                                           monkeypatch) -> None:
    calls = []
    real = execute.collect_figures

    async def counted(kernel):
        calls.append(1)
        return await real(kernel)
    monkeypatch.setattr(execute, "collect_figures", counted)
    async with KernelSession(tmp_path, startup_code=startup_code()) as kernel:
        ok = await kernel.execute(PLOT, expressions=FIGURES)
        figures = await figures_after(kernel)
        assert ok.ok and not calls  # no collect cell: the data came with the reply
        assert figures[0]["axes"][0]["lines"][0]["xy"] == [[1, 4], [2, 5], [3, 7]]
        # the same data as a collect cell gives (but for the figure's counters)
        await kernel.execute(PLOT)
        assert [_data(f) for f in await real(kernel)] == [_data(f) for f in figures]
        # a cell that fails gets no user expressions: the collect cell still finds its figure
        failed = await kernel.execute(PLOT + "\nraise ValueError('after the plot')",
                                      expressions=FIGURES)
        again = await figures_after(kernel)
        assert failed.error_name == "ValueError" and len(calls) == 1
        assert again[0]["axes"][0]["lines"][0]["xy"] == figures[0]["axes"][0]["lines"][0]["xy"]
        # anything but the repr of one string in the reply is not trusted: collect instead
        await kernel.execute(PLOT)
        kernel.last_expressions = {"figures": {"status": "ok",
                                               "data": {"text/plain": "[{'axes': []}]"}}}
        assert (await figures_after(kernel))[0]["axes"] and len(calls) == 2
