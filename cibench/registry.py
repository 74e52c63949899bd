"""Named plugins: model backends, conversation protocols, importers and scoring profiles.

Each kind has one `Registry`: the built-ins cibench registers in code, plus whatever installed
packages declare under the kind's entry-point group, loaded on first use:

    [options.entry_points]              # a plugin's setup.cfg
    cibench.agents = mymodel = my_pkg.agent:make_agent        # factory(name, AgentOptions)
    cibench.protocols = strict = my_pkg.protocol:StrictReact  # class, instantiated per agent
    cibench.importers = mybench = my_pkg.importer:MyImporter  # class, instantiated once
    cibench.scoring_profiles = lenient = my_pkg.scoring:PROFILE  # a ScoringProfile

An unknown name fails with one line listing the known names. A plugin that fails to load is
skipped with a warning naming it; it never hides the built-ins.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping
from importlib import metadata
from typing import Generic, TypeVar

from .errors import UnknownNameError

log = logging.getLogger(__name__)

T = TypeVar("T")

GROUPS = {"model": "cibench.agents", "protocol": "cibench.protocols",
          "importer": "cibench.importers", "scoring profile": "cibench.scoring_profiles"}


class Registry(Generic[T]):
    """Name -> plugin: the built-ins (a dict the owning module keeps registering into) and the
    entry points of one group, loaded once."""

    def __init__(self, kind: str, builtins: MutableMapping[str, T], hint: str = ""):
        self.kind = kind
        self.group = GROUPS[kind]
        self.builtins = builtins
        self.hint = hint
        self._plugins: dict[str, T] | None = None

    def _loaded(self) -> dict[str, T]:
        if self._plugins is None:
            self._plugins = {}
            for entry in metadata.entry_points(group=self.group):
                if entry.name in self.builtins:
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
        return sorted({*self.builtins, *self._loaded()})

    def __contains__(self, name: object) -> bool:
        return name in self.builtins or name in self._loaded()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def find(self, name: str) -> T | None:
        if name in self.builtins:
            return self.builtins[name]
        return self._loaded().get(name)

    def get(self, name: str) -> T:
        found = self.find(name)
        if found is None:
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}",
                                   hint=self.hint or None)
        return found

    def items(self) -> list[tuple[str, T]]:
        return [(name, self.get(name)) for name in self.names()]
