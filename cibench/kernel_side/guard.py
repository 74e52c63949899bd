"""The in-kernel output guard: NOT imported by cibench. kernel.py reads this file as text and
runs it in every kernel after the startup code, then calls `__cibench_install_guard(...)`
with the caps and deletes it (it defines no user global)."""
# ruff: noqa
def __cibench_install_guard(text_limit, image_limit, output_limit, mime, rich_limit,
                            tail_limit=2048):
    import sys
    ip = get_ipython()
    st = {"armed": False, "chars": 0, "d_chars": 0, "images": 0, "d_images": 0, "outs": 0,
          "d_outs": 0, "rich": 0, "pubs": 0, "pub_size": 0, "tail": []}

    def pre(info=None):
        for stream in (sys.stdout, sys.stderr):  # (re)wrap: a cell may have swapped write back
            if not getattr(stream.write, "_cibench_capped", False):
                wrap_stream(stream)
        st.update(armed=bool(getattr(info, "store_history", True)), chars=0, d_chars=0,
                  images=0, d_images=0, outs=0, d_outs=0, rich=0, pubs=0, pub_size=0, tail=[])

    def post(result=None):
        armed, st["armed"] = st["armed"], False
        if armed and (st["d_chars"] or st["d_images"] or st["d_outs"]):
            ip.display_pub.publish(data={mime: {"chars": st["d_chars"], "images": st["d_images"],
                                                "outputs": st["d_outs"], "tail": st["tail"]}},
                                   metadata={})

    publish = ip.display_pub.publish

    def capped_publish(data, metadata=None, **kwargs):
        # raw display data (publish_display_data, display(raw=True)) skips the formatter
        if not st["armed"] or not isinstance(data, dict):
            return publish(data=data, metadata=metadata, **kwargs)
        size = sum(len(v) if isinstance(v, (str, bytes)) else len(repr(v)) for v in data.values())
        if st["pubs"] >= output_limit or st["pub_size"] + size > rich_limit + text_limit:
            st["d_outs"] += 1
            return None
        st["pubs"] += 1
        st["pub_size"] += size
        return publish(data=data, metadata=metadata, **kwargs)

    def keep_tail(name, s):
        # the end of what the cap drops, so the record holds head and tail of the output
        tail = st["tail"]
        if tail and tail[-1][0] == name:
            tail[-1][1] = (tail[-1][1] + s)[-tail_limit:]
        else:
            tail.append([name, s[-tail_limit:]])
        while sum(len(t[1]) for t in tail) > tail_limit and len(tail) > 1:
            tail.pop(0)

    def wrap_stream(stream):
        write = stream.write
        name = "stderr" if getattr(stream, "name", "") == "stderr" else "stdout"

        def capped_write(s):
            if not st["armed"] or not isinstance(s, str):
                return write(s)
            room = text_limit - st["chars"]
            n = len(s)
            if n <= room:
                st["chars"] += n
                return write(s)
            st["d_chars"] += n - max(room, 0)
            keep_tail(name, s[max(room, 0):])
            if room > 0:
                st["chars"] = text_limit
                write(s[:room])
            return n
        capped_write._cibench_capped = True
        stream.write = capped_write

    def is_figure(obj):
        mod = sys.modules.get("matplotlib.figure")
        return mod is not None and isinstance(obj, mod.Figure)

    fmt = ip.display_formatter.format

    def capped_format(obj, *args, **kwargs):
        if not st["armed"]:
            return fmt(obj, *args, **kwargs)
        if st["outs"] >= output_limit:
            st["d_outs"] += 1
            return {}, {}
        if st["images"] >= image_limit and is_figure(obj):
            st["d_images"] += 1
            return {}, {}
        result = fmt(obj, *args, **kwargs)
        data = result[0] if isinstance(result, tuple) else result
        for key in [k for k in data or () if k != "text/plain"]:  # every MIME type is capped
            size = len(data[key]) if isinstance(data[key], (str, bytes)) else len(repr(data[key]))
            if st["rich"] + size > rich_limit:
                del data[key]
                st["d_chars"] += size
            else:
                st["rich"] += size
        if any(k.startswith("image/") for k in data or ()):
            if st["images"] >= image_limit:
                st["d_images"] += 1
                return {}, {}
            st["images"] += 1
        st["outs"] += 1
        return result

    if hasattr(type(ip), "_tee"):
        # IPython 9 re-wraps stream.write around every cell to keep all output in memory for
        # its output history (unused here): it would sit outside our cap and keep a flood alive.
        import contextlib
        ip._tee = lambda channel: contextlib.nullcontext()
    ip.display_formatter.format = capped_format
    ip.display_pub.publish = capped_publish
    ip.events.register("pre_run_cell", pre)
    ip.events.register("post_run_cell", post)
