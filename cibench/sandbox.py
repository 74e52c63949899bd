"""Containment of the evaluation kernel: who it runs as, what it may reach, when it dies.

This is containment of *accidents* (a model's `rm -rf`, fork bomb, runaway allocation, stray
download), not a security boundary; see docs/sandbox.md. A kernel command is prefixed with:

- `unshare --net` (only with `--no-network`): a new, empty network namespace. The kernel talks
  to cibench over `ipc` (unix sockets on the filesystem), which works across network namespaces.
- `setpriv`: `--pdeathsig KILL` (the kernel dies with the cibench process, even on SIGKILL),
  `--nnp` (no setuid escalation), and, when cibench runs as root, `--reuid/--regid` to a uid of
  its own per session, so model code cannot write the task sources, the run folder or another
  session's scratch folder, and so RLIMIT_NPROC (not enforced for root) counts only this session.
- `prlimit` (see `kernel.KernelLimits`): address space, CPU time, file size, processes, open files.

Order: unshare, prlimit, setpriv, python (setpriv last, so only Python itself is exec'd as the
sandbox user).
"""

from __future__ import annotations

import itertools
import logging
import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SandboxError
from .kernel_env import kernel_python

log = logging.getLogger(__name__)

# Per-session uids: far above any real account or subordinate-id range; 100 per cibench process.
UID_BASE = 1_500_000_000
REAP_SECONDS = 10.0  # at most this long killing a session's leftover processes
_slots = itertools.count()


@dataclass(frozen=True)
class SandboxOptions:
    """How kernels are contained (what the CLI flags say)."""

    user: str = "auto"  # auto: own uid per session when root; off: run as the invoking user
    network: bool = True  # False: --no-network


def _mapped(uid: int) -> bool:
    """Whether this uid exists in our user namespace (containers map only part of the range)."""
    try:
        for line in Path("/proc/self/uid_map").read_text().splitlines():
            inner, _outer, count = (int(x) for x in line.split())
            if inner <= uid < inner + count:
                return True
        return False
    except (OSError, ValueError):
        return True


def _resolve_user(user: str) -> tuple[int, int]:
    """A fixed user named on the command line, as (uid, gid)."""
    try:
        uid = int(user)
        return uid, uid
    except ValueError:
        pass
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise SandboxError(f"--kernel-user {user}: no such user",
                           hint="use auto, off, a user name or a numeric uid") from None
    return entry.pw_uid, entry.pw_gid


_probe: dict[str, bool] = {}


def other_users_can_run_kernel() -> bool:
    """Whether a uid other than ours can start the kernel's Python and import ipykernel (it
    can't when the interpreter or its packages sit in a folder only root may read, e.g. a venv
    in a 0700 temp dir). Probed once per process and interpreter with a throwaway uid."""
    python = kernel_python()
    if python not in _probe:
        setpriv = shutil.which("setpriv")
        uid = UID_BASE + 99
        ok = False
        if setpriv is not None and os.geteuid() == 0 and _mapped(uid):
            done = subprocess.run(
                [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--",
                 python, "-c", "import ipykernel"],
                capture_output=True, text=True, check=False, cwd="/", timeout=60)
            ok = done.returncode == 0
            if not ok:
                log.info("another uid cannot run %s: %s", python,
                         (done.stderr.strip().splitlines() or ["no output"])[-1])
        _probe[python] = ok
    return _probe[python]


@dataclass
class Sandbox:
    """The containment of one session's kernel: its uid, its prefix, its directories."""

    uid: int | None = None
    gid: int | None = None
    own_uid: bool = False  # the uid belongs to this session alone (cleanup may kill its processes)
    no_network: bool = False
    home: Path | None = None
    _setpriv: str | None = field(default=None, repr=False)

    @classmethod
    def for_session(cls, options: SandboxOptions, home: Path | None = None) -> Sandbox:
        check_available(options)
        setpriv = shutil.which("setpriv")
        box = cls(no_network=not options.network, home=home, _setpriv=setpriv)
        if options.user == "off" or setpriv is None:
            return box
        if options.user == "auto":
            if os.geteuid() != 0 or not other_users_can_run_kernel():
                return box
            uid = UID_BASE + (os.getpid() % 1_000_000) * 100 + next(_slots) % 100
            if not _mapped(uid):
                uid = 65534  # nobody: shared by sessions, but still not root
            box.uid = box.gid = uid
            box.own_uid = uid != 65534
            return box
        if os.geteuid() != 0:
            raise SandboxError(f"--kernel-user {options.user}: switching user needs root",
                               hint="use --kernel-user off")
        box.uid, box.gid = _resolve_user(options.user)
        return box

    def prefix(self, limits: list[str] | None = None) -> list[str]:
        """Command prefix, outermost first: unshare (needs root's capabilities), the resource
        limits (`prlimit ... --`), then setpriv, which drops the user right before Python."""
        cmd: list[str] = []
        if self.no_network:
            cmd += ["unshare", "--net"] if os.geteuid() == 0 else \
                ["unshare", "--net", "--map-current-user"]
        cmd += limits or []
        if self._setpriv:
            cmd += [self._setpriv, "--pdeathsig", "KILL", "--nnp"]
            if self.uid is not None:
                cmd += [f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups"]
            cmd.append("--")
        return cmd

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        """The kernel environment adjusted to the sandbox user (HOME, caches)."""
        if self.home is None:
            return env
        env = {k: v for k, v in env.items() if not k.startswith("XDG_")}
        env["HOME"] = str(self.home)
        env["MPLCONFIGDIR"] = str(self.home / ".matplotlib")
        if self.uid is not None:
            try:
                env["USER"] = env["LOGNAME"] = pwd.getpwuid(self.uid).pw_name
            except KeyError:
                env["USER"] = env["LOGNAME"] = f"cibench{self.uid}"
        return env

    def prepare(self, *paths: Path) -> None:
        """Give the sandbox user the session's own folders (and nothing else)."""
        if self.home is not None:
            _seed_matplotlib_cache(self.home / ".matplotlib")
        if self.uid is None:
            return
        for top in paths:
            for root, dirs, files in os.walk(top):
                for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                    os.lchown(name, self.uid, self.uid if self.gid is None else self.gid)

    def reap(self, seconds: float = REAP_SECONDS) -> int:
        """Kill everything this session's uid still runs (daemons, double forks, processes
        that re-fork when killed), until none is left or `seconds` pass; only when the uid is
        the session's own. Returns how many rounds of kill(-1, SIGKILL) it took (0: none)."""
        if not self.own_uid or self.uid is None:
            return 0
        if not uid_processes(self.uid):
            return 0
        rounds = _kill_uid_from_inside(self.uid, self.gid or self.uid, seconds)
        if rounds is None:  # the killer could not run as that uid: walk /proc from here
            rounds = _kill_uid_from_outside(self.uid, seconds)
        left = uid_processes(self.uid)
        if left:
            log.warning("sandbox uid %d still runs %d process(es) after %g s of killing",
                        self.uid, len(left), seconds)
        else:
            log.info("killed the leftover processes of sandbox uid %d (%d round(s))",
                     self.uid, rounds)
        return rounds


def _kill_uid_from_inside(uid: int, gid: int, seconds: float) -> int | None:
    """Repeat `kill -KILL -1` as the session's uid (setpriv, then util-linux/procps `kill`):
    kill(-1, SIGKILL) signals every process that uid owns at once (the kernel holds the task
    list meanwhile, so a fork cannot slip through half-way), until /proc shows none alive
    (zombies do not count) or `seconds` pass. None when setpriv or kill is missing."""
    setpriv, kill = shutil.which("setpriv"), shutil.which("kill")
    if setpriv is None or kill is None:
        return None
    cmd = [setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", kill, "-KILL", "--",
           "-1"]
    deadline = time.monotonic() + seconds
    rounds = 0
    while uid_processes(uid) and time.monotonic() < deadline:
        rounds += 1
        try:
            subprocess.run(cmd, capture_output=True, cwd="/", env={"PATH": "/usr/bin:/bin"},
                           timeout=10, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            log.debug("kill as uid %d: %s", uid, exc)
            return None
    return rounds


def _kill_uid_from_outside(uid: int, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    rounds = 0
    while True:
        pids = uid_processes(uid)
        if not pids or time.monotonic() > deadline:
            return rounds
        rounds += 1
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.002)


def _proc_status(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return ""


def uid_processes(uid: int) -> list[int]:
    """Live (not zombie) processes whose real, effective or saved uid is `uid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        status = _proc_status(entry)
        if not status or "\nState:\tZ" in status or "\nState:\tX" in status:
            continue
        uids = next((ln.split()[1:4] for ln in status.splitlines() if ln.startswith("Uid:")), [])
        if str(uid) in uids:
            found.append(int(entry))
    return found


def group_processes(pgid: int) -> list[int]:
    """Live (not zombie) processes of the process group `pgid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[0] not in ("Z", "X") and fields[2] == str(pgid):
            found.append(int(entry))
    return found


def kill_group(pgid: int | None, seconds: float = REAP_SECONDS) -> int:
    """Kill the kernel's process group until no live member is left (bounded by `seconds`):
    what `--kernel-user off` can clean up. Never our own group. Returns the rounds it took."""
    if not pgid or pgid <= 1 or pgid == os.getpgrp():
        return 0
    deadline = time.monotonic() + seconds
    rounds = 0
    while group_processes(pgid):
        if time.monotonic() > deadline:
            log.warning("process group %d still alive after %g s of killing", pgid, seconds)
            break
        rounds += 1
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            break
        except PermissionError as exc:
            log.debug("killpg %d: %s", pgid, exc)
            break
        time.sleep(0.002)
    return rounds


def _seed_matplotlib_cache(target: Path) -> None:
    """Copy the invoking user's matplotlib font cache so a fresh HOME does not rebuild it."""
    target.mkdir(parents=True, exist_ok=True)
    source = Path(os.environ.get("MPLCONFIGDIR") or
                  Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "matplotlib")
    try:
        for font_cache in source.glob("fontlist-*.json"):
            shutil.copy2(font_cache, target / font_cache.name)
    except OSError:
        pass


_checked: dict[SandboxOptions, None] = {}


def check_available(options: SandboxOptions) -> None:
    """Fail early, with what to do, when the OS cannot give what the flags ask for."""
    if options in _checked:
        return
    if not options.network:
        if shutil.which("unshare") is None:
            raise SandboxError("--no-network needs `unshare` (util-linux), which is not installed",
                               hint="install util-linux or drop --no-network")
        cmd = ["unshare", "--net", "true"] if os.geteuid() == 0 else \
            ["unshare", "--net", "--map-current-user", "true"]
        probe = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if probe.returncode != 0:
            reason = (probe.stderr.strip().splitlines() or ["failed"])[-1]
            raise SandboxError(f"--no-network: this system refuses a network namespace ({reason})",
                               hint="run as root, enable unprivileged user namespaces "
                                    "(sysctl kernel.unprivileged_userns_clone=1), run inside a "
                                    "container started with --network none, or drop --no-network")
    if options.user not in ("auto", "off"):
        if shutil.which("setpriv") is None:
            raise SandboxError(f"--kernel-user {options.user} needs `setpriv` (util-linux)",
                               hint="install util-linux or use --kernel-user off")
        if os.geteuid() != 0:
            raise SandboxError(f"--kernel-user {options.user}: switching user needs root",
                               hint="use --kernel-user off")
        _resolve_user(options.user)  # no such user: refused before anything is written
    if options.user == "auto":
        _check_auto_user()
    _checked[options] = None


_told_same_user = False


def _check_auto_user() -> None:
    """`--kernel-user auto` never degrades silently. As root it needs a kernel Python that a
    per-session uid can run, else the run is refused; without root (no uid to switch to) kernels
    run as the invoking user, which is said once."""
    global _told_same_user
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            raise SandboxError("--kernel-user auto needs `setpriv` (util-linux) to run each kernel "
                               "as a uid of its own", hint="install util-linux, or pass "
                               "--kernel-user off to run model code as root knowingly")
        if not other_users_can_run_kernel():
            raise SandboxError(f"--kernel-user auto: a per-session uid cannot run the kernel's "
                               f"Python {kernel_python()} (it sits in a folder only root may read)",
                               hint="run `cibench kernel install` (it builds a kernel environment "
                                    "every uid can run), or pass --kernel-user off to run model "
                                    "code as root knowingly")
        return
    if not _told_same_user:
        _told_same_user = True
        log.warning("kernels run as your own user (not root: no uid to switch to): model code can "
                    "read and write what you can, this process's environment (API keys) "
                    "included; docs/sandbox.md")
