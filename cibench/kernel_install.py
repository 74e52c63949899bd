"""Build the evaluation kernel's virtualenv from a profile's pinned requirements
(`cibench kernel install`; the whole picture is in kernel_env's docstring).

The env is built with `uv` when it is there, else `python -m venv` + pip, in a temporary folder
beside the target that is renamed into place once complete, world-readable so that the
per-session uids of the sandbox can run it. It records a hash of what it was built from
(`cibench-kernel.json`): installing the same pins again does nothing.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import KernelEnvError, UnknownNameError
from .kernel_env import ASSETS, MARKER, SCHEMA_VERSION, default_root, env_python, read_marker, register
from .kernel_profiles import directives, pinned, requirements_file, requirements_hash
from .resources import kernels_dir

log = logging.getLogger(__name__)


@dataclass
class InstallResult:
    path: Path
    python: Path
    profile: str
    changed: bool  # False: an env with the same pins was already there
    installer: str = ""
    seconds: float = 0.0
    registered: bool = False
    warnings: list[str] = field(default_factory=list)


def _world_runnable(path: Path) -> bool:
    """Whether a uid that is neither owner nor group could reach and execute `path`."""
    path = Path(os.path.realpath(path))
    try:
        if not path.stat().st_mode & stat.S_IXOTH:
            return False
        for parent in path.parents:
            if not parent.stat().st_mode & stat.S_IXOTH:
                return False
    except OSError:
        return False
    return True


def _python_info(python: str) -> tuple[str, str]:
    """(version, base prefix) of an interpreter."""
    try:
        done = subprocess.run([python, "-c", "import sys, platform; "
                               "print(platform.python_version()); print(sys.base_prefix)"],
                              capture_output=True, text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise KernelEnvError(f"cannot run base Python {python}: {exc}",
                             hint="pass --base-python PATH") from None
    version, prefix = done.stdout.split("\n")[:2]
    return version.strip(), prefix.strip()


def _usable_by_others(python: str) -> bool:
    _version, prefix = _python_info(python)
    return _world_runnable(Path(python)) and _world_runnable(Path(prefix) / "lib")


def choose_base_python(base: str | None = None) -> str:
    """The interpreter the env is made from: `base` if given; else the harness's own when other
    uids can run it; else a world-runnable python3.X of the same minor version (a system one);
    else the harness's own, with a warning (per-session uids will then fall back)."""
    if base:
        found = shutil.which(base) if os.sep not in base else base
        if not found or not os.access(found, os.X_OK):
            raise KernelEnvError(f"--base-python {base}: not an executable",
                                 hint="give the path of a Python 3.11 interpreter")
        return found
    own = os.path.realpath(getattr(sys, "_base_executable", sys.executable) or sys.executable)
    if os.geteuid() != 0 or _usable_by_others(own):
        return own
    minor = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    for candidate in (f"/usr/bin/{minor}", f"/usr/local/bin/{minor}"):
        if os.access(candidate, os.X_OK) and _usable_by_others(candidate):
            log.info("base Python %s: %s is not readable by other uids", candidate, own)
            return candidate
    log.warning("other uids cannot run %s, and no world-readable %s was found: per-session "
                "kernel uids will fall back to root (pass --base-python)", own, minor)
    return own


def _uv() -> str | None:
    if os.environ.get("CIBENCH_NO_UV"):
        return None
    try:
        import uv  # the PyPI wheel ships the binary
        path = uv.find_uv_bin()
        if path and os.access(path, os.X_OK):
            return str(path)
    except (ImportError, FileNotFoundError, AttributeError):
        pass
    return shutil.which("uv")


def _run(cmd: list[str], what: str, log_file: Path, env: dict[str, str] | None = None) -> None:
    log.debug("running %s", " ".join(cmd))
    with open(log_file, "ab") as out:
        out.write(("$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        try:
            done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
        except OSError as exc:
            raise KernelEnvError(f"{what}: {exc}") from None
    if done.returncode != 0:
        tail = [ln.strip() for ln in log_file.read_text(errors="replace").splitlines()
                if ln.strip()]
        reason = next((ln for ln in reversed(tail) if "error" in ln.lower()),
                      tail[-1] if tail else f"exit code {done.returncode}")
        because = [ln[ln.index("Because "):] for ln in tail if "Because " in ln]  # uv's why
        if because:
            reason = f"{reason.rstrip(':')}: {because[-1]}"
        raise KernelEnvError(f"{what} failed: {reason[:240]}", path=log_file)


def _make_readable(top: Path) -> None:
    """Everything readable by all, folders and executables traversable/executable by all."""
    for root, dirs, files in os.walk(top):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            try:
                st = os.lstat(name)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                continue
            mode = st.st_mode | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
            if stat.S_ISDIR(st.st_mode) or st.st_mode & stat.S_IXUSR:
                mode |= stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
            if mode != st.st_mode:
                os.chmod(name, stat.S_IMODE(mode))


def _relocate(tmp: Path, final: Path) -> None:
    """Rewrite the temporary path to the final one in bin/ (script shebangs, activate)."""
    old, new = str(tmp).encode(), str(final).encode()
    for entry in (tmp / "bin").iterdir():
        if entry.is_symlink() or not entry.is_file() or entry.stat().st_size > 1_000_000:
            continue
        data = entry.read_bytes()
        if old in data and b"\0" not in data[:1024]:
            entry.write_bytes(data.replace(old, new))
    cfg = tmp / "pyvenv.cfg"
    if cfg.is_file():
        cfg.write_bytes(cfg.read_bytes().replace(old, new))


def _traversable_parents(path: Path) -> None:
    """Create `path`'s folder chain; folders we create get mode 755."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o755)
        os.chmod(folder, 0o755)


def copy_assets(env: Path) -> None:
    """Refresh the env's copy of kernels/assets (atomically: copy beside, then rename)."""
    source = kernels_dir() / "assets"
    if not source.is_dir():
        return
    target = env / ASSETS
    tmp = Path(tempfile.mkdtemp(prefix=f".{ASSETS}-", dir=env))
    try:
        shutil.copytree(source, tmp / "a")
        _make_readable(tmp / "a")
        old = env / f".{ASSETS}-old"
        if old.exists():
            shutil.rmtree(old)
        if target.exists():
            target.rename(old)
        (tmp / "a").rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def install(profile: str = "default", *, path: Path | None = None,
            requirements: Path | None = None, base_python: str | None = None,
            installer: str = "auto", force: bool = False, register_env: bool = True,
            ) -> InstallResult:
    """Build (or keep) the kernel env of `profile` at `path` (default: default_root()/profile).

    `requirements` replaces the profile's file (the same code path: tests use a tiny one).
    `installer`: auto (uv if available and the file does not ask for pip), uv, or pip."""
    req = Path(requirements) if requirements is not None else requirements_file(profile)
    if not req.is_file():
        raise KernelEnvError("requirements file not found", path=req)
    if installer not in ("auto", "uv", "pip"):
        raise UnknownNameError(f"unknown installer {installer!r} (known: auto, uv, pip)")
    target = Path(path).absolute() if path is not None else default_root() / profile
    base = choose_base_python(base_python)
    version, _prefix = _python_info(base)
    digest = requirements_hash(req, version)
    marker = read_marker(target)
    if marker and marker.get("requirements_sha256") == digest and not force \
            and env_python(target).exists():
        copy_assets(target)
        result = InstallResult(target, env_python(target), profile, changed=False,
                               installer=str(marker.get("installer", "")))
        if register_env:
            register(target, profile)
            result.registered = True
        log.info("kernel environment %s is up to date (%s)", target, profile)
        return result
    if target.exists() and not marker and any(target.iterdir()):
        raise KernelEnvError("exists and is not a cibench kernel environment; not replacing it",
                             path=target, hint="choose another --path or remove it")
    use_uv = _use_uv(installer, req)
    data = _build(target, req, base, use_uv=use_uv, marker={
        "schema_version": SCHEMA_VERSION, "profile": profile, "requirements": str(req),
        "requirements_sha256": digest, "python": version, "base_python": base,
        "installer": "uv" if use_uv is not None else "pip"})
    copy_assets(target)
    result = InstallResult(target, env_python(target), profile, changed=True,
                           installer=data["installer"], seconds=data["seconds"])
    if os.geteuid() == 0 and not (_world_runnable(target / "bin") and _usable_by_others(base)):
        result.warnings.append(f"other uids cannot run {env_python(target)} (a parent folder "
                               "is not traversable): per-session kernel uids will fall back")
    if register_env:
        register(target, profile)
        result.registered = True
    log.info("kernel environment %s installed with %s in %.1f s", target, data["installer"],
             data["seconds"])
    return result


def _use_uv(installer: str, req: Path) -> str | None:
    """The uv binary to build with, or None for python -m venv + pip."""
    wanted = directives(req).get("installer", "uv")
    uv = _uv() if installer in ("auto", "uv") else None
    if installer == "uv" and uv is None:
        raise KernelEnvError("uv is not installed", hint="pip install uv, or --installer pip")
    return uv if uv is not None and (installer == "uv" or wanted != "pip") else None


def _build(target: Path, req: Path, base: str, *, use_uv: str | None,
           marker: dict[str, Any]) -> dict[str, Any]:
    """Build the env in a temporary folder beside `target`, then rename it into place.
    Returns the marker written into it."""
    # bytecode compiled at install: a per-session uid cannot write __pycache__ in the env, and
    # would otherwise compile every module it imports at each kernel start
    _traversable_parents(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    os.chmod(tmp, 0o755)
    log_file = target.parent / f"{target.name}.install.log"
    log_file.write_text("")
    started = time.monotonic()
    try:
        _create_and_install(tmp, req, base, use_uv, log_file)
        seconds = round(time.monotonic() - started, 1)
        _relocate(tmp, target)
        data: dict[str, Any] = {**marker, "seconds": seconds,
                                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                "pins": pinned(req)}
        (tmp / MARKER).write_text(json.dumps(data, indent=1))
        _make_readable(tmp)
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            target.rename(old)
        tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return data


def _create_and_install(tmp: Path, req: Path, base: str, uv: str | None, log_file: Path) -> None:
    """The virtualenv at `tmp` with the requirements of `req` (uv when given, else venv + pip)."""
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    if uv is not None:
        _run([uv, "venv", "--quiet", "--relocatable", "--python", base, str(tmp)],
             "creating the virtualenv (uv venv)", log_file, env)
        _run([uv, "pip", "install", "--quiet", "--compile-bytecode",
              "--python", str(env_python(tmp)),
              "-r", str(req)], f"installing {req.name} (uv pip install)", log_file, env)
    else:
        _run([base, "-m", "venv", str(tmp)], "creating the virtualenv (python -m venv)",
             log_file, env)
        _run([str(env_python(tmp)), "-m", "pip", "install", "--quiet",
              "--disable-pip-version-check", "-r", str(req)],
             f"installing {req.name} (pip install)", log_file, env)
