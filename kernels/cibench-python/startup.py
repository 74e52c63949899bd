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
del _cibench_random, _cibench_warnings
