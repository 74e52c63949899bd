"""The report as one self-contained HTML page (the session notebooks beside it are rendered by
report_sessions).

`index.html` holds its CSS inline, uses no JavaScript and no network resource, and refers only
to files in its own folder by relative links (figures/*.png, sessions/**.html, the CSV, JSON
and Markdown files), so the folder can be copied or served anywhere. Every string that comes
from the data (model names, task titles, failure categories, paths) is escaped.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ._version import __version__
from .fsutil import atomic_write_text
from .report import DIFFICULTY_ORDER, TABLE_METRICS
from .report import LEADERBOARD_METRICS as LEADERBOARD_KEYS
from .report_figures import model_colours, series_label

LEADERBOARD_METRICS = tuple(label for _, label in LEADERBOARD_KEYS)
DASH = "–"

CSS = """
:root { --ink:#1d2330; --muted:#5b6474; --line:#dfe3ea; --soft:#f6f7f9; --accent:#0b5cad; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans",
  "DejaVu Sans", sans-serif; }
header.top { background: #1d2330; color: #fff; padding: 22px 40px 18px; }
header.top h1 { margin: 0 0 4px; font-size: 24px; font-weight: 650; letter-spacing: .2px; }
header.top .sub { color: #c5cbd6; font-size: 13px; }
header.top .sub code { color: #fff; background: rgba(255,255,255,.1); }
nav { background: #f1f3f6; border-bottom: 1px solid var(--line); padding: 8px 40px;
  font-size: 13px; }
nav a { margin-right: 16px; }
nav .files { float: right; color: var(--muted); }
nav .files a { margin: 0 0 0 12px; }
main { padding: 10px 40px 40px; max-width: 1500px; }
h2 { font-size: 19px; margin: 30px 0 6px; padding-bottom: 4px;
  border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 20px 0 6px; }
p.note, .muted { color: var(--muted); font-size: 13px; margin: 4px 0 10px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code { font: 12px/1.3 "DejaVu Sans Mono", Menlo, Consolas, monospace; background: var(--soft);
  padding: 1px 4px; border-radius: 3px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 16px 0 4px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 120px;
  background: #fff; }
.card b { display: block; font-size: 20px; font-variant-numeric: tabular-nums; }
.card span { color: var(--muted); font-size: 12px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { padding: 4px 9px; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; }
thead th { background: var(--soft); font-weight: 600; border-bottom: 2px solid #cfd5de;
  white-space: nowrap; }
thead tr.group th { text-align: center; border-bottom: 1px solid #cfd5de; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.na { color: #9aa2ae; text-align: center; }
td.avg { font-weight: 700; }
tr.first td { border-top: 2px solid #cfd5de; }
tbody tr:hover td { background: #fafbfd; }
td.group { font-weight: 600; background: #fff !important; }
.chip { display: inline-block; width: 11px; height: 11px; border-radius: 2px;
  margin-right: 6px; vertical-align: -1px; border: 1px solid rgba(0,0,0,.15); }
.badge { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 11.5px;
  line-height: 18px; white-space: nowrap; }
.badge.pass { background: #e3f4e8; color: #16632f; }
.badge.fail { background: #fde8e6; color: #9b1c12; }
.badge.err { background: #fff1d6; color: #7a4b00; }
.fail-list { font-size: 12px; color: #7a2a22; }
.fail-list span { display: block; white-space: nowrap; }
figure { margin: 14px 0 26px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
.skipped { border: 1px dashed #c4cad4; border-radius: 6px; padding: 10px 14px;
  color: var(--muted); background: var(--soft); margin: 8px 0 20px; }
.title { font-weight: 600; }
.tid { color: var(--muted); font-size: 12px; }
footer { color: var(--muted); font-size: 12px; border-top: 1px solid var(--line);
  margin-top: 36px; padding-top: 10px; }
"""


# --------------------------------------------------------------------------------------------
# small pieces

def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _href(relpath: str) -> str:
    """A relative link to a file in the report folder, URL-quoted then HTML-escaped."""
    return _e(quote(relpath, safe="/#"))


def _fmt(value: Any) -> str:
    if value is None:
        return DASH
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _heat(value: float) -> str:
    """A soft red-to-green background for a percentage."""
    hue = max(0.0, min(100.0, value)) * 1.2
    return f"background:hsl({hue:.0f},62%,92%)"


def _num(value: Any, *, heat: bool = False, cls: str = "") -> str:
    if value is None:
        return f'<td class="na{(" " + cls) if cls else ""}">{DASH}</td>'
    style = f' style="{_heat(float(value))}"' if heat and isinstance(value, (int, float)) else ""
    return f'<td class="num{(" " + cls) if cls else ""}"{style}>{_e(_fmt(value))}</td>'


def _chip(model: str, mode: str | None, colours: dict[str, str]) -> str:
    colour = colours.get(model, "#777777")
    if mode == "oracle":
        style = (f"background:repeating-linear-gradient(135deg,{colour} 0 2px,#fff 2px 4px);"
                 f"border-color:{colour}")
    else:
        style = f"background:{colour}"
    return f'<span class="chip" style="{style}"></span>'


def _series_cell(key: tuple[str, str, str], report: dict[str, Any],
                 colours: dict[str, str]) -> str:
    return f"<td>{_chip(key[0], key[1], colours)}{_e(series_label(key, report))}</td>"


def _present(dicts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The table metrics that have a value in at least one of these dicts."""
    return [(k, label) for k, label in TABLE_METRICS if any(d.get(k) is not None for d in dicts)]


def _table(head: str, body: list[str]) -> str:
    return f'<div class="scroll"><table>{head}<tbody>{"".join(body)}</tbody></table></div>'


# --------------------------------------------------------------------------------------------
# sections

def _overview(report: dict[str, Any]) -> str:
    sessions = report["sessions"]
    steps = sum(s["steps_total"] for s in sessions if s["status"] == "complete")
    passed = sum(s["steps_passed"] for s in sessions if s["status"] == "complete")
    errors = sum(1 for s in sessions if s["status"] != "complete")
    cards = [(len({s["model"] for s in sessions}), "models"),
             (len({(s["model"], s["mode"], s["scoring"]) for s in sessions}), "model × mode runs"),
             (len({s["task_id"] for s in sessions}), "tasks"),
             (len(sessions), "sessions"), (steps, "scored steps"),
             (f"{100.0 * passed / steps:.1f}%" if steps else DASH, "steps passed")]
    if errors:
        cards.append((errors, "sessions with infrastructure errors"))
    return '<div class="cards">' + "".join(
        f'<div class="card"><b>{_e(v)}</b><span>{_e(k)}</span></div>' for v, k in cards) + "</div>"


def _leaderboard(report: dict[str, Any], colours: dict[str, str]) -> str:
    board = report["leaderboard"]
    if not board:
        return '<p class="skipped">No leaderboard: no scored sessions.</p>'
    several = len({e["scoring"] for e in board}) > 1
    head = ('<thead><tr class="group"><th></th>' + ("<th></th>" if several else "")
            + f'<th colspan="{len(LEADERBOARD_METRICS)}">End-to-end (E)</th>'
            f'<th colspan="{len(LEADERBOARD_METRICS)}">Oracle (O)</th><th></th></tr><tr>'
            "<th>model</th>" + ("<th>scoring</th>" if several else "")
            + "".join(f'<th class="num">{p}-{m}</th>' for p in "EO" for m in LEADERBOARD_METRICS)
            + '<th class="num">Avg</th></tr></thead>')
    rows = []
    for entry in sorted(board, key=lambda e: (-(e["Avg"] if e["Avg"] is not None else -1),
                                              e["model"], e["scoring"])):
        cells = [f"<td>{_chip(entry['model'], None, colours)}{_e(entry['model'])}</td>"]
        if several:
            cells.append(f"<td>{_e(entry['scoring'])}</td>")
        cells += [_num(entry.get(f"{p}-{m}"), heat=True) for p in "EO" for m in LEADERBOARD_METRICS]
        cells.append(_num(entry["Avg"], heat=True, cls="avg"))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    note = ('<p class="note">Percent, pooled over steps. Avg is the mean of Num, Text and Vis over '
            "the modes present (both, as in CIBench, when both were run). "
            f"{DASH}: not run, or no step of that type.</p>")
    return _table(head, rows) + note


def _runs(report: dict[str, Any], colours: dict[str, str]) -> str:
    rows_data = report["rows"]
    metrics = _present([r["metrics"] for r in rows_data])
    passk = sorted({k for r in rows_data for k in (r.get("pass_at_k") or {})})
    head = ("<thead><tr><th>model · mode</th><th>scoring</th><th class=num>tasks</th>"
            "<th class=num>steps</th><th class=num>errors</th>"
            + "".join(f'<th class="num">{_e(label)}</th>' for _, label in metrics)
            + "".join(f'<th class="num">{_e(k)}</th>' for k in passk) + "</tr></thead>")
    body = []
    for r in rows_data:
        key = (r["model"], r["mode"], r["scoring"])
        body.append("<tr>" + _series_cell(key, report, colours) + f"<td>{_e(r['scoring'])}</td>"
                    + _num(r["tasks"]) + _num(r["steps"]) + _num(r["errors"])
                    + "".join(_num(r["metrics"].get(k), heat=True) for k, _ in metrics)
                    + "".join(_num((r.get("pass_at_k") or {}).get(k), heat=True) for k in passk)
                    + "</tr>")
    return _table(head, body)


def _breakdown(report: dict[str, Any], field: str, title: str, colours: dict[str, str],
               order: Any = None) -> str:
    groups = sorted({g for r in report["rows"] for g in r[field]}, key=order)
    if not groups:
        return f'<p class="skipped">No {_e(title)} data.</p>'
    dicts = [r[field][g] for r in report["rows"] for g in r[field]]
    metrics = _present(dicts)
    head = (f"<thead><tr><th>{_e(title)}</th><th>model · mode</th><th class=num>steps</th>"
            + "".join(f'<th class="num">{_e(label)}</th>' for _, label in metrics)
            + "</tr></thead>")
    body = []
    for group in groups:
        members = [r for r in report["rows"] if group in r[field]]
        for i, r in enumerate(members):
            g = r[field][group]
            first = f'<td class="group" rowspan="{len(members)}">{_e(group)}</td>' if i == 0 else ""
            body.append(f'<tr{" class=first" if i == 0 else ""}>' + first
                        + _series_cell((r["model"], r["mode"], r["scoring"]), report, colours)
                        + _num(g["steps"])
                        + "".join(_num(g.get(k), heat=True) for k, _ in metrics) + "</tr>")
    return _table(head, body)


def _failures(report: dict[str, Any], colours: dict[str, str]) -> str:
    rows = [r for r in report["rows"]]
    categories: dict[str, int] = {}
    for r in rows:
        for name, count in r["failures"].items():
            categories[name] = categories.get(name, 0) + count
    if not categories:
        return '<p class="skipped">No failures: every scored step passed.</p>'
    ordered = sorted(categories, key=lambda n: (-categories[n], n))
    head = ("<thead><tr><th>category</th>"
            + "".join(f'<th class="num">{_chip(r["model"], r["mode"], colours)}'
                      f'{_e(series_label((r["model"], r["mode"], r["scoring"]), report))}</th>'
                      for r in rows) + '<th class="num">total</th></tr></thead>')
    body = ["<tr><td>" + _e(name) + "</td>" + "".join(_num(r["failures"].get(name)) for r in rows)
            + _num(categories[name]) + "</tr>" for name in ordered]
    return _table(head, body)


def _figures(figures: list[dict[str, Any]], out: Path) -> str:
    parts = []
    for fig in figures:
        if fig.get("file"):
            rel = Path(fig["file"]).relative_to(out).as_posix()
            parts.append(f'<figure id="fig-{_e(fig["name"])}">'
                         f'<img src="{_href(rel)}" alt="{_e(fig["title"])}">'
                         f'<figcaption>{_e(fig["caption"])}</figcaption></figure>')
        else:
            parts.append(f'<h3 id="fig-{_e(fig["name"])}">{_e(fig["title"])}</h3>'
                         f'<div class="skipped">Not drawn: {_e(fig["skipped"])}.</div>')
    return "".join(parts)


def _tasks(report: dict[str, Any], pages: dict[str, str], colours: dict[str, str]) -> str:
    sessions = report["sessions"]
    metrics = _present([s["metrics"] for s in sessions])
    sampled = any(s["sample"] is not None for s in sessions)
    head = ("<thead><tr><th>model · mode</th><th>task</th><th>module</th><th>difficulty</th>"
            + ("<th class=num>sample</th>" if sampled else "")
            + "<th class=num>passed</th><th class=num>%</th>"
            + "".join(f'<th class="num">{_e(label)}</th>' for _, label in metrics)
            + "<th>failures</th><th>session</th></tr></thead>")
    body = []
    for s in sessions:
        key = (s["model"], s["mode"], s["scoring"])
        task = (f'<td><div class="title">{_e(s["title"])}</div>'
                f'<div class="tid">{_e(s["task_id"])}</div></td>')
        if s["status"] != "complete":
            verdict = '<td class="num"><span class="badge err">error</span></td>'
            fails = f'<td class="fail-list">{_e(s["error"] or "infrastructure error")}</td>'
        else:
            badge = "pass" if s["steps_passed"] == s["steps_total"] else "fail"
            verdict = (f'<td class="num"><span class="badge {badge}">'
                       f'{s["steps_passed"]}/{s["steps_total"]}</span></td>')
            fails = ('<td class="fail-list">' + "".join(
                f"<span>{_e(name)}{f' ×{n}' if n > 1 else ''}</span>"
                for name, n in s["failures"].items()) + "</td>")
        if s["status"] == "complete":
            scores = _num(s["pass_rate"], heat=True) + "".join(
                _num(s["metrics"].get(k), heat=True) for k, _ in metrics)
        else:  # not scored: its steps count nowhere
            scores = _num(None) * (1 + len(metrics))
        page = pages.get(s["notebook"])
        link = (f'<td><a href="{_href(page)}">notebook</a></td>' if page
                else f'<td class="na">{DASH}</td>')
        body.append("<tr>" + _series_cell(key, report, colours) + task
                    + f"<td>{_e(s['module'])}</td><td>{_e(s['difficulty'])}</td>"
                    + (_num(s["sample"]) if sampled else "") + verdict
                    + scores + fails + link + "</tr>")
    return _table(head, body)


def _difficulty_order(name: str) -> tuple[int, str]:
    return (DIFFICULTY_ORDER.index(name) if name in DIFFICULTY_ORDER else len(DIFFICULTY_ORDER),
            name)


def render_index(report: dict[str, Any], figures: list[dict[str, Any]], pages: dict[str, str],
                 out: Path) -> str:
    """The whole page as a string."""
    colours = model_colours(report)
    runs = ", ".join(f"<code>{_e(r)}</code>" for r in report["runs"])
    files = "".join(f'<a href="{_href(name)}">{_e(name)}</a>' for name in
                       ("scores.csv", "leaderboard.csv", "report.md", "report.json"))
    sections = [
        ("leaderboard", "Leaderboard", _leaderboard(report, colours)),
        ("runs", "Runs", '<p class="note">One row per model, mode and scoring profile; metrics in '
         "percent pooled over the steps they apply to.</p>" + _runs(report, colours)),
        ("figures", "Figures", _figures(figures, out)),
        ("modules", "By module", _breakdown(report, "by_module", "module", colours)),
        ("difficulty", "By difficulty",
         _breakdown(report, "by_difficulty", "difficulty", colours, _difficulty_order)),
        ("step-types", "By step type", _breakdown(report, "by_step_type", "step type", colours)),
        ("failures", "Failure categories", '<p class="note">Failed steps per category.</p>'
         + _failures(report, colours)),
        ("tasks", "Tasks", '<p class="note">One row per session: steps passed, the session\'s '
         "metrics and why its steps failed; <b>notebook</b> opens the annotated session.</p>"
         + _tasks(report, pages, colours)),
    ]
    nav = "".join(f'<a href="#{sid}">{_e(title)}</a>' for sid, title, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{_e(title)}</h2>{html}</section>'
                   for sid, title, html in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>cibench report</title><style>{CSS}</style></head><body>"
            f'<header class="top"><h1>cibench report</h1><div class="sub">Runs: {runs}</div>'
            f'</header><nav>{nav}<span class="files">Files: {files}</span></nav><main>'
            f"{_overview(report)}{body}"
            f"<footer>Written by cibench {_e(__version__)}. Scores in percent, one decimal; "
            f"{DASH} means not applicable. Solid colour: end-to-end; hatched: oracle mode.</footer>"
            "</main></body></html>\n")


def write_index(report: dict[str, Any], figures: list[dict[str, Any]], pages: dict[str, str],
                out: Path) -> Path:
    path = Path(out) / "index.html"
    atomic_write_text(path, render_index(report, figures, pages, Path(out)))
    return path
