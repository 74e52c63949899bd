"""The evaluation kernel's profiles: which pinned requirements file each one is, what it pins,
and the hash of what an environment is built from (see kernel_env for the whole picture)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .errors import KernelEnvError, UnknownNameError
from .resources import kernels_dir

REQ_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(==\s*([^\s;#]+))?\s*"
                    r"(?:;\s*([^#]+))?")


def known_profiles() -> list[str]:
    return sorted(p.name[len("requirements-"):-len(".txt")]
                  for p in kernels_dir().glob("requirements-*.txt"))


def requirements_file(profile: str) -> Path:
    path = kernels_dir() / f"requirements-{profile}.txt"
    if not path.is_file():
        raise UnknownNameError(f"unknown kernel profile {profile!r} "
                               f"(known: {', '.join(known_profiles()) or 'none'})")
    return path


def _expand(path: Path, seen: set[Path] | None = None) -> list[str]:
    """The requirement lines of a file, `-r other.txt` includes expanded, comments kept out."""
    seen = set() if seen is None else seen
    path = path.resolve()
    if path in seen:
        return []
    seen.add(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise KernelEnvError(f"cannot read requirements: {exc.strerror}", path=path) from None
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            lines += _expand(path.parent / line.split(None, 1)[1], seen)
        else:
            lines.append(line)
    return lines


def directives(path: Path) -> dict[str, str]:
    """`# cibench: key=value` comments of a requirements file (e.g. installer=pip)."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        m = re.match(r"#\s*cibench:\s*(\w+)\s*=\s*(\S+)", line.strip())
        if m:
            found[m.group(1)] = m.group(2)
    return found


def _marker_applies(marker: str | None) -> bool:
    if not marker:
        return True
    try:
        from packaging.markers import Marker
        return Marker(marker).evaluate()
    except Exception:  # no packaging, or a marker it cannot read: count it in
        return True


def pinned(path: Path) -> dict[str, str]:
    """{distribution: pinned version} of a requirements file (those whose marker applies here)."""
    found: dict[str, str] = {}
    for line in _expand(path):
        if line.startswith("-"):
            continue
        m = REQ_RE.match(line)
        if m and _marker_applies(m.group(4)):
            found[m.group(1).lower().replace("_", "-")] = (m.group(3) or "").strip()
    return found


RECIPE = "venv+compiled-bytecode-v1"  # how envs are built: a change rebuilds them


def requirements_hash(path: Path, python_version: str) -> str:
    """What an env is built from: the expanded requirement lines, the base Python, the recipe."""
    text = "\n".join([f"recipe {RECIPE}", f"python {python_version}", *_expand(path)])
    return hashlib.sha256(text.encode()).hexdigest()
