"""Files: atomic writes (a killed run never leaves a half-written file) and scratch workspaces."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .errors import RunDirError
from .task import Task


def check_folder_arg(path: str | Path, flag: str) -> Path:
    """A folder argument that exists as a folder or can be created; RunDirError otherwise."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{flag} {path}: exists and is not a folder",
                          hint=f"give {flag} a folder")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        raise RunDirError(f"{flag} {path}: {probe} is not a writable folder",
                          hint=f"give {flag} a folder you can write to")
    return path


def current_umask() -> int:
    """The process's umask (read without changing it where /proc allows)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write via a temporary file in the same folder, fsync, then rename over the target.
    The file gets the permissions of a normal new file (0666 minus the umask), not mkstemp's
    0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """`atomic_write_bytes` of UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def make_scratch(task: Task, root: str | Path | None = None) -> Path:
    """A fresh working directory for one session holding a copy of the task's `data/`."""
    scratch = Path(tempfile.mkdtemp(prefix=f"cibench-{task.path.stem}-", dir=root))
    if task.data_dir.is_dir():
        shutil.copytree(task.data_dir, scratch / "data")
    return scratch


def make_sandbox_dirs(task: Task, root: str | Path | None = None) -> tuple[Path, Path, Path]:
    """A fresh folder for one session: `work/` (the kernel's cwd, a copy of the task's `data/`)
    and `home/` (the kernel's HOME: caches, dotfiles), side by side so the model's cwd holds
    only the task's files. Returns (folder, work, home); remove the folder when done."""
    top = Path(tempfile.mkdtemp(prefix=f"cibench-{task.path.stem}-", dir=root))
    # traversable, not listable: a session uid must resolve absolute paths through it
    # (os.getcwd(), skimage.io.imsave, matplotlib's config dir under HOME); work/ and home/ are
    # that uid's own, mode 0700, so another session's uid still gets no further
    os.chmod(top, 0o711)
    work, home = top / "work", top / "home"
    work.mkdir()
    home.mkdir()
    if task.data_dir.is_dir():
        shutil.copytree(task.data_dir, work / "data")
    return top, work, home


def remove_tree(path: str | Path) -> None:
    """Remove a scratch folder even if model code made parts of it read-only."""
    def _unlock(func: Any, p: str, _exc: Any) -> None:
        try:
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass
    shutil.rmtree(path, onerror=_unlock)
