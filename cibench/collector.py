"""Kernel messages of one execution → nbformat outputs, validated and capped.

Everything the kernel sends is untrusted: model code runs in the kernel process and can publish
any display data (`publish_display_data`), under any MIME type (cibench's own
`DROPPED_MIME` included), with any JSON values, in any size. The collector checks the type of
every field it reads; a message it cannot use is dropped and counted, and a marker output
`[cibench: N malformed kernel message(s) ignored: ...]` tells the reader. Nothing a message
holds can raise here.

Caps per execution (`OutputCaps`): characters of text (streams, `text/plain`, error values),
characters of rich text (`text/html`, `text/markdown`, `text/latex`, `image/svg+xml`,
`application/json`), characters of base64 images, figures, and outputs. What is past a cap is
dropped and reported in one marker line, `[cibench: output cut; dropped ...]`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
CONTROL_RE = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|.)?"
                        r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]")
DROPPED_MIME = "application/vnd.cibench.dropped+json"
TEXT_MIMES = ("text/plain", "text/html", "text/markdown", "text/latex", "image/svg+xml")
IMAGE_MIMES = ("image/png", "image/jpeg")
KEPT_MIMES = (*TEXT_MIMES, *IMAGE_MIMES, "application/json")
IMAGE_MAGIC = {"image/png": b"\x89PNG", "image/jpeg": b"\xff\xd8"}
MAX_METADATA_CHARS = 2000
MAX_NAME_CHARS = 100
TAIL_CHARS = 2048  # characters of capped stream text kept from its end (see Collector._keep_tail)


@dataclass
class OutputCaps:
    """Caps per execution: characters of text, figures, outputs, rich text and image data."""

    text_chars: int = 100_000
    images: int = 20
    outputs: int = 200  # display/result/error outputs (not counting streams)
    traceback_frames: int = 3
    rich_chars: int = 1_000_000  # html, markdown, latex, svg, json together
    image_chars: int = 8_000_000  # base64 of png/jpeg together


def clean_name(text: Any, limit: int = MAX_NAME_CHARS) -> str:
    """A one-line label (exception class name, failure category) without escape sequences or
    control characters, at most `limit` characters."""
    text = CONTROL_RE.sub("", str(text))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def trim_traceback(lines: list[str], frames: int) -> list[str]:
    """Keep the header, the frames of the user's own cell, the last library frames and the
    exception line; a 40-frame pandas traceback becomes a screenful at most."""
    lines = [ANSI_RE.sub("", line) for line in lines]
    if len(lines) <= frames + 2:
        return lines
    head, body, last = lines[0], lines[1:-1], lines[-1]
    keep = {i for i, frame in enumerate(body) if "Cell In[" in frame or "<ipython-input" in frame}
    keep |= set(range(max(0, len(body) - frames), len(body)))
    out = [head]
    hidden = 0
    for i, frame in enumerate(body):
        if i in keep:
            if hidden:
                out.append(f"... {hidden} frame{'s' if hidden > 1 else ''} hidden ...")
                hidden = 0
            out.append(frame)
        else:
            hidden += 1
    if hidden:
        out.append(f"... {hidden} frames hidden ...")
    out.append(last)
    return out


class Malformed(ValueError):
    """A kernel message (or a field of it) that does not have the shape the protocol says."""


def _text_value(value: Any, what: str) -> str:
    """A MIME value that must be text: a string, or a list of strings (nbformat's form)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    raise Malformed(f"{what} is {type(value).__name__}, not text")


def _image_ok(mime: str, value: str) -> bool:
    try:
        head = base64.b64decode(value[:64].strip() + "=" * (-len(value[:64].strip()) % 4))
    except (binascii.Error, ValueError):
        return False
    return head.startswith(IMAGE_MAGIC[mime])


def _size(mime: str, value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    return len(json.dumps(value, default=str))


class Collector:
    """Turns the iopub messages of one execution into nbformat outputs, with caps."""

    def __init__(self, caps: OutputCaps, msg_id: str = ""):
        self.caps = caps
        self.msg_id = msg_id
        self.outputs: list[dict[str, Any]] = []
        self.text_used = 0
        self.rich_used = 0
        self.image_used = 0
        self.images = 0
        self.truncated = False
        self.dropped_chars = 0
        self.dropped_images = 0
        self.dropped_outputs = 0
        self.displays = 0
        self.malformed: list[str] = []
        self.tail: list[list[str]] = []  # [name, text] of dropped stream text, its last chars

    # -- one message -----------------------------------------------------------------------

    def handle(self, msg: Any) -> str:
        """Take one iopub message: 'idle' when the execution is over, 'error' for an error
        output, '' otherwise. Messages of other executions are ignored; malformed ones are
        counted and dropped."""
        if not isinstance(msg, dict):
            self.malformed.append(f"a message of type {type(msg).__name__}")
            return ""
        parent = msg.get("parent_header")
        if not isinstance(parent, dict) or parent.get("msg_id") != self.msg_id:
            return ""
        kind, content = msg.get("msg_type"), msg.get("content")
        try:
            if not isinstance(kind, str) or not isinstance(content, dict):
                raise Malformed("no msg_type or content")
            return self._dispatch(kind, content)
        except Malformed as exc:
            self.malformed.append(f"{clean_name(kind, 40)}: {exc}")
            log.info("malformed kernel message dropped: %s: %s", clean_name(kind, 40), exc)
            return ""

    def _dispatch(self, kind: str, content: dict[str, Any]) -> str:
        if kind == "status":
            return "idle" if content.get("execution_state") == "idle" else ""
        if kind == "stream":
            name, text = content.get("name"), content.get("text")
            if name not in ("stdout", "stderr") or not isinstance(text, str):
                raise Malformed("stream without a stdout/stderr name and text")
            self.stream(name, text)
        elif kind in ("execute_result", "display_data", "update_display_data"):
            self.data("execute_result" if kind == "execute_result" else "display_data", content,
                      update=kind == "update_display_data")
        elif kind == "error":
            self.error(content)
            return "error"
        elif kind == "clear_output":
            self.clear()
        return ""

    # -- outputs ---------------------------------------------------------------------------

    def _take_text(self, text: str) -> str:
        room = self.caps.text_chars - self.text_used
        if len(text) <= room:
            self.text_used += len(text)
            return text
        self.truncated = True
        self.dropped_chars += len(text) - max(room, 0)
        kept = text[:max(room, 0)]
        self.text_used = self.caps.text_chars
        return kept

    def stream(self, name: str, text: str) -> None:
        """One stream message, one output: consecutive messages are not merged (OpenCompass
        scores the first stdout message, so the boundary is part of the record)."""
        text = ANSI_RE.sub("", text)
        kept = self._take_text(text)
        if len(kept) < len(text):
            self._keep_tail(name, text[len(kept):])
        if kept:
            self.outputs.append({"output_type": "stream", "name": name, "text": kept})

    def _keep_tail(self, name: str, text: str, merge: bool = False) -> None:
        """Remember the end of stream text dropped by a cap: the record keeps the head (up to
        the cap) and this tail, so OpenCompass's 1,024-character cut (first half + "......" +
        last half) can be reproduced from it."""
        if merge and self.tail and self.tail[-1][0] == name:
            self.tail[-1][1] += text
        else:
            self.tail.append([name, text])
        total = sum(len(t) for _, t in self.tail)
        while total > TAIL_CHARS and self.tail:
            extra = total - TAIL_CHARS
            if len(self.tail[0][1]) <= extra:
                total -= len(self.tail.pop(0)[1])
            else:
                self.tail[0][1] = self.tail[0][1][extra:]
                total = TAIL_CHARS

    def _guard_report(self, dropped: Any) -> None:
        """What the kernel-side guard dropped (model code can fake this too: it is only a count)."""
        if isinstance(dropped, str):
            try:
                dropped = json.loads(dropped)
            except ValueError:
                raise Malformed(f"{DROPPED_MIME} is not JSON") from None
        if not isinstance(dropped, dict):
            raise Malformed(f"{DROPPED_MIME} is not an object")
        counts = {}
        for key in ("chars", "images", "outputs"):
            value = dropped.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise Malformed(f"{DROPPED_MIME} {key} is not a count")
            counts[key] = min(value, 10 ** 15)
        tail = dropped.get("tail", [])
        if not isinstance(tail, list) or not all(
                isinstance(t, list) and len(t) == 2 and t[0] in ("stdout", "stderr")
                and isinstance(t[1], str) for t in tail):
            raise Malformed(f"{DROPPED_MIME} tail is not a list of [stream, text]")
        for name, text in tail:
            self._keep_tail(name, ANSI_RE.sub("", text)[-TAIL_CHARS:], merge=True)
        self.dropped_chars += counts["chars"]
        self.dropped_images += counts["images"]
        self.dropped_outputs += counts["outputs"]
        self.truncated = True

    def _take(self, mime: str, value: Any) -> bool:
        """Whether a MIME value fits its budget (and charge it)."""
        size = _size(mime, value)
        if mime in IMAGE_MIMES:
            used, cap, attr = self.image_used, self.caps.image_chars, "image_used"
        else:
            used, cap, attr = self.rich_used, self.caps.rich_chars, "rich_used"
        if used + size > cap:
            self.truncated = True
            self.dropped_chars += size
            return False
        setattr(self, attr, used + size)
        return True

    def _bundle(self, raw: Any) -> dict[str, Any]:
        """The MIME bundle of a message, type-checked, limited to what a notebook needs."""
        if not isinstance(raw, dict):
            raise Malformed("data is not an object")
        data: dict[str, Any] = {}
        for mime in KEPT_MIMES:
            if mime not in raw:
                continue
            value = raw[mime]
            if mime == "application/json":
                if not isinstance(value, (dict, list)):
                    raise Malformed("application/json is not an object or array")
            else:
                value = _text_value(value, mime)
            if mime in IMAGE_MIMES and not _image_ok(mime, value):
                raise Malformed(f"{mime} is not base64 {mime.split('/')[1].upper()} data")
            data[mime] = value
        return data

    def data(self, kind: str, content: dict[str, Any], update: bool = False) -> None:
        raw = content.get("data", {})
        if isinstance(raw, dict) and DROPPED_MIME in raw:
            self._guard_report(raw[DROPPED_MIME])
            return
        data = self._bundle(raw)
        if self.displays >= self.caps.outputs:
            self.truncated = True
            self.dropped_outputs += 1
            return
        has_image = any(m in data for m in IMAGE_MIMES)
        if has_image and self.images >= self.caps.images:
            self.truncated = True
            self.dropped_images += 1
            return
        for mime in [m for m in data if m != "text/plain"]:
            if not self._take(mime, data[mime]):
                del data[mime]
        if has_image and any(m in data for m in IMAGE_MIMES):
            self.images += 1
        elif has_image:
            self.dropped_images += 1
        if "text/plain" in data:
            data["text/plain"] = self._take_text(data["text/plain"])
            if not data["text/plain"] and len(data) == 1 and kind == "display_data":
                return  # nothing left to show once the text budget is spent
        if not data:
            return
        metadata = content.get("metadata")
        if not isinstance(metadata, dict) or _size("", metadata) > MAX_METADATA_CHARS:
            metadata = {}
        metadata = {k: v for k, v in metadata.items() if k != "cibench"}  # ours, not the kernel's
        if update:  # shown as a display, but OpenCompass's interpreter ignores it
            metadata = {**metadata, "cibench": {"msg_type": "update_display_data"}}
        self.displays += 1
        # no execution_count: the session notebook numbers its own cells when it is rendered
        self.outputs.append({"output_type": kind, "data": data, "metadata": metadata})

    def error(self, content: dict[str, Any]) -> None:
        ename, evalue = content.get("ename", "Error"), content.get("evalue", "")
        traceback = content.get("traceback", [])
        if not isinstance(ename, str) or not isinstance(evalue, str) \
                or not isinstance(traceback, list) \
                or not all(isinstance(line, str) for line in traceback):
            raise Malformed("error without a string ename/evalue and a list of lines")
        self.add_error(ename, evalue, traceback)

    def add_error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        if self.displays >= self.caps.outputs:
            self.truncated = True
            self.dropped_outputs += 1
            return
        self.displays += 1
        limit = max(200, self.caps.text_chars // 20)
        lines = [CONTROL_RE.sub("", line) for line in
                 trim_traceback(traceback[:10_000], self.caps.traceback_frames)]
        lines = [line if len(line) <= limit else line[:limit] + " …[cut]" for line in lines]
        evalue = CONTROL_RE.sub("", evalue)
        self.outputs.append({"output_type": "error", "ename": clean_name(ename) or "Error",
                             "evalue": evalue if len(evalue) <= limit else evalue[:limit] + " …",
                             "traceback": lines})

    def clear(self) -> None:
        self.outputs = [o for o in self.outputs if o["output_type"] == "error"]

    def finish(self) -> tuple[list[dict[str, Any]], bool]:
        for name, text in self.tail:
            if text:
                self.outputs.append({"output_type": "stream", "name": name, "text": text})
        if self.truncated:
            bits = []
            if self.dropped_chars:
                bits.append(f"{self.dropped_chars} characters")
            if self.dropped_images:
                bits.append(f"{self.dropped_images} figures")
            if self.dropped_outputs:
                bits.append(f"{self.dropped_outputs} other outputs")
            self.outputs.append({"output_type": "stream", "name": "stderr",
                                 "text": "\n[cibench: output cut; dropped "
                                         f"{', '.join(bits) or 'some output'}]\n"})
        if self.malformed:
            n = len(self.malformed)
            self.outputs.append({"output_type": "stream", "name": "stderr",
                                 "text": f"\n[cibench: {n} malformed kernel message"
                                         f"{'s' if n > 1 else ''} ignored: "
                                         f"{clean_name(self.malformed[0], 200)}]\n"})
        return self.outputs, self.truncated
