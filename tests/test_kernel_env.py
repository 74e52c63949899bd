"""The kernel's own environment: a real install (a tiny profile: just ipykernel, same code path),
kernels started by cibench running that env's Python, offline assets in a real kernel,
`cibench kernel check`, fingerprints, and one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

import pytest

from cibench import cli, kernel_check, kernel_env, kernel_install, kernel_profiles, sandbox
from cibench.errors import KernelEnvError
from cibench.groundtruth import environment_fingerprint
from cibench.kernel import KernelSession, startup_code

pytestmark = pytest.mark.kernel

IPYKERNEL_PIN = "ipykernel==7.4.0"


@pytest.fixture(scope="module")
def env_root():
    """A world-traversable folder (pytest's tmp_path is 0700): what a sandbox uid needs."""
    root = Path(tempfile.mkdtemp(prefix="cibench-kenv-"))
    os.chmod(root, 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def tiny(env_root):
    """A real kernel env built by `install` from a requirements file holding only ipykernel."""
    req = env_root / "requirements-tiny.txt"
    req.write_text(f"# tiny profile for tests\n{IPYKERNEL_PIN}\n")
    result = kernel_install.install("tiny", path=env_root / "envs" / "tiny", requirements=req,
                                    register_env=False)
    return result


@pytest.fixture
def config(tmp_path, monkeypatch):
    """Each test gets its own config folder and no default-location env, unless it says so."""
    monkeypatch.setenv("CIBENCH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("CIBENCH_KERNEL_PYTHON", raising=False)
    monkeypatch.setattr(kernel_env, "default_root", lambda: tmp_path / "no-default")
    return tmp_path / "config"


def _python_of_kernel_code() -> str:
    return "import sys, os; print(sys.executable); print(os.environ.get('SEABORN_DATA'))"


def test_install_builds_a_readable_marked_env(tiny, env_root):
    assert tiny.changed and tiny.installer in ("uv", "pip")
    assert tiny.warnings == []
    python = tiny.python
    assert python == env_root / "envs" / "tiny" / "bin" / "python"
    marker = json.loads((tiny.path / kernel_env.MARKER).read_text())
    assert marker["profile"] == "tiny" and marker["pins"] == {"ipykernel": "7.4.0"}
    assert len(marker["requirements_sha256"]) == 64
    # no temporary folder left beside it, and everything readable by other users
    assert sorted(p.name for p in (env_root / "envs").iterdir()) == ["tiny", "tiny.install.log"]
    for root, dirs, files in os.walk(tiny.path):
        for name in dirs:
            assert os.stat(os.path.join(root, name)).st_mode & stat.S_IXOTH, name
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                assert os.stat(path).st_mode & stat.S_IROTH, path
    # scripts point at the final place, not the temporary folder
    for script in (tiny.path / "bin").iterdir():
        if script.is_file() and not script.is_symlink() and script.stat().st_size < 100_000:
            assert ".tiny.tmp-" not in script.read_text(errors="replace"), script
    # the assets went with it
    assert (tiny.path / kernel_env.ASSETS / "seaborn-data" / "tips.csv").is_file()


def test_second_install_with_the_same_pins_does_nothing(tiny, env_root):
    before = (tiny.path / kernel_env.MARKER).stat().st_mtime_ns
    again = kernel_install.install("tiny", path=tiny.path,
                                   requirements=env_root / "requirements-tiny.txt", register_env=False)
    assert not again.changed
    assert (tiny.path / kernel_env.MARKER).stat().st_mtime_ns == before


def test_install_refuses_a_folder_that_is_not_a_kernel_env(tmp_path, env_root):
    target = tmp_path / "precious"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(KernelEnvError) as err:
        kernel_install.install("tiny", path=target, requirements=env_root / "requirements-tiny.txt",
                               register_env=False)
    assert "not a cibench kernel environment" in str(err.value)
    assert "\n" not in str(err.value)
    assert (target / "notes.txt").read_text() == "mine"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root's kernels run as other uids")
def test_install_under_a_private_folder_warns(tmp_path, env_root, config):
    os.chmod(tmp_path, 0o700)
    result = kernel_install.install("tiny", path=tmp_path / "env",
                                requirements=env_root / "requirements-tiny.txt")
    assert len(result.warnings) == 1 and "other uids cannot run" in result.warnings[0]


def test_registered_env_is_the_kernel_python(tiny, config):
    assert kernel_env.kernel_python() == sys.executable  # nothing installed: the harness's
    kernel_env.register(tiny.path, "tiny")
    assert kernel_env.kernel_python() == str(tiny.python)
    assert kernel_env.assets_dir() == tiny.path / kernel_env.ASSETS


def test_environment_variable_overrides(tiny, config, monkeypatch):
    kernel_env.register(tiny.path, "tiny")
    monkeypatch.setenv("CIBENCH_KERNEL_PYTHON", sys.executable)
    assert kernel_env.kernel_python() == sys.executable
    monkeypatch.setenv("CIBENCH_KERNEL_PYTHON", "/nonexistent/python")
    with pytest.raises(KernelEnvError, match="CIBENCH_KERNEL_PYTHON"):
        kernel_env.kernel_python()


async def test_kernel_runs_the_env_python_not_the_harness(tiny, config, tmp_path):
    kernel_env.register(tiny.path, "tiny")
    work = tmp_path / "work"
    work.mkdir()
    async with KernelSession(work, startup_code=startup_code()) as kernel:
        result = await kernel.execute(_python_of_kernel_code())
    assert result.ok, result.outputs
    executable, seaborn_data = result.stdout().split()
    assert executable == str(tiny.python) != sys.executable
    assert seaborn_data == str(tiny.path / kernel_env.ASSETS / "seaborn-data")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="per-session uids need root and setpriv")
async def test_a_per_session_uid_can_run_the_installed_env(tiny, config, env_root):
    """The point of a world-readable env: the sandbox no longer falls back to root."""
    kernel_env.register(tiny.path, "tiny")
    sandbox._probe.clear()
    assert sandbox.other_users_can_run_kernel()
    box = sandbox.Sandbox.for_session(sandbox.SandboxOptions(user="auto"))
    assert box.uid is not None and box.uid != 0
    work = Path(tempfile.mkdtemp(dir=env_root))
    async with KernelSession(work, startup_code=startup_code(), sandbox=box) as kernel:
        result = await kernel.execute("import os, sys; print(os.getuid(), sys.executable)")
    sandbox._probe.clear()
    assert result.ok, result.outputs
    uid, executable = result.stdout().split()
    assert int(uid) == box.uid and executable == str(tiny.python)


def test_fingerprint_comes_from_the_kernel_env(tiny, config):
    kernel_env.register(tiny.path, "tiny")
    found = environment_fingerprint()
    marker = json.loads((tiny.path / kernel_env.MARKER).read_text())
    assert found == {"python": marker["python"], "ipykernel": "7.4.0",
                     "seeding": found["seeding"]}


def test_fingerprint_of_the_harness_lists_every_default_pin(config):
    found = environment_fingerprint()
    pins = kernel_profiles.pinned(kernel_profiles.requirements_file("default"))
    assert set(pins) | {"python", "seeding"} == set(found)
    assert found["numpy"] == __import__("numpy").__version__


def test_check_prints_one_line_per_module(tiny, config, capsys):
    code = cli.main(["kernel", "check", "--python", str(tiny.python)])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].startswith(f"kernel python {tiny.python} (Python ")
    assert "ok       ipykernel 7.4.0" in out
    assert any(line.startswith("ok       seaborn datasets: ") for line in out)


def test_check_against_a_profile_reports_what_is_missing(tiny, config, capsys):
    code = cli.main(["kernel", "check", "--python", str(tiny.python), "--profile", "default"])
    captured = capsys.readouterr()
    assert code == 1
    assert "MISSING  lightgbm (pinned 4.7.0)" in captured.out.splitlines()
    assert "ok       ipykernel 7.4.0" in captured.out.splitlines()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "missing from the kernel environment: " in err[0]
    assert "lightgbm" in err[0]


def test_unknown_profile_is_one_line_listing_the_known_ones(config, capsys):
    code = cli.main(["kernel", "install", "--profile", "huge"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == ["cibench: error: unknown kernel profile 'huge' (known: default, full)"]


def test_profiles_are_exact_pins():
    for profile in kernel_profiles.known_profiles():
        pins = kernel_profiles.pinned(kernel_profiles.requirements_file(profile))
        assert pins and all(pins.values()), (profile, pins)
    default = kernel_profiles.pinned(kernel_profiles.requirements_file("default"))
    for name in ("pandas", "numpy", "matplotlib", "seaborn", "scipy", "scikit-learn",
                 "statsmodels", "lightgbm", "nltk", "opencv-python-headless", "scikit-image",
                 "pillow", "openpyxl", "xlrd", "ipykernel"):
        assert name in default
    full = kernel_profiles.pinned(kernel_profiles.requirements_file("full"))
    assert set(default) < set(full) and {"torch", "torchvision", "tensorflow-cpu"} <= set(full)


# ------------------------------------------------------------------ offline assets in a kernel

@pytest.fixture
def assets_kernel_python(monkeypatch):
    """The installed default env if there is one (it has nltk and seaborn), else the harness."""
    monkeypatch.delenv("CIBENCH_KERNEL_PYTHON", raising=False)
    env = kernel_env.installed_env()
    if env is not None:
        marker = kernel_env.read_marker(env) or {}
        if {"nltk", "seaborn"} <= set(marker.get("pins", {})):
            return str(kernel_env.env_python(env))
    pytest.importorskip("nltk")
    pytest.importorskip("seaborn")
    monkeypatch.setenv("CIBENCH_KERNEL_PYTHON", sys.executable)
    return sys.executable


NO_NETWORK = """
import socket, urllib.request
def _refuse(*args, **kwargs):
    raise AssertionError("network used")
urllib.request.urlopen = urllib.request.urlretrieve = _refuse
socket.create_connection = _refuse
del _refuse
"""


async def test_nltk_and_seaborn_answer_offline(assets_kernel_python, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    async with KernelSession(work, startup_code=startup_code()) as kernel:
        assert (await kernel.execute(NO_NETWORK)).ok
        run = kernel.execute
        which = await run("import sys; print(sys.executable)")
        assert which.stdout().strip() == assets_kernel_python

        got = await run("import nltk\nprint(nltk.download('stopwords'))\n"
                        "from nltk.corpus import stopwords\n"
                        "print(len(stopwords.words('english')))")
        assert got.ok, got.outputs
        assert got.stdout().split() == ["True", "179"]
        assert not [o for o in got.outputs if o.get("name") == "stderr"], got.outputs

        punkt = await run("print(nltk.download('punkt'))")
        assert punkt.ok and punkt.stdout().strip() == "False"
        err = [o["text"] for o in punkt.outputs if o.get("name") == "stderr"]
        assert len("".join(err).strip().splitlines()) == 1
        assert "'punkt' is not available offline" in err[0]

        tips = await run("import seaborn as sns\nprint(sns.load_dataset('tips').shape)")
        assert tips.ok, tips.outputs
        assert tips.stdout().strip() == "(244, 7)"

        missing = await run("sns.load_dataset('diamonds')")
        assert missing.status == "error"
        assert missing.error["ename"] == "ValueError"
        assert "'diamonds' is not available offline" in missing.error["evalue"]
        assert "tips" in missing.error["evalue"]


def test_a_failed_install_leaves_nothing_behind(env_root, config):
    req = env_root / "requirements-impossible.txt"
    req.write_text("ipykernel==0.0.0.1\n")
    target = env_root / "envs" / "impossible"
    with pytest.raises(KernelEnvError) as err:
        kernel_install.install("impossible", path=target, requirements=req)
    message = str(err.value)
    assert "\n" not in message and "failed" in message and "impossible.install.log" in message
    assert not target.exists()
    assert not [p for p in (env_root / "envs").iterdir() if ".impossible.tmp-" in p.name]
    assert kernel_env.recorded_env() is None  # not registered


@pytest.mark.slow
def test_pip_fallback_builds_the_same_env(env_root, config, monkeypatch):
    """Without uv: python -m venv + pip, same marker, same result."""
    monkeypatch.setenv("CIBENCH_NO_UV", "1")
    req = env_root / "requirements-pure.txt"
    req.write_text("six==1.16.0\n")  # one small pure-Python wheel: pip is slow enough
    result = kernel_install.install("pure", path=env_root / "envs" / "pure-pip", requirements=req)
    assert result.changed and result.installer == "pip"
    assert kernel_env.kernel_python() == str(result.python)
    found = kernel_check.probe(str(result.python), ["six"])
    assert found["versions"] == {"six": "1.16.0"}
    assert json.loads((result.path / kernel_env.MARKER).read_text())["installer"] == "pip"
    assert (result.path / "bin" / "pip").read_text().startswith(f"#!{result.python}")
    assert not kernel_install.install("pure", path=result.path, requirements=req).changed


def test_other_pins_replace_the_env_atomically(env_root, config):
    req = env_root / "requirements-swap.txt"
    req.write_text("six==1.16.0\n")
    target = env_root / "envs" / "swap"
    kernel_install.install("swap", path=target, requirements=req)
    req.write_text("six==1.17.0\n")
    again = kernel_install.install("swap", path=target, requirements=req)
    assert again.changed
    assert kernel_check.probe(str(again.python), ["six"])["versions"] == {"six": "1.17.0"}
    assert json.loads((target / kernel_env.MARKER).read_text())["pins"] == {"six": "1.17.0"}
    assert not [p.name for p in (env_root / "envs").iterdir() if p.name.startswith(".swap")]
