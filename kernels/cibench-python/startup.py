# cibench kernel startup: runs once in every session kernel before any task code.
# Deterministic, non-interactive, quiet. Nothing here is shown to the model.
import random as _cibench_random
import warnings as _cibench_warnings

_cibench_random.seed(0)
try:
    import numpy as _cibench_np
    _cibench_np.random.seed(0)
except ImportError:
    pass

# input() needs no patch: requests are sent with allow_stdin=False, so it raises
# StdinNotImplementedError.
_cibench_warnings.filterwarnings("ignore", category=DeprecationWarning)
_cibench_warnings.filterwarnings("ignore", category=FutureWarning)
# tqdm (imported by nltk) warns on import when ipywidgets is absent: noise in every task
_cibench_warnings.filterwarnings("ignore", message="IProgress not found")
# TensorFlow's C++ info lines (oneDNN notice) on import: noise in every task that uses it
__import__("os").environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
del _cibench_random, _cibench_warnings


# Offline assets (kernels/assets, copied into the kernel env by `cibench kernel install`):
# seaborn's example datasets and NLTK data. `_CIBENCH_ASSETS` is defined by cibench just before
# this file runs. `nltk.download(name)` answers from what ships (True, or one line and False)
# and `seaborn.load_dataset(name)` never goes to the network: both patched when first imported.
def _cibench_offline_assets(assets):
    import os
    import sys
    from importlib.machinery import PathFinder

    if assets:
        os.environ["SEABORN_DATA"] = os.path.join(assets, "seaborn-data")
        os.environ["NLTK_DATA"] = os.path.join(assets, "nltk_data")

    nltk_kinds = ("corpora", "tokenizers", "taggers", "models", "chunkers", "sentiment",
                  "stemmers", "grammars", "misc", "help")

    def patch_nltk(nltk):
        def download(info_or_id=None, download_dir=None, quiet=False, *args, **kwargs):
            if info_or_id is None:
                print("[nltk_data] no downloads in this kernel: pass a package name such as "
                      "'stopwords'", file=sys.stderr)
                return False
            names = [info_or_id] if isinstance(info_or_id, str) else list(info_or_id)
            ok = True
            for name in names:
                name = getattr(name, "id", name)
                found = False
                for kind in nltk_kinds:
                    for resource in (f"{kind}/{name}", f"{kind}/{name}.zip"):
                        try:
                            nltk.data.find(resource)
                            found = True
                            break
                        except Exception:  # LookupError: not there
                            continue
                    if found:
                        break
                if not found:
                    ok = False
                    print(f"[nltk_data] {name!r} is not available offline in this kernel "
                          "(no downloads here; shipped: stopwords)", file=sys.stderr)
            return ok
        download.__doc__ = "cibench: answers from the NLTK data shipped with the kernel."
        nltk.download = download
        try:
            nltk.downloader.download = download
        except AttributeError:
            pass
        if os.environ.get("NLTK_DATA") and os.environ["NLTK_DATA"] not in nltk.data.path:
            nltk.data.path.insert(0, os.environ["NLTK_DATA"])

    def patch_seaborn(sns):
        utils = sys.modules.get("seaborn.utils")
        original = getattr(utils, "load_dataset", None)
        if original is None:
            return

        def get_dataset_names():
            home = utils.get_data_home()
            return sorted(f[:-4] for f in os.listdir(home) if f.endswith(".csv")) \
                if os.path.isdir(home) else []

        def load_dataset(name, cache=True, data_home=None, **kws):
            if isinstance(name, str) and not os.path.exists(
                    os.path.join(utils.get_data_home(data_home), f"{name}.csv")):
                raise ValueError(f"seaborn dataset {name!r} is not available offline in this "
                                 f"kernel (no downloads here; available: "
                                 f"{', '.join(get_dataset_names())})")
            return original(name, cache=True, data_home=data_home, **kws)
        load_dataset.__doc__ = original.__doc__
        get_dataset_names.__doc__ = "cibench: the example datasets shipped with the kernel."
        utils.load_dataset = sns.load_dataset = load_dataset
        utils.get_dataset_names = sns.get_dataset_names = get_dataset_names

    patches = {"nltk": patch_nltk, "seaborn": patch_seaborn}

    class Finder:
        """Runs a patch right after its module is first imported."""

        @staticmethod
        def find_spec(fullname, path=None, target=None):
            if fullname not in patches:
                return None
            spec = PathFinder.find_spec(fullname, path)
            if spec is None or spec.loader is None:
                return spec
            loader_exec = spec.loader.exec_module
            patch = patches[fullname]

            def exec_module(module):
                loader_exec(module)
                try:
                    patch(module)
                except Exception as exc:  # never break the import itself
                    print(f"[cibench] offline patch of {fullname} failed: {exc}", file=sys.stderr)
            spec.loader.exec_module = exec_module
            return spec

    for name, patch in patches.items():
        if name in sys.modules:
            patch(sys.modules[name])
    sys.meta_path.insert(0, Finder)


_cibench_offline_assets(globals().pop("_CIBENCH_ASSETS", None))
del _cibench_offline_assets
