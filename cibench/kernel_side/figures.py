"""The in-kernel figure recorder: NOT imported by cibench. `scoring/figure_data.py` reads this
file as text and the kernel executes it once at start as the private module
`_cibench_figdata` (see KERNEL_HOOK_CODE); it summarizes every matplotlib figure shown so the
plotted data can be compared. No top-level import of matplotlib or numpy: those are imported
lazily when a figure is shown. `get_ipython` is put into its namespace by the installer."""
# ruff: noqa
import json as _json
import math as _math
import sys as _sys

figures = []          # summaries recorded since the last collect
_recorded_ids = set() # id(fig) of the figures recorded in this window
_seq = 0
CAP = 1000            # points kept per artist
MAX_ARTISTS = 100     # artists kept per kind per axes
MAX_AXES = 50


def _num(v):
    try:
        f = float(v)
    except Exception:
        return None
    if _math.isnan(f) or _math.isinf(f):
        return None
    return float("%.7g" % f)


def _sample_idx(n, cap=CAP):
    if n <= cap:
        return range(n)
    step = (n - 1) / (cap - 1)
    return [int(round(i * step)) for i in range(cap)]


def _rows(a, cap=CAP):
    import numpy as np
    a = np.ma.filled(np.ma.asarray(a, dtype=float), np.nan)
    if a.ndim == 1:
        return [_num(a[i]) for i in _sample_idx(len(a), cap)]
    a = a.reshape(len(a), -1)
    return [[_num(v) for v in a[i]] for i in _sample_idx(len(a), cap)]


def _texts(items, limit=MAX_ARTISTS):
    out = []
    for t in list(items)[:limit]:
        try:
            out.append(t.get_text())
        except Exception:
            pass
    return out


def _lines(ax):
    out = []
    for line in ax.get_lines()[:MAX_ARTISTS]:
        xy = line.get_xydata()
        out.append({"label": str(line.get_label()), "n": int(len(xy)), "xy": _rows(xy)})
    return out


def _patches(ax, d):
    from matplotlib.container import BarContainer
    from matplotlib.patches import Rectangle, Wedge
    in_container = set()
    for c in ax.containers:
        if isinstance(c, BarContainer):
            rects = [p for p in c.patches if isinstance(p, Rectangle)]
            in_container.update(id(p) for p in rects)
            if len(d["bars"]) < MAX_ARTISTS:
                d["bars"].append({
                    "label": str(c.get_label()),
                    "orientation": getattr(c, "orientation", None),
                    "rects": [[_num(p.get_x()), _num(p.get_y()), _num(p.get_width()),
                               _num(p.get_height())] for p in rects[:CAP]],
                })
    loose = []
    for p in ax.patches:
        if isinstance(p, Rectangle):
            if id(p) not in in_container and len(loose) < CAP:
                loose.append([_num(p.get_x()), _num(p.get_y()), _num(p.get_width()),
                              _num(p.get_height())])
        elif isinstance(p, Wedge):
            if len(d["wedges"]) < CAP:
                d["wedges"].append([_num(p.theta1), _num(p.theta2), _num(p.r)])
        elif len(d["other_patches"]) < MAX_ARTISTS:
            d["other_patches"].append(type(p).__name__)
    if loose:
        d["bars"].append({"label": "", "orientation": None, "rects": loose})


def _collections(ax):
    import numpy as np
    out = []
    for coll in ax.collections[:MAX_ARTISTS]:
        entry = {"type": type(coll).__name__, "label": str(coll.get_label())}
        try:
            entry["n_paths"] = len(coll.get_paths())
        except Exception:
            pass
        if entry["type"] == "PathCollection":
            entry["offsets"] = _rows(coll.get_offsets())
        arr = coll.get_array()
        if arr is not None:
            arr = np.ma.asarray(arr)
            entry["array_shape"] = list(arr.shape)
            entry["array"] = _rows(arr.reshape(-1), cap=4 * CAP)
        out.append(entry)
    return out


def _images(ax):
    import numpy as np
    out = []
    for im in ax.get_images()[:MAX_ARTISTS]:
        arr = np.ma.asarray(im.get_array())
        entry = {"shape": list(arr.shape)}
        if arr.ndim >= 2:
            sy = max(1, -(-arr.shape[0] // 32))
            sx = max(1, -(-arr.shape[1] // 32))
            sub = arr[::sy, ::sx]
            entry["sample_shape"] = list(sub.shape)
            entry["sample"] = _rows(sub.reshape(-1), cap=32 * 32 * 4)
        out.append(entry)
    return out


def summarize_axes(ax):
    titles = [ax.get_title(loc) for loc in ("left", "center", "right")]
    d = {
        "title": " | ".join(t for t in titles if t),
        "xlabel": ax.get_xlabel() if hasattr(ax, "get_xlabel") else "",
        "ylabel": ax.get_ylabel() if hasattr(ax, "get_ylabel") else "",
        "xscale": ax.get_xscale() if hasattr(ax, "get_xscale") else "",
        "yscale": ax.get_yscale() if hasattr(ax, "get_yscale") else "",
        "colorbar": hasattr(ax, "_colorbar"),
        "lines": [], "bars": [], "wedges": [], "other_patches": [],
        "collections": [], "images": [], "texts": [], "legend": [],
        "xticklabels": [], "yticklabels": [], "xformatter": "", "yformatter": "",
    }
    for key, fn in (("lines", _lines), ("collections", _collections), ("images", _images)):
        try:
            d[key] = fn(ax)
        except Exception as exc:
            d.setdefault("errors", []).append("%s: %r" % (key, exc))
    try:
        _patches(ax, d)
    except Exception as exc:
        d.setdefault("errors", []).append("patches: %r" % (exc,))
    try:
        d["texts"] = _texts(ax.texts)
        legend = ax.get_legend()
        if legend is not None:
            d["legend"] = _texts(legend.get_texts())
            title = legend.get_title().get_text()
            if title:
                d["legend_title"] = title
        d["xticklabels"] = _texts(ax.get_xticklabels())
        d["yticklabels"] = _texts(ax.get_yticklabels())
        d["xformatter"] = type(ax.xaxis.get_major_formatter()).__name__
        d["yformatter"] = type(ax.yaxis.get_major_formatter()).__name__
    except Exception as exc:
        d.setdefault("errors", []).append("labels: %r" % (exc,))
    return d


def summarize_figure(fig, source="display"):
    global _seq
    _seq += 1
    rec = {"seq": _seq, "execution_count": None, "source": source}
    try:
        ip = get_ipython()  # noqa: F821 - provided by IPython
        rec["execution_count"] = ip.execution_count
    except Exception:
        pass
    try:
        sup = getattr(fig, "_suptitle", None)
        rec["suptitle"] = sup.get_text() if sup is not None else ""
        rec["size_inches"] = [_num(v) for v in fig.get_size_inches()]
        rec["axes"] = [summarize_axes(ax) for ax in fig.axes[:MAX_AXES] if ax.get_visible()]
    except Exception as exc:
        rec["error"] = repr(exc)
    return rec


def record(fig, source="display"):
    try:
        if not getattr(fig, "axes", None):
            return
        figures.append(summarize_figure(fig, source))
        _recorded_ids.add(id(fig))
    except Exception:
        pass


def _is_figure(obj):
    mod = _sys.modules.get("matplotlib.figure")
    return mod is not None and isinstance(obj, mod.Figure)


def wrap_format(orig):
    """Wrap DisplayFormatter.format: one record per Figure output shown."""
    if getattr(orig, "_cibench_wrapped", False):
        return orig

    def format(obj, *args, **kwargs):
        result = orig(obj, *args, **kwargs)
        try:
            if _is_figure(obj):
                data = result[0] if isinstance(result, tuple) else result
                if any(k.startswith("image/") or k == "application/pdf" for k in data):
                    record(obj)
        except Exception:
            pass
        return result

    format._cibench_wrapped = True
    format.__wrapped__ = orig
    return format


def install():
    formatter = get_ipython().display_formatter  # noqa: F821
    formatter.format = wrap_format(formatter.format)


def collect():
    global figures, _recorded_ids
    out = list(figures)
    try:
        helpers = _sys.modules.get("matplotlib._pylab_helpers")
        if helpers is not None:
            for manager in helpers.Gcf.get_all_fig_managers():
                fig = manager.canvas.figure
                if id(fig) not in _recorded_ids and fig.axes:
                    out.append(summarize_figure(fig, "open"))
    except Exception:
        pass
    figures = []
    _recorded_ids = set()
    return _json.dumps(out, allow_nan=False, separators=(",", ":"))
