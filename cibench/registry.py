"""Named plugins: model backends, conversation protocols, importers and scoring profiles.

Each kind has one `Registry`, fed by the entry points of the kind's group, cibench's own
built-ins included: cibench declares them in its setup.cfg exactly as a plugin would, and they
are found the same way (loaded when a name is first used).

    [options.entry_points]              # setup.cfg: cibench's own, or a plugin's
    cibench.agents = mymodel = my_pkg.agent:make_agent        # factory(name, AgentOptions)
    cibench.protocols = strict = my_pkg.protocol:StrictReact  # class, instantiated per agent
    cibench.importers = mybench = my_pkg.importer:MyImporter  # class, instantiated once
    cibench.scoring_profiles = lenient = my_pkg.scoring:PROFILE  # a ScoringProfile

The entry points of the `cibench` distribution are the built-ins: a plugin cannot take their
names, and one that fails to load is a bug (it raises). A plugin that fails to load is skipped
with a warning naming it. Names can also be registered at run time (`Registry.register`: tests,
notebooks). An unknown name fails with one line listing the known names.

Without installed metadata (a source checkout put on PYTHONPATH), or with metadata from an
install older than the source (made before a built-in was declared), a group holds no entry
point of cibench's own: the built-ins are then read from the `setup.cfg` beside the package (the
same declarations; `pip install -e .` refreshes the metadata). Where neither exists the lookup
fails with one line (`RegistryError`) instead of a registry without its built-ins.
"""

from __future__ import annotations

import configparser
import logging
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Generic, TypeVar

from .errors import RegistryError, UnknownNameError

log = logging.getLogger(__name__)

T = TypeVar("T")

GROUPS = {"model": "cibench.agents", "protocol": "cibench.protocols",
          "importer": "cibench.importers", "scoring profile": "cibench.scoring_profiles"}
DISTRIBUTION = "cibench"
#: cibench's own declarations in a source checkout (the fallback described above)
SOURCE_SETUP_CFG = Path(__file__).resolve().parent.parent / "setup.cfg"


def _is_cibench(entry: metadata.EntryPoint) -> bool:
    dist = getattr(entry, "dist", None)
    name = getattr(dist, "name", None) or ""
    return name.lower().replace("_", "-") == DISTRIBUTION


def source_entry_points(group: str, setup_cfg: Path | None = None) -> list[metadata.EntryPoint]:
    """The entry points of `group` declared in a source checkout's setup.cfg (none without one)."""
    setup_cfg = setup_cfg or SOURCE_SETUP_CFG
    parser = configparser.ConfigParser(interpolation=None)
    try:
        read = parser.read(setup_cfg, encoding="utf-8")
    except configparser.Error as exc:
        raise RegistryError(f"cannot read the entry points of {setup_cfg}: {exc}") from None
    if not read or not parser.has_option("options.entry_points", group):
        return []
    found = []
    for line in parser.get("options.entry_points", group).splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            name, value = (part.strip() for part in line.split("=", 1))
            found.append(metadata.EntryPoint(name=name, value=value, group=group))
    return found


def builtin_entry_points(group: str) -> dict[str, metadata.EntryPoint]:
    """cibench's own entry points of `group`: from the installed metadata, else from the source
    checkout's setup.cfg; RegistryError when neither declares any."""
    entries = [e for e in metadata.entry_points(group=group) if _is_cibench(e)]
    if not entries:
        entries = source_entry_points(group)
        if entries:
            log.debug("no %s entry points in cibench's installed metadata; read %s (`pip install "
                      "-e .` refreshes the metadata)", group, SOURCE_SETUP_CFG)
    if not entries:
        raise RegistryError(f"cibench's built-in {group} are not registered: its installed metadata "
                            f"has no {group} entry points and there is no source setup.cfg",
                            hint="reinstall cibench, e.g. `pip install -e .` in its folder")
    return {entry.name: entry for entry in entries}


class Registry(Generic[T]):
    """Name -> plugin: cibench's built-ins and installed plugins, both entry points of one group;
    plus names registered at run time."""

    def __init__(self, kind: str, hint: str = ""):
        self.kind = kind
        self.group = GROUPS[kind]
        self.hint = hint
        #: names registered at run time (`register`); they keep their name over plugins
        self.registered: dict[str, T] = {}
        self._builtin_entries: dict[str, metadata.EntryPoint] | None = None
        self._builtins: dict[str, T] = {}
        self._plugins: dict[str, T] | None = None

    def register(self, name: str, value: T) -> T:
        self.registered[name] = value
        return value

    def _builtin_names(self) -> dict[str, metadata.EntryPoint]:
        if self._builtin_entries is None:
            self._builtin_entries = builtin_entry_points(self.group)
        return self._builtin_entries

    def _builtin(self, name: str) -> T | None:
        entry = self._builtin_names().get(name)
        if entry is None:
            return None
        if name not in self._builtins:
            self._builtins[name] = entry.load()  # cibench's own: a failure is a bug, not skipped
        return self._builtins[name]

    def _loaded(self) -> dict[str, T]:
        if self._plugins is None:
            self._plugins = {}
            for entry in metadata.entry_points(group=self.group):
                if _is_cibench(entry) or entry.name in self._builtin_names():
                    continue  # a built-in keeps its name
                try:
                    self._plugins[entry.name] = entry.load()
                except Exception as exc:  # noqa: BLE001 - a broken plugin must not break cibench
                    log.warning("%s plugin %r (%s) does not load: %s: %s", self.kind, entry.name,
                                entry.value, type(exc).__name__, exc)
                else:
                    log.debug("%s plugin %r from %s", self.kind, entry.name, entry.value)
        return self._plugins

    def names(self) -> list[str]:
        return sorted({*self._builtin_names(), *self.registered, *self._loaded()})

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.find(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def find(self, name: str) -> T | None:
        found = self._builtin(name)
        if found is None:
            found = self.registered.get(name)
        if found is None:
            found = self._loaded().get(name)
        return found

    def get(self, name: str) -> T:
        found = self.find(name)
        if found is None:
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}",
                                   hint=self.hint or None)
        return found

    def items(self) -> list[tuple[str, T]]:
        return [(name, self.get(name)) for name in self.names()]
