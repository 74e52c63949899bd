"""`--executor ray`: each session is one Ray (actor) task, run on a Ray worker with its kernel
started there; the scored record comes back to this process, which judges and writes the run
folder exactly as a local run does (same notebooks, same resume, same summary.json).

    async with RayExecutor(address=None, jobs=8) as executor:   # None: a local Ray instance
        executor.expect(jobs, agent)
        record = await executor.run(job, agent)

What travels (docs/ray.md):
- to the worker: the `SessionJob` (task, ground truth, run config, the `--model` spec and agent
  options, session settings), the task's `data/` folder packed once per folder (workers need no
  shared filesystem for task files), and the model's response cache as it was when the model's
  sessions were queued (one object per cache, shared by all its sessions), so a resumed run
  replays cached answers in the worker as it would locally.
- back: the scored `SessionRecord` as JSON (validated here: worker output is untrusted) and the
  cache entries the session added, appended to the run folder's cache before the notebook is
  written.

The worker builds its own agent from the `--model` spec (`make_agent`), so API keys come from the
worker's environment. The embedded `local` model is refused: every worker would load its own
copy of the weights and start its own server per session.

Resource requests: a session whose model is reached over the network mostly waits, so it asks
for `REMOTE_MODEL_CPUS` (0.25: 8 in flight on 2 cores); oracle and replayed answers keep the
kernel busy and ask for 1 CPU; with a kernel memory limit a session also asks for that memory.
Sessions run on `SessionHost` actors, each one worker process running up to `MAX_SLOTS`
sessions of one size at once and asking Ray for the sum of their requests: a worker process per
session would import Ray, cibench and litellm once per session (measured: 8 such imports took
20 s of a 2-core machine, against 1.5 s of model time per session). A host that dies takes the
sessions it was running with it (each ends with status `error`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import io
import logging
import os
import socket
import tarfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .agents.base import Agent
from .agents.cache import CACHE_FILE, ResponseCache
from .answers import answers_model_name
from .concurrency import is_remote
from .errors import ExecutorError
from .executor import SessionJob
from .groundtruth import environment_fingerprint
from .jsonl_store import JsonlStore
from .ray_worker import SessionHost
from .records import SessionRecord
from .session import finish_record, task_ref
from .task import Task

log = logging.getLogger(__name__)

#: CPUs a session asks for when its model is remote (latency-bound) / when it keeps a core busy
REMOTE_MODEL_CPUS = 0.25
BUSY_CPUS = 1.0
#: sessions one host process runs at once, at most (4 x 0.25 CPU: one host per core)
MAX_SLOTS = 4
#: the embedded local model: refused (see the module docstring)
_EMBEDDED = "local"
INSTALL_HINT = "pip install 'cibench[ray]'"
CONNECT_SECONDS = 5.0  # how long a cluster's head may take to accept a TCP connection
#: the local instance's object store: sessions exchange small objects, keep /dev/shm free
LOCAL_OBJECT_STORE_BYTES = 256 * 1024 * 1024


def _not_installed() -> ExecutorError:
    return ExecutorError("--executor ray: Ray is not installed", hint=INSTALL_HINT)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise _not_installed() from None
    return ray


def check_reachable(address: str, timeout: float = CONNECT_SECONDS) -> None:
    """A clear error, fast, when nothing listens at `address` (`ray.init` would retry for
    minutes against a GCS address). `auto` and `local` are left to Ray."""
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if address in ("auto", "local") or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ExecutorError(f"--address {address}: cannot connect: {exc.strerror or exc}",
                            hint="start the cluster, or check the address (ray://HOST:10001 for "
                                 "Ray Client, HOST:6379 or `auto` on a cluster node)") from None


def is_embedded(model: str) -> bool:
    return model == _EMBEDDED or model.startswith(_EMBEDDED + ":")


def check_models(models: Iterable[str]) -> None:
    """Refuse, before any model or server starts, what Ray cannot run: Ray missing, the
    embedded model."""
    if importlib.util.find_spec("ray") is None:
        raise _not_installed()
    for model in models:
        if is_embedded(model):
            raise ExecutorError(
                f"--model {model} cannot run on --executor ray: each worker would load its own "
                "copy of the embedded model",
                hint="serve the model once (llama-server, vLLM) and pass --model openai/NAME "
                     "--api-base URL reachable from every worker, or use --executor local")


def model_resources(model: str, memory_mb: int | None) -> dict[str, Any]:
    """The Ray resource request of one session of `model` (see the module docstring)."""
    resources: dict[str, Any] = {"num_cpus": REMOTE_MODEL_CPUS if is_remote(model) else BUSY_CPUS}
    if memory_mb:
        resources["memory"] = int(memory_mb) * 1024 * 1024
    return resources


def session_resources(job: SessionJob) -> dict[str, Any]:
    return model_resources(job.model, job.settings.limits.memory_mb)


# -- in the client -------------------------------------------------------------------------------

def _pack_folder(task: Task) -> tuple[bytes, str] | None:
    """The task's `data/` folder as a tar.gz and its sha256 (None: the task has no data)."""
    if not task.data_dir.is_dir():
        return None
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        tar.add(task.data_dir, arcname="data")
    packed = buffer.getvalue()
    return packed, hashlib.sha256(packed).hexdigest()


@dataclass
class _Host:
    handle: Any  # the SessionHost actor
    shape: tuple[float, int]  # (CPUs, memory bytes) of each of its sessions
    free: int  # slots not running a session


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit - 1] + "…"


class RayExecutor:
    """Sessions on Ray workers (see the module docstring). `start_seconds`: how long
    `ray.init` took (starting the local instance, or connecting to `address`)."""

    scores_sessions = True  # workers score: the client only judges and writes

    name = "ray"

    def __init__(self, address: str | None, jobs: int, *, retries: int = 0,
                 models: Sequence[str] = (), memory_mb: int | None = None):
        self.address = address
        self.jobs = jobs
        self.models, self.memory_mb = list(models), memory_mb  # hosts for these start on enter
        self.retries = retries  # Ray re-runs of a session whose worker died (0: status error)
        self.start_seconds: float | None = None  # ray.init: the local instance, or connecting
        self.hosts_seconds: float | None = None  # starting and warming the session hosts
        self._ray: Any = None
        self._actor: Any = None  # ray.remote(SessionHost)
        self._hosts: list[_Host] = []
        self._owns_instance = False
        self._folders: dict[Path, Any] = {}  # data dir -> ref to (tar.gz, sha256) or None
        self._seeds: dict[str, Any] = {}  # client cache folder -> ref to its entries
        self._answer_files: dict[str, Any] = {}  # answers:FILE spec -> ref to (bytes, name, model)
        self._caches: dict[str, ResponseCache] = {}

    async def __aenter__(self) -> RayExecutor:
        ray = _import_ray()
        started = time.monotonic()
        if ray.is_initialized():  # a driver that set Ray up itself (tests, notebooks)
            self._owns_instance = False
        else:
            self._init(ray)
        self.start_seconds = round(time.monotonic() - started, 3)
        resources = ray.cluster_resources()
        log.info("ray: %s in %.2f s (%s CPUs, %d node(s))",
                 "local instance started" if self._owns_instance and self.address is None
                 else f"connected to {self.address or 'the running instance'}",
                 self.start_seconds, resources.get("CPU", 0),
                 sum(1 for n in ray.nodes() if n.get("Alive")))
        self._ray = ray
        self._actor = ray.remote(SessionHost)
        started = time.monotonic()
        await self._start_hosts()
        self.hosts_seconds = round(time.monotonic() - started, 3)
        if self._hosts:
            log.info("ray: %d session host(s) started and warmed in %.2f s", len(self._hosts),
                     self.hosts_seconds)
        return self

    async def _start_hosts(self) -> None:
        """Start and warm the hosts `--jobs` sessions of the run's models will need, so their
        start (a worker process importing Ray, cibench and litellm) is not the sessions'."""
        warming = []
        for request in {tuple(sorted(model_resources(m, self.memory_mb).items()))
                        for m in self.models if not is_embedded(m)}:
            self._check_fits(dict(request))
            shape = (float(dict(request)["num_cpus"]), int(dict(request).get("memory", 0)))
            slots = self._slots(shape)
            for _ in range(-(-self.jobs // slots)):
                host = self._new_host(shape, slots)
                remote = any(is_remote(m) and model_resources(m, self.memory_mb) == dict(request)
                             for m in self.models)
                warming.append(asyncio.wrap_future(host.handle.warm.remote(remote).future()))
        await asyncio.gather(*warming)

    def _init(self, ray: Any) -> None:
        quiet = {"include_dashboard": False, "log_to_driver": False,
                 "logging_level": logging.WARNING, "configure_logging": True}
        # workers import cibench as this process does (a source checkout on PYTHONPATH too)
        env = {"env_vars": {"PYTHONPATH": os.environ["PYTHONPATH"]}} \
            if self.address is None and os.environ.get("PYTHONPATH") else None
        try:
            if self.address is None:
                ray.init(num_cpus=os.cpu_count() or 1,
                         object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                         runtime_env=env, **quiet)
            else:
                check_reachable(self.address)
                ray.init(address=self.address, **quiet)
        except ExecutorError:
            raise
        except Exception as exc:
            where = f"--address {self.address}" if self.address else "a local Ray instance"
            hint = ("check the address (ray://HOST:10001 for Ray Client, `auto` on a cluster "
                    "node) and that the cluster runs the same Ray and Python version"
                    if self.address else "see /tmp/ray/session_latest/logs")
            raise ExecutorError(f"--executor ray: cannot start or reach {where}: "
                                f"{_one_line(exc)}", hint=hint) from None
        self._owns_instance = True

    async def __aexit__(self, *exc: object) -> None:
        hosts, self._hosts = self._hosts, []
        if self._ray is not None:
            for host in hosts:  # on a cluster the hosts must not outlive the run
                with contextlib.suppress(Exception):
                    self._ray.kill(host.handle)
            if self._owns_instance:
                await asyncio.to_thread(self._ray.shutdown)
        self._ray = self._actor = None

    # -- what the runner calls -------------------------------------------------------------------

    def expect(self, jobs: Sequence[SessionJob], agent: Agent) -> None:
        """Refuse the embedded model; ship each task folder and this model's cache once."""
        for job in jobs:
            check_models([job.model])
        for request in {tuple(sorted(session_resources(j).items())) for j in jobs}:
            self._check_fits(dict(request))
        for job in jobs:
            self._folder(job.task)
            self._answers(job.model)
        if jobs and (folder := self._cache_dir(agent, jobs[0])):
            self._seed(folder)

    async def run(self, job: SessionJob, agent: Agent) -> SessionRecord:
        """One session on a worker; a dead worker or a bad answer from one ends the session
        with status `error` (the run goes on; running it again redoes the session)."""
        if self._actor is None:
            raise ExecutorError("RayExecutor.run outside `async with`")
        check_models([job.model])
        shipped = self._folder(job.task)
        cache_dir = self._cache_dir(agent, job)
        seed = self._seed(cache_dir) if cache_dir else None
        host = self._acquire(session_resources(job))
        answers = self._answers(job.model)
        ref = host.handle.run.remote(job, *([r] if r is not None else None
                                            for r in (shipped, seed, answers)))
        try:
            result = await asyncio.wrap_future(ref.future())
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                self._ray.cancel(ref)
            raise
        except Exception as exc:  # the host died (killed, out of memory, node lost): infrastructure
            self._drop(host)
            log.error("%s: ray worker failed: %s", job.task.id, _one_line(exc))
            return self._failed(job, f"ray worker failed: {_one_line(exc)}")
        finally:
            host.free += 1
        return self._accept(job, result, cache_dir)

    def _acquire(self, request: dict[str, Any]) -> _Host:
        """A host with a free slot for a session asking `request`, started when none has one:
        a host of n slots asks Ray for n times the session's CPUs and memory."""
        shape = (float(request["num_cpus"]), int(request.get("memory", 0)))
        for host in self._hosts:
            if host.shape == shape and host.free > 0:
                host.free -= 1
                return host
        host = self._new_host(shape, self._slots(shape))
        host.free -= 1
        return host

    def _new_host(self, shape: tuple[float, int], slots: int) -> _Host:
        """A host actor of `slots` sessions of `shape` (it asks Ray for all of them)."""
        options: dict[str, Any] = {"num_cpus": shape[0] * slots, "max_concurrency": slots,
                                   "max_restarts": self.retries,
                                   "max_task_retries": self.retries}
        if shape[1]:
            options["memory"] = shape[1] * slots
        host = _Host(self._actor.options(**options).remote(), shape, slots)
        self._hosts.append(host)
        log.debug("ray: host %d started (%d slots of %g CPU)", len(self._hosts), slots, shape[0])
        return host

    def _slots(self, shape: tuple[float, int]) -> int:
        """Sessions per host: what one CPU holds (at most MAX_SLOTS, at most --jobs), fewer
        when the biggest node lacks the memory for that many kernels."""
        cpus, memory = shape
        slots = max(1, min(MAX_SLOTS, self.jobs, int(1 / cpus) if cpus < 1 else 1))
        if memory:
            biggest = max((n.get("Resources", {}).get("memory", 0) for n in self._ray.nodes()
                           if n.get("Alive")), default=0)
            slots = max(1, min(slots, int(biggest // memory)))
        return slots

    def _drop(self, host: _Host) -> None:
        if host in self._hosts:
            self._hosts.remove(host)
            with contextlib.suppress(Exception):
                self._ray.kill(host.handle)

    # -- helpers ---------------------------------------------------------------------------------

    def _check_fits(self, request: dict[str, Any]) -> None:
        """A request no node can meet would wait forever: refused on the local instance,
        a warning on a cluster (an autoscaler may still add a node that fits)."""
        names = {"num_cpus": "CPU", "memory": "memory"}
        nodes = [n.get("Resources", {}) for n in self._ray.nodes() if n.get("Alive")]
        if any(all(node.get(names[k], 0) >= v for k, v in request.items()) for node in nodes):
            return
        wanted = f"{request['num_cpus']:g} CPU" + (
            f" and {request['memory'] // 2**20} MB of memory" if "memory" in request else "")
        message = f"a session asks Ray for {wanted}; no node of the cluster has that much"
        if self._owns_instance and self.address is None:
            raise ExecutorError(message, hint="lower --memory-limit")
        log.warning("%s: its sessions wait until one does (lower --memory-limit?)", message)

    def _folder(self, task: Task) -> Any:
        """The task's `data/`, packed and put in the object store once per folder (None: the
        task has none)."""
        key = task.data_dir.resolve()
        if key not in self._folders:
            packed = _pack_folder(task)
            self._folders[key] = None if packed is None else self._ray.put(packed)
        return self._folders[key]

    @staticmethod
    def _cache_dir(agent: Agent, job: SessionJob) -> str | None:
        """The run folder's cache of this model (None: the model keeps none)."""
        options = getattr(agent, "options", None) or job.agent_options
        if not options.cache or getattr(agent, "replays", False) or job.model == "oracle":
            return None
        return options.cache_dir or job.agent_options.cache_dir

    def _answers(self, model: str) -> Any:
        """`answers:FILE[@NAME]`: the file's bytes, put in the object store once (workers need
        not see the client's files)."""
        if not model.startswith("answers:"):
            return None
        if model not in self._answer_files:
            path, name = answers_model_name(model)
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise ExecutorError(f"--model {model}: cannot read the answers file: "
                                    f"{exc.strerror or exc}", path=path) from None
            self._answer_files[model] = self._ray.put((data, path.name, name))
        return self._answer_files[model]

    def _seed(self, folder: str) -> Any:
        """The entries of the cache in `folder`, put in the object store once."""
        if folder not in self._seeds:
            entries = list(JsonlStore(Path(folder) / CACHE_FILE).entries.values())
            self._seeds[folder] = self._ray.put(entries)
            log.debug("ray: response cache %s shipped (%d entries)", folder, len(entries))
        return self._seeds[folder]

    def _failed(self, job: SessionJob, error: str) -> SessionRecord:
        record = SessionRecord(run=job.config, task=task_ref(job.task), status="error",
                               error=error, started=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                  time.gmtime()),
                               environment=environment_fingerprint())
        return finish_record(record, job.truth)

    def _accept(self, job: SessionJob, result: Any, cache_dir: str | None) -> SessionRecord:
        """The worker's answer, checked: a record of this session, and well-formed cache
        entries (appended to the run folder's cache first, so nothing paid for is lost)."""
        if not isinstance(result, dict):
            return self._failed(job, "ray worker returned no result")
        entries = result.get("cache") or []
        if cache_dir and isinstance(entries, list) and entries:
            cache = self._caches.get(cache_dir) or self._caches.setdefault(
                cache_dir, ResponseCache(cache_dir))
            added = 0
            for entry in entries:
                if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
                    continue
                reply, usage = entry.get("reply"), entry.get("usage", {})
                if isinstance(reply, dict) and isinstance(usage, dict):
                    cache.put(entry["key"], str(entry.get("model", "")), reply, usage)
                    added += 1
            log.debug("%s: %d response(s) added to %s", job.task.id, added, cache.path)
        if "error" in result:
            log.error("%s: on ray worker %s: %s", job.task.id, result.get("host"),
                      result["error"])
            return self._failed(job, str(result["error"]))
        try:
            record = SessionRecord.model_validate(result.get("record"))
        except ValidationError as exc:
            return self._failed(job, f"ray worker returned an unreadable record: "
                                     f"{_one_line(exc)}")
        if record.task.id != job.task.id or record.run != job.config:
            return self._failed(job, "ray worker returned the record of another session")
        record.task = task_ref(job.task)  # the client's path, not the worker's unpacked copy
        return record
