"""Unit tests of the pure metric functions in ``cibench.scoring``.

Covers both profiles (DEFAULT and CIBENCH) of the numeric, text and visual
metrics, pass@k, and the figure-data hook run inside a real IPython kernel.
"""

from __future__ import annotations

import base64
import io
import math
import os
from collections.abc import Iterator
from math import comb

import pytest

from cibench.scoring.figure_data import (
    COLLECT_CODE,
    KERNEL_HOOK_CODE,
    MARKER,
    figure_data_similarity,
    parse_collected,
    summarize_figure_local,
)
from cibench.scoring.numeric import num_match, num_match_cibench, parse_numbers
from cibench.scoring.passk import pass_at_k
from cibench.scoring.text import text_score, text_score_cibench
from cibench.scoring.visual import ssim_cibench, ssim_default

# --------------------------------------------------------------------------- numeric


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("np.float64(4.0)", [4.0]),
        ("np.int64(3)", [3.0]),
        ("numpy.float32(1.5)", [1.5]),
        ("array([1, 2.5, -3e-2])", [1.0, 2.5, -0.03]),
        ("array([1., 2.])", [1.0, 2.0]),
        ("Decimal('1.5')", [1.5]),
        ("Fraction(1, 4)", [0.25]),
        ("True False None", []),
        ("1.234568e-04 and 1E+10", [1.234568e-04, 1e10]),
        ("1,234 then 1,2 then 12,345,678.5", [1234.0, 1.0, 2.0, 12345678.5]),
        ("1,234,56", [1.0, 234.0, 56.0]),
        ("12.5%", [12.5]),
        ("2020-01-05 and 3-5 and x -4", [2020.0, 1.0, 5.0, 3.0, 5.0, -4.0]),
        ("dtype: float64, col1, int32", []),
        ("Python 3.11.4", [3.11]),
        (".5", [0.5]),
    ],
)
def test_parse_numbers(text: str, numbers: list[float]) -> None:
    assert parse_numbers(text) == pytest.approx(numbers)


def test_parse_numbers_nan_inf() -> None:
    values = parse_numbers("nan NaN -inf np.float64(inf) information")
    assert math.isnan(values[0]) and math.isnan(values[1])
    assert values[2:] == [-math.inf, math.inf]


@pytest.mark.parametrize(
    ("expected", "found", "ok"),
    [
        ("6", "16", False),  # no substring false positive
        ("15", "1599", False),
        ("150", "np.int64(150)", True),  # numpy-2 repr
        ("4.0", "np.float64(4.0)", True),
        ("4", "4.0", True),
        ("0.1", "0.1000000001", True),  # within rel_tol 1e-6
        ("5.55", "5.6", False),  # rounding is not tolerated
        ("1.5e-3", "0.0015", True),  # scientific notation
        ("0.5", "50%", True),  # percent <-> fraction
        ("50%", "0.5", True),
        ("12.5%", "12.5", True),
        ("1,234", "1234", True),
        ("1 2 2", "[2, 1]", False),  # multiset: one 2 missing
        ("1 2 2", "array([2, 1, 2])", True),
        ("mean: 3.5, std: 1.2", "The std is 1.2 and the mean is 3.5", True),
        ("nan", "np.float64(nan)", True),
        ("-3", "3", False),
        ("Paris", "  Paris ", True),  # no numbers: whitespace-normalized equality
        ("True", "np.True_", True),
        ("'abc'", "abc", True),
        ("Paris", "London", False),
    ],
)
def test_num_match(expected: str, found: str, ok: bool) -> None:
    matched, why = num_match(expected, found)
    assert matched is ok, why
    assert "\n" not in why and why


def test_num_match_explanation_and_tolerance() -> None:
    assert num_match("5.55", "5.6") == (False, "expected 5.55, found 5.6")
    assert num_match("5.55", "5.6", rel_tol=0.01)[0]
    assert num_match("100", "101", abs_tol=1.5)[0]
    assert num_match("3", "no numbers here")[1] == "expected 3, found no number"


def test_num_match_many_numbers_is_fast() -> None:
    expected = " ".join(str(i * 0.5) for i in range(2000))
    found = " ".join(str(i * 0.5) for i in reversed(range(2000)))
    assert num_match(expected, found)[0]


@pytest.mark.parametrize(
    ("expected", "found", "ok"),
    [
        ("15", "1599", True),  # the anchor's substring false positive
        ("6", "16", True),
        ("150", "np.int64(150)", True),
        ("4", "4.0", True),  # substring, again
        ("4.0", "4", False),  # no numeric comparison
        (" 42\n", "42", True),
        ("0.5", "50%", False),
        ("", "anything", True),
    ],
)
def test_num_match_cibench(expected: str, found: str, ok: bool) -> None:
    assert num_match_cibench(expected, found)[0] is ok


# --------------------------------------------------------------------------- text


def test_text_identical_is_one() -> None:
    text = "The dataset has 150 rows and 5 columns."
    assert text_score(text, text) == pytest.approx(1.0)
    assert text_score_cibench(text, text) == pytest.approx(1.0)


def test_text_cjk() -> None:
    expected = "数据集共有150行和5列。"
    close = "数据集有150行，5列"
    other = "模型的准确率很高"
    assert text_score_cibench(expected, close) == pytest.approx(
        text_score_cibench("150 5", "150 5")
    )  # only the digits count there
    assert text_score_cibench("数据集", "数据集") == 0.0  # Chinese is invisible to the anchor
    assert text_score(expected, close) > 0.7
    assert text_score(expected, other) < 0.2
    assert text_score("数据集", "数据集") == pytest.approx(1.0)


def test_text_partial_and_order() -> None:
    a = "the quick brown fox jumps"
    assert 0.0 < text_score(a, "the quick red fox") < 1.0
    # ROUGE-L cares about order, ROUGE-1 does not.
    assert text_score_cibench(a, "jumps fox brown quick the") == pytest.approx(1.0)
    assert text_score(a, "jumps fox brown quick the") < 0.5
    assert text_score("", "") == 1.0
    assert text_score("abc", "") == 0.0
    assert text_score("3.14 is pi", "PI is 3.14") > 0.3


def test_text_score_equals_rouge_score_rougeL() -> None:
    import random

    from rouge_score import rouge_scorer

    from cibench.scoring.text import _CJKTokenizer

    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_CJKTokenizer())
    rnd = random.Random(7)
    for _ in range(200):
        a = " ".join(rnd.choice("abcde") for _ in range(rnd.randint(1, 25)))
        b = " ".join(rnd.choice("abcdef") for _ in range(rnd.randint(1, 25)))
        assert text_score(a, b) == pytest.approx(scorer.score(a, b)["rougeL"].fmeasure)


# --------------------------------------------------------------------------- visual


def _png(draw, *, figsize=(4, 3), dpi=60, rgb=False) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=figsize, dpi=dpi)
    draw(fig.add_subplot())
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    data = buf.getvalue()
    if rgb:
        from PIL import Image

        out = io.BytesIO()
        Image.open(io.BytesIO(data)).convert("RGB").save(out, format="PNG")
        data = out.getvalue()
    return data


def _line(ax) -> None:
    ax.plot([0, 1, 2, 3, 4], [1, 3, 2, 5, 4])
    ax.set_title("growth")


def _other_line(ax) -> None:
    ax.plot([0, 1, 2, 3, 4], [5, 1, 4, 0, 2], color="red")
    ax.set_title("decline")


def test_ssim_identical_and_rgba_vs_rgb() -> None:
    rgba = _png(_line)
    rgb = _png(_line, rgb=True)
    assert ssim_default(rgba, rgba) == pytest.approx(1.0)
    assert ssim_cibench(rgba, rgba) == pytest.approx(1.0)
    assert ssim_cibench(rgba, rgb) == 0.0  # channel mismatch: anchor scores 0
    assert ssim_cibench(rgb, rgba) == 0.0
    assert ssim_default(rgba, rgb) > 0.99


def test_ssim_sizes_and_dpi() -> None:
    small = _png(_line, dpi=50)
    large = _png(_line, dpi=100)
    other = _png(_other_line, dpi=50)
    wide = _png(_line, figsize=(6, 3), dpi=50)
    same_default = ssim_default(small, large)
    assert 0.5 < same_default < 1.0
    assert ssim_default(small, other) < same_default
    assert 0.0 < ssim_default(small, wide) < 1.0
    assert ssim_cibench(small, large) > ssim_cibench(small, other)


def test_ssim_bad_input_is_zero() -> None:
    good = _png(_line)
    assert ssim_default(good, b"not a png") == 0.0
    assert ssim_cibench(b"", good) == 0.0


# --------------------------------------------------------------------------- pass@k


def _pass_at_k_bruteforce(n: int, c: int, k: int) -> float:
    return 1.0 - comb(n - c, k) / comb(n, k)


@pytest.mark.parametrize(
    ("n", "c", "k"), [(10, 0, 1), (10, 3, 1), (10, 3, 5), (5, 1, 5), (20, 7, 3), (200, 13, 10)]
)
def test_pass_at_k(n: int, c: int, k: int) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(_pass_at_k_bruteforce(n, c, k))


def test_pass_at_k_hand_values() -> None:
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)  # C(3,2)/C(5,2)
    assert pass_at_k(5, 4, 2) == 1.0  # n - c < k
    assert pass_at_k(1, 0, 1) == 0.0
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


# --------------------------------------------------------------------------- figure data (local)


def _summary(draw, **kw) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=kw.get("figsize", (4, 3)), dpi=kw.get("dpi", 50))
    draw(fig.add_subplot())
    try:
        return summarize_figure_local(fig)
    finally:
        plt.close(fig)


def test_parse_collected() -> None:
    stdout = f'noise\n{MARKER}[{{"seq": 1}}]\n{MARKER}not json\n{MARKER}[{{"seq": 2}}]\n'
    assert [r["seq"] for r in parse_collected(stdout)] == [1, 2]
    assert parse_collected("nothing") == []


def test_figure_data_similarity_local() -> None:
    ref = _summary(_line)
    styled = _summary(
        lambda ax: (
            ax.plot([0, 1, 2, 3, 4], [1, 3, 2, 5, 4], "g--o", lw=3),
            ax.set_title("growth"),
        ),
        figsize=(8, 3),
    )
    assert figure_data_similarity(ref, ref) == pytest.approx(1.0)
    assert figure_data_similarity(ref, styled) == pytest.approx(1.0)
    assert figure_data_similarity(ref, _summary(_other_line)) < 0.3
    assert figure_data_similarity(ref, {"error": "x"}) == 0.0
    assert figure_data_similarity(ref, {"axes": "garbage"}) == 0.0


def test_figure_data_bar_vs_barh() -> None:
    cats, vals = ["a", "b", "c"], [3.0, 1.0, 2.0]
    bar = _summary(lambda ax: ax.bar(cats, vals))
    barh = _summary(lambda ax: ax.barh(cats, vals))
    changed = _summary(lambda ax: ax.bar(cats, [3.0, 1.0, 9.0]))
    assert figure_data_similarity(bar, barh) > 0.95
    assert figure_data_similarity(bar, changed) < 0.8


# --------------------------------------------------------------------------- figure data (kernel)

# Cells drawn in the kernel: name -> code.  Pairs below compare a reference
# with a candidate that is either right (same data, other style) or wrong.
FIGURE_CELLS: dict[str, str] = {
    "line": "plt.plot(x, y); plt.title('Sales'); plt.xlabel('day'); plt.show()",
    "line_style": (
        "plt.figure(figsize=(9, 3), dpi=40); plt.plot(x, y, 'r--o', lw=3); plt.grid();"
        " plt.title('Sales'); plt.xlabel('day'); plt.show()"
    ),
    "line_wrong": "plt.plot(x, y[::-1]); plt.title('Sales'); plt.xlabel('day'); plt.show()",
    "line_scaled": "plt.plot(x, y * 1.1); plt.title('Sales'); plt.xlabel('day'); plt.show()",
    "bar": "plt.bar(cats, vals); plt.title('Count by city'); plt.show()",
    "bar_seaborn": "sns.barplot(x=cats, y=vals, errorbar=None); plt.title('Count by city')",
    "bar_h": "plt.barh(cats, vals, color='orange'); plt.title('Count by city'); plt.show()",
    "bar_wrong": "plt.bar(cats, vals[::-1]); plt.title('Count by city'); plt.show()",
    "scatter": "plt.scatter(px, py); plt.show()",
    "scatter_style": (
        "idx = rng.permutation(len(px)); plt.figure(figsize=(5, 5));"
        " plt.scatter(px[idx], py[idx], s=80, c='k', marker='x')"
    ),
    "scatter_wrong": "plt.scatter(px, py + rng.normal(0, 1, len(py))); plt.show()",
    "pie": "plt.pie(vals, labels=cats); plt.show()",
    "pie_style": "plt.pie(vals, labels=cats, autopct='%1.1f%%', startangle=90); plt.show()",
    "pie_wrong": "plt.pie(vals[::-1] + [0, 0, 0, 5], labels=cats); plt.show()",
    "heat": "sns.heatmap(mat, annot=True)",
    "heat_style": "plt.figure(figsize=(8, 6)); sns.heatmap(mat, cmap='viridis')",
    "heat_wrong": "sns.heatmap(mat.T * 2 - 1, annot=True)",
    "line_as_bar": "plt.bar(x, y); plt.title('Sales'); plt.xlabel('day'); plt.show()",
}
# verdict: "right" (same data, other style), "wrong" (other data),
# "partial" (same data drawn as another kind of chart).
FIGURE_PAIRS: list[tuple[str, str, str]] = [
    ("line", "line_style", "right"),
    ("line", "line_wrong", "wrong"),
    ("line", "line_scaled", "wrong"),
    ("line", "line_as_bar", "partial"),
    ("bar", "bar_seaborn", "right"),
    ("bar", "bar_h", "right"),
    ("bar", "bar_wrong", "wrong"),
    ("scatter", "scatter_style", "right"),
    ("scatter", "scatter_wrong", "wrong"),
    ("pie", "pie_style", "right"),
    ("pie", "pie_wrong", "wrong"),
    ("heat", "heat_style", "right"),
    ("heat", "heat_wrong", "wrong"),
]
SETUP_CELL = """
import numpy as np, matplotlib.pyplot as plt, seaborn as sns
plt.rcParams['figure.dpi'] = 60  # small PNGs keep the SSIM part of the test fast
rng = np.random.default_rng(0)
x = np.arange(30); y = np.cumsum(rng.normal(1, 2, 30))
cats = ['Paris', 'Lyon', 'Nice', 'Lille']; vals = np.array([30., 12., 21., 7.])
px = rng.normal(0, 1, 60); py = 2 * px + rng.normal(0, .3, 60)
mat = np.corrcoef(rng.normal(size=(4, 50)))
"""


class _Kernel:
    """Minimal blocking kernel driver for the figure-data test."""

    def __init__(self) -> None:
        from jupyter_client.manager import start_new_kernel

        env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
        self.km, self.kc = start_new_kernel(kernel_name="python3", env=env)

    def run(self, code: str, **kwargs) -> tuple[str, list[bytes], str | None]:
        """Execute ``code``; return (stdout, PNG images, error name)."""
        msg_id = self.kc.execute(code, **kwargs)
        out: list[str] = []
        images: list[bytes] = []
        error = None
        while True:
            msg = self.kc.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind in ("display_data", "execute_result") and "image/png" in content["data"]:
                images.append(base64.b64decode(content["data"]["image/png"]))
            elif kind == "error":
                error = content["ename"]
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(out), images, error

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel() -> Iterator[_Kernel]:
    k = _Kernel()
    try:
        out, _, err = k.run(KERNEL_HOOK_CODE)
        assert out == "" and err is None
        yield k
    finally:
        k.close()


def _collect(kernel: _Kernel) -> list[dict]:
    out, images, err = kernel.run(COLLECT_CODE, store_history=False)
    assert err is None and not images
    return parse_collected(out)


@pytest.mark.kernel
def test_kernel_hook_records_figures(kernel: _Kernel) -> None:
    out, _, _ = kernel.run("print(sorted(k for k in globals() if 'cibench' in k))")
    assert out.strip() == "[]"  # the hook leaves no user-visible global
    assert _collect(kernel) == []  # matplotlib never imported: nothing, no error

    # plt.show() in the cell that imports pyplot, then an auto-flushed figure.
    _, images, err = kernel.run(
        "import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3], [4, 5, 6], label='a'); plt.title('T'); plt.legend(); plt.show()\n"
        "plt.figure(); plt.bar(['x', 'y', 'z'], [3, 1, 2])"
    )
    assert err is None and len(images) == 2
    # A seaborn figure flushed at the end of the cell; a closed figure is not shown.
    _, images, _ = kernel.run(
        "import seaborn as sns\nsns.barplot(x=['a', 'b'], y=[1.5, 2.5])\n"
        "f, a = plt.subplots(); a.plot([0, 1]); plt.close(f)"
    )
    assert len(images) == 1
    kernel.run("%reset -f")  # the recorder survives a namespace reset
    _, images, _ = kernel.run("import matplotlib.pyplot as plt\nplt.pie([1, 2, 3])")
    assert len(images) == 1

    records = _collect(kernel)
    assert [r["source"] for r in records] == ["display"] * 4
    line_ax = records[0]["axes"][0]
    assert line_ax["title"] == "T" and line_ax["legend"] == ["a"]
    assert line_ax["lines"][0]["xy"] == [[1, 4], [2, 5], [3, 6]]
    bars = records[1]["axes"][0]
    assert [r[3] for r in bars["bars"][0]["rects"]] == [3, 1, 2]
    assert bars["xticklabels"] == ["x", "y", "z"]
    sns_ax = records[2]["axes"][0]
    assert [r[3] for r in sns_ax["bars"][0]["rects"]] == [1.5, 2.5]
    wedges = records[3]["axes"][0]["wedges"]
    assert [round(w[1] - w[0]) for w in wedges] == [60, 120, 180]
    assert _collect(kernel) == []  # cleared by the previous collect

    # A figure left open without being drawn is reported as "open".
    kernel.run(
        "plt.ioff()\nf2 = plt.figure(); f2.add_subplot().plot([7, 8])"
    )
    records = _collect(kernel)
    assert [r["source"] for r in records] == ["open"]
    kernel.run("plt.close('all'); plt.ion()")

    # One record per image output: a figure as cell result and shown again by
    # the flush gives two images, two records; an error after plotting still flushes.
    _, images, _ = kernel.run("fig, ax = plt.subplots(); ax.plot([5, 6]); fig")
    _, more, err = kernel.run("plt.plot([1, 2]); 1 / 0")
    assert len(images) == 2 and len(more) == 1 and err == "ZeroDivisionError"
    assert len(_collect(kernel)) == 3


def measure_figure_pairs(kernel: _Kernel) -> list[dict]:
    """Draw FIGURE_CELLS in ``kernel``; score FIGURE_PAIRS with every metric."""
    _, _, err = kernel.run(SETUP_CELL)
    assert err is None
    _collect(kernel)
    # One cell, one plt.show() per figure: records come back in image order.
    names = list(FIGURE_CELLS)
    _, images, err = kernel.run("\n".join(FIGURE_CELLS[n] + "\nplt.show()" for n in names))
    records = _collect(kernel)
    assert err is None and len(images) == len(records) == len(names)
    data = dict(zip(names, records, strict=True))
    pngs = dict(zip(names, images, strict=True))
    rows = []
    for ref, cand, verdict in FIGURE_PAIRS:
        rows.append(
            {
                "pair": f"{ref} vs {cand}",
                "verdict": verdict,
                "figure_data": figure_data_similarity(data[ref], data[cand]),
                "ssim_default": ssim_default(pngs[ref], pngs[cand]),
                "ssim_cibench": ssim_cibench(pngs[ref], pngs[cand]),
            }
        )
    return rows


@pytest.mark.kernel
def test_figure_data_separates_right_from_wrong(kernel: _Kernel) -> None:
    rows = measure_figure_pairs(kernel)
    by_verdict: dict[str, list[float]] = {"right": [], "wrong": [], "partial": []}
    for row in rows:
        by_verdict[row["verdict"]].append(row["figure_data"])
    assert min(by_verdict["right"]) > 0.9, rows
    assert max(by_verdict["wrong"]) < 0.4, rows
    assert all(0.4 < v < 0.8 for v in by_verdict["partial"]), rows
    # SSIM cannot tell them apart: a wrong figure often outscores a right one.
    assert max(r["ssim_default"] for r in rows if r["verdict"] == "wrong") > min(
        r["ssim_default"] for r in rows if r["verdict"] == "right"
    )
