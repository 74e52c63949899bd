"""The session notebooks of a report, rendered to HTML pages beside its index.html.

Session notebooks are rendered with nbconvert's HTMLExporter (the JupyterLab template without
its CDN scripts) into `sessions/<model-slug>/<mode>/<suite>/<task>.html`; the mode is part of
the path because an end-to-end and an oracle run of one model have the same tasks. A page is
re-rendered only when its notebook changed (`sessions/.sources.json` holds each page's
notebook hash), so reporting a large run again is quick.

Session notebooks hold untrusted text, so the pages are made safe first (`make_safe`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

from .fsutil import atomic_write_json, atomic_write_text
from .paths import model_slug

log = logging.getLogger(__name__)

# the session page template: JupyterLab's, minus its scripts from a CDN (require.js, MathJax,
# Mermaid, widgets); session notebooks hold none of these, so nothing is lost offline
SESSION_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
"""


# Session notebooks hold untrusted text: the model's prose and code, its outputs, exception
# names. JupyterLab sanitizes an untrusted notebook; nbconvert does not, so the pages are made
# safe here: markdown is rendered with raw HTML escaped, HTML outputs keep only table and text
# markup (no attributes but class, colspan, rowspan, title), and outputs that carry scripts
# (JavaScript, SVG, widgets) are replaced by a note.
SAFE_TAGS = frozenset({"table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
                       "colgroup", "col", "div", "span", "p", "br", "hr", "b", "i", "em",
                       "strong", "code", "pre", "ul", "ol", "li", "sub", "sup", "small",
                       "h1", "h2", "h3", "h4", "h5", "h6"})
SAFE_ATTRIBUTES = {"*": ["class", "title"], "td": ["colspan", "rowspan"],
                   "th": ["colspan", "rowspan"]}
REMOVED_OUTPUT = "(an output with scripts or SVG was left out of this page; open the notebook)"


def _clean_html(text: str) -> str:
    import bleach

    text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", "", text)
    return bleach.clean(text, tags=SAFE_TAGS, attributes=SAFE_ATTRIBUTES, strip=True,
                        strip_comments=True)


def _unsafe_mime(mime: str) -> bool:
    return ("javascript" in mime or mime == "image/svg+xml" or "widget" in mime
            or mime.startswith("application/vnd.") or mime == "text/latex")


def make_safe(nb: Any) -> Any:
    """The notebook with its outputs' HTML cleaned and script-carrying outputs removed."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data")
            if not data:
                continue
            for mime in list(data):
                if mime == "text/html":
                    html = data[mime]
                    data[mime] = _clean_html("".join(html) if isinstance(html, list) else html)
                elif _unsafe_mime(mime):
                    del data[mime]
            if not data:
                data["text/plain"] = REMOVED_OUTPUT
    return nb


def _exporter() -> Any:
    import jinja2
    from nbconvert import HTMLExporter
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    class SafeHTMLExporter(HTMLExporter):
        """HTMLExporter whose markdown keeps raw HTML as text (HTMLExporter passes it through)."""

        @jinja2.pass_context
        def markdown2html(self, context: Any, source: str) -> str:
            cell = context.get("cell", {})
            path = context.get("resources", {}).get("metadata", {}).get("path", "")
            renderer = IPythonRenderer(escape=True, attachments=cell.get("attachments", {}),
                                       embed_images=self.embed_images, path=path,
                                       anchor_link_text=self.anchor_link_text,
                                       exclude_anchor_links=self.exclude_anchor_links,
                                       **self.lexer_options)
            return MarkdownWithMath(renderer=renderer).render(source)

    # nbconvert's own warnings (e.g. "Alternative text is missing") would repeat per notebook
    quiet = logging.getLogger(__name__ + ".nbconvert")
    quiet.setLevel(logging.ERROR)
    return SafeHTMLExporter(log=quiet, extra_loaders=[jinja2.DictLoader(
        {"cibench_session.html.j2": SESSION_TEMPLATE})], template_file="cibench_session.html.j2")


def session_page(session: dict[str, Any]) -> str:
    """Where a session's page goes, relative to the report folder."""
    name = session["task"] + (f".sample-{session['sample']}" if session["sample"] is not None
                              else "")
    parts = ["sessions", model_slug(session["model"]), session["mode"]]
    parts += [p for p in session["suite"].split("/") if p and p not in (".", "..")]
    return "/".join(parts + [name + ".html"])


def render_sessions(report: dict[str, Any], out: Path) -> dict[str, str]:
    """Render every session notebook to HTML under OUT/sessions/. Returns notebook path ->
    page path relative to OUT; a notebook nbconvert cannot render gets no page (a warning)."""
    import nbformat

    out = Path(out)
    manifest_path = out / "sessions" / ".sources.json"
    try:
        previous = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        previous = {}
    manifest: dict[str, str] = {}
    exporter = None
    pages: dict[str, str] = {}
    for session in report["sessions"]:
        rel = session_page(session)
        stem, n = rel[:-len(".html")], 2
        while rel in manifest:  # the same model, mode and task from two run folders
            rel, n = f"{stem}-{n}.html", n + 1
        source, dest = Path(session["notebook"]), out / rel
        try:
            raw = source.read_bytes()
            digest = hashlib.sha256(raw).hexdigest()
            manifest[rel] = digest
            if previous.get(rel) == digest and dest.is_file():
                pages[session["notebook"]] = rel
                continue
            if exporter is None:
                exporter = _exporter()
            nb = make_safe(nbformat.reads(raw.decode("utf-8"), as_version=4))
            body, _ = exporter.from_notebook_node(nb)
        except Exception as exc:  # nbconvert's failures are many and untyped
            manifest.pop(rel, None)
            log.warning("%s: session notebook not rendered (%s)", source,
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            continue
        atomic_write_text(dest, body)
        pages[session["notebook"]] = rel
    atomic_write_json(manifest_path, manifest)
    return pages
