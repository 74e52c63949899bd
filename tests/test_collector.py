"""The IOPub message collector (cibench/collector.py) with fake messages: no kernel."""

from __future__ import annotations

import base64
import json

from cibench.collector import DROPPED_MIME, Collector, OutputCaps

MSG_ID = "m1"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()


def msg(kind: str, content: object, parent: str = MSG_ID) -> dict:
    return {"msg_type": kind, "content": content, "parent_header": {"msg_id": parent}}


def collect(*messages: object, caps: OutputCaps | None = None) -> tuple[Collector, list[str]]:
    collector = Collector(caps or OutputCaps(), MSG_ID)
    return collector, [collector.handle(m) for m in messages]


def test_each_stream_message_is_one_output_and_idle_ends_the_execution():
    """Stream messages are not merged: OpenCompass scores the first stdout message, so the
    record keeps the boundaries (schema 2)."""
    c, states = collect(msg("stream", {"name": "stdout", "text": "a\n"}),
                        msg("stream", {"name": "stdout", "text": "b\n"}),
                        msg("stream", {"name": "stderr", "text": "warn\n"}),
                        msg("status", {"execution_state": "idle"}))
    assert states == ["", "", "", "idle"]
    outputs, truncated = c.finish()
    assert outputs == [{"output_type": "stream", "name": "stdout", "text": "a\n"},
                       {"output_type": "stream", "name": "stdout", "text": "b\n"},
                       {"output_type": "stream", "name": "stderr", "text": "warn\n"}]
    assert not truncated


def test_messages_of_other_executions_are_ignored():
    c, states = collect(msg("stream", {"name": "stdout", "text": "x"}, parent="other"),
                        msg("status", {"execution_state": "idle"}, parent="other"))
    assert states == ["", ""] and c.finish()[0] == []


def test_results_displays_and_errors_become_nbformat_outputs():
    c, states = collect(
        msg("execute_result", {"data": {"text/plain": "42"}, "metadata": {}, "execution_count": 1}),
        msg("display_data", {"data": {"image/png": PNG, "text/plain": "<Figure>"}, "metadata": {}}),
        msg("error", {"ename": "KeyError", "evalue": "'x'", "traceback": ["\x1b[31mKeyError\x1b[0m"]}))
    assert states == ["", "", "error"]
    outputs, _ = c.finish()
    assert outputs[0] == {"output_type": "execute_result", "data": {"text/plain": "42"}, "metadata": {}}
    assert outputs[1]["data"]["image/png"] == PNG
    assert outputs[2]["ename"] == "KeyError" and "\x1b" not in outputs[2]["traceback"][0]


def test_clear_output_keeps_errors_only():
    c, _ = collect(msg("stream", {"name": "stdout", "text": "progress 1"}),
                   msg("clear_output", {"wait": False}),
                   msg("stream", {"name": "stdout", "text": "done"}))
    assert c.finish()[0] == [{"output_type": "stream", "name": "stdout", "text": "done"}]


def test_malformed_messages_are_recorded_not_raised():
    c, states = collect(
        "not a dict",
        msg("stream", {"name": "stdout", "text": 5}),
        msg("display_data", {"data": {DROPPED_MIME: "{not json"}}),
        msg("display_data", {"data": {DROPPED_MIME: {"chars": "many"}}}),
        msg("display_data", {"data": {"image/png": "%%%not base64%%%"}}),
        msg("error", {"ename": ["list"], "evalue": "", "traceback": []}),
        msg("execute_result", "content is a string"),
        msg("stream", {"name": "stdout", "text": "still here"}))
    assert states == [""] * 8
    outputs, _ = c.finish()
    assert len(c.malformed) == 7
    assert outputs[0] == {"output_type": "stream", "name": "stdout", "text": "still here"}
    assert "7 malformed kernel messages ignored" in outputs[-1]["text"]


def test_every_mime_type_and_the_output_count_are_capped():
    caps = OutputCaps(text_chars=100, rich_chars=1_000, outputs=3)
    big = "x" * 3_000
    c, _ = collect(msg("display_data", {"data": {"text/markdown": big}}),
                   msg("display_data", {"data": {"application/json": {"k": big}}}),
                   msg("display_data", {"data": {"image/svg+xml": big}}),
                   msg("stream", {"name": "stdout", "text": "y" * 500}),
                   *[msg("display_data", {"data": {"text/plain": f"{i}"}}) for i in range(5)],
                   caps=caps)
    outputs, truncated = c.finish()
    assert truncated
    assert len(json.dumps(outputs)) < 2_000  # 9 KB of rich output and 500 characters in, < 2 KB out
    assert sum(1 for o in outputs if o["output_type"] == "display_data") <= 3
    assert "output cut" in outputs[-1]["text"]


def test_the_kernel_guard_report_counts_what_it_dropped():
    c, _ = collect(msg("display_data", {"data": {DROPPED_MIME: json.dumps(
        {"chars": 10, "images": 2, "outputs": 1})}}))
    outputs, truncated = c.finish()
    assert truncated and "10 characters, 2 figures, 1 other outputs" in outputs[-1]["text"]


def test_capped_stream_keeps_its_tail():
    c, _ = collect(msg("stream", {"name": "stdout", "text": "h" * 50}),
                   msg("stream", {"name": "stdout", "text": "x" * 5000 + "END"}),
                   msg("status", {"execution_state": "idle"}), caps=OutputCaps(text_chars=100))
    outputs, truncated = c.finish()
    assert truncated
    texts = [o["text"] for o in outputs]
    assert texts[0] == "h" * 50 and texts[1] == "x" * 50
    assert texts[2].endswith("END") and len(texts[2]) == 2048  # the tail, before the marker
    assert texts[3].startswith("\n[cibench: output cut")


def test_update_display_data_is_marked_and_kernel_cibench_metadata_dropped():
    c, _ = collect(msg("update_display_data", {"data": {"text/plain": "2"},
                                               "metadata": {"cibench": {"msg_type": "x"}}}),
                   msg("display_data", {"data": {"text/plain": "1"},
                                        "metadata": {"cibench": {"msg_type":
                                                                 "update_display_data"}}}),
                   msg("status", {"execution_state": "idle"}))
    outputs, _ = c.finish()
    assert outputs[0]["metadata"] == {"cibench": {"msg_type": "update_display_data"}}
    assert outputs[1]["metadata"] == {}
