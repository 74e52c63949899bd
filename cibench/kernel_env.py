"""The evaluation kernel's own Python environment: install it, find it, check it, fingerprint it.

Tasks run in a kernel whose Python is *not* the harness's: `cibench kernel install --profile P`
builds a virtualenv from the pinned `kernels/requirements-P.txt` (with `uv` when it is there,
else `python -m venv` + pip), in a temporary folder beside the target that is renamed into place
once complete, world-readable so that the per-session uids of the sandbox can run it. The env
records a hash of what it was built from (`cibench-kernel.json`): installing the same pins again
does nothing. The install is then recorded as the kernel cibench uses (a small JSON pointer in
the user's config folder).

Which Python runs the kernel (`kernel_python`): `$CIBENCH_KERNEL_PYTHON`, else the recorded
install, else an env at the default location, else the harness's own interpreter (logged once).

Offline assets (`kernels/assets/`: seaborn example datasets, NLTK stopwords) ship with the
project; an install copies them into the env so a sandbox uid can read them wherever the
project's clone lives, and the kernel's startup code points `SEABORN_DATA` and `NLTK_DATA` at them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import KernelEnvError, UnknownNameError
from .resources import kernels_dir

log = logging.getLogger(__name__)

MARKER = "cibench-kernel.json"  # inside an installed env: what it was built from
POINTER = "kernel-env.json"  # in the config folder: which env cibench uses
ASSETS = "cibench-assets"  # inside an installed env: the copy of kernels/assets
SCHEMA_VERSION = 1
ENV_PYTHON = "CIBENCH_KERNEL_PYTHON"
# import names of the distributions whose module name differs from the distribution name
IMPORT_NAMES = {"scikit-learn": "sklearn", "scikit-image": "skimage", "pillow": "PIL",
                "opencv-python-headless": "cv2", "opencv-python": "cv2",
                "tensorflow-cpu": "tensorflow", "tensorflow": "tensorflow"}
REQ_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(==\s*([^\s;#]+))?\s*"
                    r"(?:;\s*([^#]+))?")


# ---------------------------------------------------------------- profiles and requirements

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


def _directives(path: Path) -> dict[str, str]:
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


# ---------------------------------------------------------------- locations

def default_root() -> Path:
    """Where envs go: /opt/cibench/kernels as root (readable by the sandbox uids), else
    $XDG_DATA_HOME/cibench/kernels (~/.local/share/cibench/kernels)."""
    if os.geteuid() == 0:
        return Path("/opt/cibench/kernels")
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "cibench" / "kernels"


def config_dir() -> Path:
    env = os.environ.get("CIBENCH_CONFIG_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "cibench"


def env_python(env: Path) -> Path:
    return Path(env) / "bin" / "python"


def read_marker(env: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((Path(env) / MARKER).read_text())
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def recorded_env() -> Path | None:
    """The env recorded by the last `cibench kernel install`, if it is still there."""
    try:
        data = json.loads((config_dir() / POINTER).read_text())
        env = Path(data["path"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return env if env_python(env).exists() and read_marker(env) else None


def installed_env() -> Path | None:
    """The recorded env, else a complete env at the default location (default profile first)."""
    env = recorded_env()
    if env is not None:
        return env
    for profile in ("default", "full"):
        candidate = default_root() / profile
        if env_python(candidate).exists() and read_marker(candidate):
            return candidate
    return None


_fallback_logged: list[str] = []


def kernel_python() -> str:
    """The interpreter that runs evaluation kernels (see the module docstring for the order)."""
    override = os.environ.get(ENV_PYTHON)
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            raise KernelEnvError(f"${ENV_PYTHON}={override} is not an executable file",
                                 hint="point it at the bin/python of an environment with "
                                      "ipykernel, or unset it")
        return override
    env = installed_env()
    if env is not None:
        return str(env_python(env))
    if not _fallback_logged:
        _fallback_logged.append(sys.executable)
        log.info("no kernel environment installed (`cibench kernel install`); kernels run "
                 "in cibench's own Python %s", sys.executable)
    return sys.executable


def assets_dir() -> Path:
    """The offline assets the kernel uses: the installed env's copy when the kernel runs in an
    installed env (readable by the sandbox uids), else `kernels/assets` of the project."""
    if not os.environ.get(ENV_PYTHON):
        env = installed_env()
        if env is not None and (env / ASSETS).is_dir():
            return env / ASSETS
    return kernels_dir() / "assets"


def assets_prelude() -> str:
    """Kernel code defining where the assets are, read by kernels/cibench-python/startup.py."""
    return f"_CIBENCH_ASSETS = {str(assets_dir())!r}\n"


# ---------------------------------------------------------------- install

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


def register(env: Path, profile: str) -> Path:
    """Record `env` as the kernel environment cibench uses."""
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    pointer = folder / POINTER
    tmp = pointer.with_name(pointer.name + ".tmp")
    tmp.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "profile": profile,
                               "path": str(env), "python": str(env_python(env))}, indent=1))
    tmp.replace(pointer)
    return pointer


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

    # bytecode compiled at install: a per-session uid cannot write __pycache__ in the env, and
    # would otherwise compile every module it imports at each kernel start
    wanted = _directives(req).get("installer", "uv")
    uv = _uv() if installer in ("auto", "uv") else None
    if installer == "uv" and uv is None:
        raise KernelEnvError("uv is not installed", hint="pip install uv, or --installer pip")
    use_uv = uv is not None and (installer == "uv" or wanted != "pip")
    _traversable_parents(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    os.chmod(tmp, 0o755)
    log_file = target.parent / f"{target.name}.install.log"
    log_file.write_text("")
    started = time.monotonic()
    try:
        env = dict(os.environ)
        env.pop("VIRTUAL_ENV", None)
        if use_uv and uv is not None:
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
        seconds = round(time.monotonic() - started, 1)
        _relocate(tmp, target)
        data: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "profile": profile, "requirements": str(req),
                "requirements_sha256": digest, "python": version, "base_python": base,
                "installer": "uv" if use_uv else "pip", "seconds": seconds,
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
    copy_assets(target)
    result = InstallResult(target, env_python(target), profile, changed=True,
                           installer=data["installer"], seconds=seconds)
    if os.geteuid() == 0 and not (_world_runnable(target / "bin") and _usable_by_others(base)):
        result.warnings.append(f"other uids cannot run {env_python(target)} (a parent folder "
                               "is not traversable): per-session kernel uids will fall back")
    if register_env:
        register(target, profile)
        result.registered = True
    log.info("kernel environment %s installed with %s in %.1f s", target, data["installer"],
             seconds)
    return result


# ---------------------------------------------------------------- check and fingerprint

PROBE_CODE = r"""
import importlib.metadata as md, json, platform, sys
out = {"python": platform.python_version(), "executable": sys.executable, "versions": {}}
for name in json.loads(sys.argv[1]):
    try:
        out["versions"][name] = md.version(name)
    except md.PackageNotFoundError:
        out["versions"][name] = None
print(json.dumps(out))
"""


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def probe(python: str, names: list[str]) -> dict[str, Any]:
    """Python version and installed versions (None = missing) of `names` in `python`."""
    try:
        done = subprocess.run([python, "-c", PROBE_CODE, json.dumps(names)],
                              capture_output=True, text=True, timeout=120, check=False, cwd="/",
                              env=_clean_env())
    except (OSError, subprocess.SubprocessError) as exc:
        raise KernelEnvError(f"cannot run the kernel's Python: {exc}", path=python) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise KernelEnvError(f"the kernel's Python fails: {last[:200]}", path=python)
    return json.loads(done.stdout.strip().splitlines()[-1])


IMPORT_ALL_CODE = r"""
import importlib, json, sys
for name, module in json.loads(sys.argv[1]):
    try:
        importlib.import_module(module)
        print(json.dumps([name, None]), flush=True)
    except BaseException as exc:
        print(json.dumps([name, f"{type(exc).__name__}: {exc}".splitlines()[0][:200]]),
              flush=True)
"""


def import_errors(python: str, names: list[str]) -> tuple[dict[str, str | None], str]:
    """({name: why its module does not import, or None}, a note on a crash): all in one
    process, then the modules a crash (a segfault between two libraries) left untried each in
    a process of its own."""
    pairs = [[n, IMPORT_NAMES.get(n, n.replace("-", "_"))] for n in names]
    env = {**_clean_env(), "TF_CPP_MIN_LOG_LEVEL": "2"}
    try:
        done = subprocess.run([python, "-c", IMPORT_ALL_CODE, json.dumps(pairs)],
                              capture_output=True, text=True, timeout=600, check=False,
                              cwd="/", env=env)
        out = done.stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("importing all modules at once failed: %s", exc)
        out = ""
    errors: dict[str, str | None] = {}
    for line in out.splitlines():
        try:
            name, error = json.loads(line)
            errors[name] = error
        except (ValueError, TypeError):
            continue
    rest = [n for n in names if n not in errors]
    note = ""
    if rest:
        before = [n for n in names if n in errors]
        note = (f"importing {rest[0]} after {', '.join(before) or 'nothing'} in one process "
                f"crashes it (exit {done.returncode if out else '?'}); alone it "
                f"{'imports' if import_error(python, rest[0]) is None else 'fails too'}")
        with ThreadPoolExecutor(max_workers=2) as pool:
            errors.update(zip(rest, pool.map(lambda n: import_error(python, n), rest), strict=False))
    return errors, note


def import_error(python: str, name: str) -> str | None:
    """Why the module of distribution `name` does not import in `python` (own process: one
    broken or crashing module must not hide the others), or None."""
    module = IMPORT_NAMES.get(name, name.replace("-", "_"))
    env = {**_clean_env(), "TF_CPP_MIN_LOG_LEVEL": "2"}
    try:
        done = subprocess.run([python, "-c", f"import {module}"], capture_output=True, text=True,
                              timeout=300, check=False, cwd="/", env=env)
    except subprocess.TimeoutExpired:
        return f"import {module} takes more than 300 s"
    except OSError as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    if done.returncode < 0:
        return f"import {module} kills the process (signal {-done.returncode})"
    last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
    return last[:200]


def _pins_for(python: str) -> tuple[str, dict[str, str]]:
    """(profile, pins) that apply to the kernel `python`: its env's record, else the default
    profile's file."""
    env = Path(python).parent.parent
    marker = read_marker(env)
    if marker and isinstance(marker.get("pins"), dict):
        return str(marker.get("profile", "?")), dict(marker["pins"])
    path = kernels_dir() / "requirements-default.txt"
    return "default", pinned(path) if path.is_file() else {}


@dataclass
class CheckReport:
    python: str
    version: str
    profile: str
    lines: list[str]
    missing: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing


def check(python: str | None = None, profile: str | None = None) -> CheckReport:
    """Import every pinned module in the kernel's Python; one line per module."""
    python = python or kernel_python()
    env_profile, pins = _pins_for(python)
    if profile is not None:
        env_profile, pins = profile, pinned(requirements_file(profile))
    found = probe(python, sorted(pins))
    present = [name for name in sorted(pins) if found["versions"].get(name)]
    errors, crash = import_errors(python, present)
    lines, missing = [], []
    for name in sorted(pins):
        have, want = found["versions"].get(name), pins[name]
        if have is None:
            missing.append(name)
            lines.append(f"MISSING  {name} (pinned {want or 'any'})")
        elif errors.get(name):
            missing.append(name)
            lines.append(f"BROKEN   {name} {have}: {errors[name]}")
        elif want and have != want:
            lines.append(f"ok       {name} {have} (pinned {want})")
        else:
            lines.append(f"ok       {name} {have}")
    own = Path(python).parent.parent / ASSETS
    assets = own if own.is_dir() else kernels_dir() / "assets"
    for what, rel in (("seaborn datasets", "seaborn-data"),
                      ("nltk data", "nltk_data/corpora/stopwords.zip")):
        there = (assets / rel).exists()
        lines.append(f"{'ok' if there else 'MISSING':8} {what}: {assets / rel}")
        if not there:
            missing.append(what)
    if crash:
        lines.append(f"WARNING  {crash}")
    return CheckReport(python=python, version=found["python"], profile=env_profile,
                       lines=lines, missing=missing)


@lru_cache(maxsize=8)
def _fingerprint(python: str, mtime: float) -> tuple[tuple[str, str], ...]:
    _profile, pins = _pins_for(python)
    found = probe(python, sorted(pins))
    items = [("python", found["python"])]
    items += [(name, found["versions"].get(name) or "absent") for name in sorted(pins)]
    return tuple(items)


def kernel_fingerprint() -> dict[str, str]:
    """Python version and the version of every pinned module, as seen by the kernel's Python."""
    python = kernel_python()
    marker = Path(python).parent.parent / MARKER
    try:
        mtime = marker.stat().st_mtime
    except OSError:
        mtime = 0.0
    return dict(_fingerprint(python, mtime))


# ---------------------------------------------------------------- command line

def main(args: Any) -> int:
    """`cibench kernel install|check` (args from cli.py's parser)."""
    if args.kernel_command == "install":
        result = install(args.profile, path=args.path, requirements=args.requirements,
                         base_python=args.base_python, installer=args.installer,
                         force=args.force, register_env=not args.no_register)
        for warning in result.warnings:
            log.warning("%s", warning)
        if result.changed:
            print(f"installed kernel environment {result.profile} in {result.path} "
                  f"({result.installer}, {result.seconds:.1f} s); kernel python {result.python}")
        else:
            print(f"kernel environment {result.profile} in {result.path} is up to date; "
                  f"kernel python {result.python}")
        return 0
    if args.kernel_command == "check":
        report = check(args.python, args.profile)
        print(f"kernel python {report.python} (Python {report.version}, profile {report.profile})")
        for line in report.lines:
            print(line)
        if report.missing:
            print(f"cibench: error: missing from the kernel environment: "
                  f"{', '.join(report.missing)} (run `cibench kernel install`)", file=sys.stderr)
            return 1
        return 0
    raise AssertionError(args.kernel_command)
