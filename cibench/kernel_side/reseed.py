"""Reseeding before every reference and attempt: NOT imported by cibench. kernel.py reads this
file as text and runs it at kernel start; `_cibench_reseed(step)` is then called before each
step (random, numpy, torch and tensorflow when loaded)."""
# ruff: noqa
def _cibench_reseed(n):
    import random, sys
    random.seed(n)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(n)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(n)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(n)
_cibench_reseed({seed})
del _cibench_reseed
