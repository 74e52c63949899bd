"""pass@k, the unbiased estimator of Chen et al. (2021), as used by CRUXEval."""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["pass_at_k"]


def pass_at_k(n: int, c: int, k: int, *, strict: bool = True) -> float:
    """Probability that at least one of ``k`` samples drawn from ``n`` is correct.

    ``n`` samples were generated, ``c`` of them are correct.  Computes
    ``1 - C(n - c, k) / C(n, k)`` in the numerically stable product form
    ``1 - prod(1 - k / i for i in n-c+1..n)``; returns 1.0 when ``n - c < k``
    (every draw of ``k`` contains a correct sample).  Raises ``ValueError`` for
    impossible arguments (``c > n``, ``k > n``, negatives, ``k < 1``); with
    ``strict=False`` ``k > n`` is allowed and gives 1.0 as CRUXEval's own
    ``evaluation/utils_general.py: pass_at_k`` does (it happens there when generations are
    skipped before counting).
    """
    if n < 0 or c < 0 or c > n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n, got n={n}, c={c}")
    if k < 1 or (strict and k > n):
        raise ValueError(f"pass_at_k needs 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))
