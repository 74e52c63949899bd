"""`cibench import cibench SRC`: CIBench's jupytext markdown sources -> task notebooks.

A source is a markdown file with front matter under `jupyter:` (title, dataset, difficulty, module,
idx, num_steps, step_types, modules); each step is markdown (the instruction) followed by fenced
python (the reference). We pair them by structure: consecutive markdown cells are one instruction,
consecutive code cells one reference, empty markdown cells are dropped. A source whose structure
does not match its front matter is imported the way OpenCompass pairs it (the i-th markdown cell
with the i-th code cell: `load_experiment` in opencompass/datasets/cibench.py) and marked with
what does not match (`cibench.mismatch`), so task counts match the benchmark's.

Layout: the release's structure is kept: `<out>/<split>/<module>/<task>.ipynb`, task id
`<split>/<module>/<task>` (unique across splits: the English and Chinese template splits share
file names). A split whose name contains "chinese" gets `language: zh`.

Data: CIBench copies every module's `data/` into one folder that becomes the kernel's working
dir's `data/` (collect_datasources.sh). We index every `data/` folder under SRC the same way and
copy the files each task's reference code names into `<out>/<split>/<module>/data/`. Every source
becomes a task: one whose files are not all there is written with `cibench.needs_assets` listing
them; `validate` and `run` skip it with that reason until the files are put in place (no
re-import needed).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import (
    ImportOptions,
    ImportReport,
    ImportSourceError,
    Skipped,
    StepSpec,
    build_notebook,
    check_out,
    copy_data,
    slug,
    wanted,
    write_notebook,
)

log = logging.getLogger(__name__)

CIBENCH_TYPES = ("exec", "num", "text", "vis")
# `data/<path>` not preceded by a word char or a slash (so URLs like .../seaborn-data/master/x
# don't count); the path stops at quotes, whitespace, brackets and commas.
DATA_REF = re.compile(r"(?<![\w/\\-])(?:\./)?data/([^\s'\"`,;()\[\]{}<>]+)")
# torchvision datasets download into `root`; the public copy lacks their large files
TORCHVISION = {
    "MNIST": [f"MNIST/raw/{n}" for n in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")],
    "FashionMNIST": [f"FashionMNIST/raw/{n}" for n in (
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte")],
    "CIFAR10": [f"cifar-10-batches-py/{n}" for n in (
        "data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
        "test_batch", "batches.meta")],
}
# code that fetches from the internet (fails in an offline kernel; kept, and flagged)
NETWORK = re.compile(r"sns\.load_dataset\(|download\s*=\s*True|nltk\.download\(|urlopen\(|"
                     r"requests\.get\(|['\"]https?://")


class SourceError(Exception):
    def __init__(self, message: str, cell: int | None = None, line: int | None = None):
        self.cell, self.line = cell, line
        where = ", ".join(x for x in (f"cell {cell}" if cell is not None else "",
                                      f"line {line}" if line else "") if x)
        super().__init__(f"{where}: {message}" if where else message)


@dataclass
class ParsedSource:
    path: Path
    meta: dict[str, Any]
    steps: list[tuple[str, list[str]]]  # (instruction, reference cells)


def _line_of(text: str, source: str) -> int | None:
    first = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")
    if not first:
        return None
    pos = text.find(first)
    return text.count("\n", 0, pos) + 1 if pos >= 0 else None


def parse_source(path: Path) -> ParsedSource:
    """Read one markdown source; raise SourceError naming the cell (and line) that is off."""
    import jupytext

    text = path.read_text(encoding="utf-8")
    try:
        nb = jupytext.reads(text, fmt="md")
    except Exception as exc:  # jupytext raises several kinds on bad front matter
        raise SourceError(f"jupytext cannot read it: {str(exc).splitlines()[0]}") from exc
    meta, n = _front_matter(nb)
    return ParsedSource(path=path, meta=meta, steps=_pair_cells(nb, text, n))


def _front_matter(nb: Any) -> tuple[dict[str, Any], int]:
    """(the source's front matter, its number of steps), checked."""
    meta = {k: v for k, v in nb.metadata.items() if k != "jupytext"}
    if "step_types" not in meta:
        raise SourceError("no front matter `jupyter:` with step_types", line=1)
    types = meta.get("step_types")
    n = meta.get("num_steps", len(types) if isinstance(types, list) else None)
    if not isinstance(types, list) or not isinstance(n, int):
        raise SourceError("front matter step_types must be a list and num_steps a number", line=1)
    if len(types) != n:
        raise SourceError(f"front matter has num_steps {n} but {len(types)} step_types", line=1)
    bad = [t for t in types if t not in CIBENCH_TYPES]
    if bad:
        raise SourceError(f"unknown step type {bad[0]!r} (CIBench has {', '.join(CIBENCH_TYPES)})",
                          line=1)
    modules = meta.get("modules")
    if modules is not None and (not isinstance(modules, list) or len(modules) != n):
        raise SourceError(f"front matter has {len(modules) if isinstance(modules, list) else '?'} "
                          f"modules for {n} steps", line=1)
    return meta, n


def _pair_cells(nb: Any, text: str, n: int) -> list[tuple[str, list[str]]]:
    """(instruction, reference code blocks) per step: the markdown since the last code cell,
    then the code cells up to the next markdown; exactly `n` of them."""
    steps: list[tuple[str, list[str]]] = []
    pending: list[str] = []  # markdown since the last code cell
    pending_cell = None
    for i, cell in enumerate(nb.cells):
        source = cell.source.strip("\n")
        if cell.cell_type == "markdown":
            if source.strip():
                if not pending:
                    pending_cell = i
                pending.append(source.strip())
            continue
        if cell.cell_type != "code":
            if source.strip():
                raise SourceError(f"unexpected {cell.cell_type} cell", cell=i,
                                  line=_line_of(text, source))
            continue
        if not source.strip():
            continue
        if pending:
            steps.append(("\n\n".join(pending), [source]))
            pending = []
        elif steps:
            steps[-1][1].append(source)  # two fenced blocks in a row: one reference
        else:
            raise SourceError("code before the first instruction", cell=i,
                              line=_line_of(text, source))
        if len(steps) > n:
            raise SourceError(f"step {len(steps)} found but num_steps is {n}", cell=i,
                              line=_line_of(text, source))
    if pending:
        raise SourceError("instruction without reference code", cell=pending_cell,
                          line=_line_of(text, pending[0]))
    if len(steps) != n:
        last = steps[-1][0] if steps else ""
        raise SourceError(f"{len(steps)} instruction/code pairs but num_steps is {n} (the last "
                          f"pair's instruction is at line {_line_of(text, last)})")
    return steps


def parse_positional(path: Path) -> ParsedSource:
    """OpenCompass's pairing for a source whose cells don't match its front matter: the i-th
    markdown cell is step i's instruction, the i-th code cell its reference (zip: the shorter
    list decides). Raises SourceError only when the front matter itself is unusable."""
    import jupytext

    text = path.read_text(encoding="utf-8")
    try:
        nb = jupytext.reads(text, fmt="md")
    except Exception as exc:
        raise SourceError(f"jupytext cannot read it: {str(exc).splitlines()[0]}") from exc
    meta = {k: v for k, v in nb.metadata.items() if k != "jupytext"}
    types = meta.get("step_types")
    if not isinstance(types, list) or any(t not in CIBENCH_TYPES for t in types):
        raise SourceError("front matter step_types must be a list of "
                          f"{', '.join(CIBENCH_TYPES)}", line=1)
    questions = [c.source.strip() for c in nb.cells if c.cell_type == "markdown"]
    codes = [c.source.strip("\n") for c in nb.cells if c.cell_type == "code"]
    steps = [(q, [c]) for q, c in zip(questions, codes, strict=False) if q.strip() and c.strip()]
    if not steps:
        raise SourceError("no instruction/code pair at all")
    return ParsedSource(path=path, meta=meta, steps=steps)


def placement(root: Path, path: Path, meta: dict[str, Any]) -> tuple[str, str]:
    """(split, module) of a source: `<split>/<module>/<file>` below SRC as the release has it;
    SRC itself is the split when it holds module folders (or the files directly)."""
    parts = [slug(p) for p in path.relative_to(root).parts[:-1]] if root != path else []
    if len(parts) >= 2:
        return parts[0], "-".join(parts[1:])
    split = slug(root.name) or "cibench"
    if len(parts) == 1:
        return split, parts[0]
    return split, slug(str(meta.get("module", "")).strip().lower()) or "misc"


def index_data(src: Path) -> dict[str, Path]:
    """Every file under any `data/` folder below src, keyed by its path inside data/ (later
    folders win on clashes, as `cp -r` in collect_datasources.sh does)."""
    found: dict[str, Path] = {}
    for folder in sorted(p for p in src.rglob("data") if p.is_dir()):
        for f in sorted(p for p in folder.rglob("*") if p.is_file()):
            found[f.relative_to(folder).as_posix()] = f
    return found


def data_refs(code: str) -> list[str]:
    refs = []
    for m in DATA_REF.finditer(code):
        ref = m.group(1).rstrip(".:")
        if ref and ref not in refs:
            refs.append(ref)
    return refs


def needed_files(code: str, index: dict[str, Path]) -> tuple[list[str], list[str]]:
    """(paths in data/ to copy, missing paths) for what the reference code reads."""
    present: list[str] = []
    missing: list[str] = []
    wanted_refs = data_refs(code)
    for name, files in TORCHVISION.items():
        if re.search(rf"datasets\.{name}\s*\(", code):
            wanted_refs.extend(files)
    for ref in wanted_refs:
        if ref in index:
            present.append(ref)
        elif any(k.startswith(ref.rstrip("/") + "/") for k in index):
            present.append(ref.rstrip("/"))
        elif ref not in missing:
            missing.append(ref)
    return sorted(set(present)), missing


def _norm_modules(text: Any) -> str:
    return "&".join(part.strip() for part in str(text).split("&") if part.strip())


def task_name(src: Path, path: Path) -> str:
    rel = path.relative_to(src) if src.is_dir() else Path(path.name)
    parts = [p.removeprefix("cibench_") for p in rel.parts[:-1]]
    stem = path.stem
    if parts and stem.startswith(parts[-1]):
        parts = parts[:-1]  # template/pandas/pandas_exp01 -> template-pandas_exp01
    return slug("-".join([*parts, stem]))


class CIBenchImporter:
    name = "cibench"
    description = "CIBench jupytext markdown sources (template / generation splits) and data/"

    def run(self, src: Path, opts: ImportOptions) -> ImportReport:
        if not src.exists():
            raise ImportSourceError("no such file or folder", path=src)
        out = check_out(opts)
        report = ImportReport(kind=self.name, out=out)
        if src.is_file():
            files, root = [src], src.parent
        else:
            files = sorted(p for p in src.rglob("*.md") if p.name.lower() != "readme.md"
                           and "data" not in p.relative_to(src).parts)
            root = src
        if not files:
            raise ImportSourceError("no markdown task sources found", path=src)
        index = index_data(root)
        copies: set[tuple[Path, str]] = set()
        for path in files:
            shown = path.relative_to(root).as_posix()
            if opts.limit is not None and len(report.written) >= opts.limit:
                report.skipped.append(Skipped(shown, "over --limit", ""))
                continue
            mismatch = None
            try:
                parsed = parse_source(path)
            except SourceError as exc:
                try:
                    parsed = parse_positional(path)
                except SourceError as unusable:
                    report.skipped.append(Skipped(shown, "malformed", f"{exc}; {unusable}"))
                    log.warning("%s: %s; skipped", shown, unusable)
                    continue
                mismatch = str(exc)
            split, module = placement(root, path, parsed.meta)
            task_id = f"{split}/{module}/{slug(path.stem)}"
            if not any(wanted(name, opts) for name in (task_id, task_name(root, path), path.stem)):
                continue
            code = "\n".join(c for _, refs in parsed.steps for c in refs)
            present, missing = needed_files(code, index)
            if missing:
                report.incomplete.append(Skipped(shown, "needs assets",
                                                 "missing data/" + ", data/".join(missing)))
            if mismatch:
                report.incomplete.append(Skipped(shown, "mismatched", mismatch))
                log.warning("%s: %s; imported with OpenCompass's positional pairing", shown,
                            mismatch)
            folder = out / split / module
            nb = self._notebook(task_id, shown, parsed, opts, missing, mismatch, split)
            target = folder / f"{slug(path.stem)}.ipynb"
            write_notebook(target, nb)
            report.written.append(target)
            copies.update((folder, rel) for rel in present)
        for folder, rel in sorted(copies):
            if copy_data(index[rel] if rel in index else _dir_of(index, rel), folder / "data" / rel):
                report.data_files += 1
        return report

    def _notebook(self, task_id: str, shown: str, parsed: ParsedSource, opts: ImportOptions,
                  missing: list[str], mismatch: str | None, split: str) -> Any:
        meta = parsed.meta
        n = len(parsed.steps)
        types = [*meta["step_types"][:n], *["exec"] * max(0, n - len(meta["step_types"]))]
        modules = list(meta.get("modules") or [meta.get("module", "")] * n)
        modules = [*modules[:n], *[meta.get("module", "")] * max(0, n - len(modules))]
        steps = [StepSpec(type=kind, instruction=instr, reference=refs,
                          module=_norm_modules(mod))
                 for (instr, refs), kind, mod in zip(parsed.steps, types, modules, strict=False)]
        info: dict[str, Any] = {
            "task_id": task_id,
            "title": str(meta.get("title", task_id)).strip(),
            "module": str(meta.get("module", "")).strip(),
            "difficulty": str(meta.get("difficulty", "")).strip().lower(),
            "language": "zh" if "chinese" in split.lower() else opts.language,
            "source": {"benchmark": "cibench", "split": split, "file": shown,
                       "idx": meta.get("idx"), "dataset": meta.get("dataset")},
        }
        if missing:
            info["needs_assets"] = [f"data/{m}" for m in missing]
        if mismatch:
            info["mismatch"] = (f"{mismatch}; imported with OpenCompass's positional pairing "
                                f"({n} steps)")
        code = "\n".join(c for _, refs in parsed.steps for c in refs)
        if NETWORK.search(code):
            info["needs_network"] = True
        notes = [f"**Imported with a mismatch:** {info['mismatch']}"] if mismatch else []
        return build_notebook(f"cibench/{task_id}", steps, info, notes=notes)


def _dir_of(index: dict[str, Path], rel: str) -> Path:
    """The source folder holding data/<rel>/... (rel is a directory reference)."""
    key = next(k for k in sorted(index) if k.startswith(rel + "/"))
    path = index[key]
    for _ in range(key.count("/") - rel.count("/")):
        path = path.parent
    return path
