"""Text similarity for ``text`` steps.

* :func:`text_score` (DEFAULT): ROUGE-L F1 over a tokenizer that makes one
  token per CJK character (Han, kana, Hangul) and one lowercased token per
  Latin/other-script word or number (``3.14`` stays one token).  Chinese
  answers therefore get meaningful scores.
* :func:`text_score_cibench` (CIBENCH): ROUGE-1 F with rouge-score's default
  tokenizer and no stemming, which is what OpenCompass' ``RougeEvaluator``
  (HuggingFace ``evaluate`` "rouge", single pair, so the bootstrap aggregate
  equals the pair score) computes.  The default tokenizer keeps only
  ``[a-z0-9]`` so any Chinese text scores 0 there, as in the anchor.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["text_score", "text_score_cibench", "tokenize"]

_CJK = (
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf"  # CJK Extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK Compatibility Ideographs
)
_TOKEN_RE = re.compile(
    rf"[{_CJK}]"  # one token per CJK character
    r"|\d+(?:\.\d+)?"  # numbers, decimals kept whole
    rf"|(?:(?![{_CJK}])[^\W\d_])+"  # words in any other script
)
# Token lists longer than this are cut (logged); the bit-parallel LCS below
# handles 20k x 20k tokens in well under a second.
_MAX_TOKENS = 20000


class _CJKTokenizer:
    """rouge-score tokenizer object (anything with ``tokenize(text)``)."""

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text)


def tokenize(text: str) -> list[str]:
    """Lowercased tokens: one per CJK character, one per word or number."""
    tokens = _TOKEN_RE.findall(text.lower())
    if len(tokens) > _MAX_TOKENS:
        logger.info("text_score: %d tokens cut to %d", len(tokens), _MAX_TOKENS)
        tokens = tokens[:_MAX_TOKENS]
    return tokens


@functools.lru_cache(maxsize=1)
def _cibench_scorer() -> Any:
    """rouge-score's ROUGE-1 scorer, built on first use (importing it pulls in nltk, ~3 s)."""
    from rouge_score import rouge_scorer
    return rouge_scorer.RougeScorer(["rouge1"], use_stemmer=False)


def text_score(expected: str, found: str) -> float:
    """DEFAULT text profile: ROUGE-L F1 in [0, 1] with a CJK-aware tokenizer.

    Departs from CIBench in three ways: ROUGE-L (longest common subsequence,
    so word order counts) instead of ROUGE-1; CJK text is tokenized per
    character instead of being dropped; two texts without any token score 1.0
    when both are empty of tokens (rouge-score would give 0).  The LCS is
    computed bit-parallel (same value as ``RougeScorer(['rougeL'],
    tokenizer=...)``, which is quadratic in pure Python: 5 s for 4000 tokens).
    """
    exp_tokens, got_tokens = tokenize(expected), tokenize(found)
    if not exp_tokens and not got_tokens:
        return 1.0 if " ".join(expected.split()) == " ".join(found.split()) else 0.0
    if not exp_tokens or not got_tokens:
        return 0.0
    lcs = _lcs_length(exp_tokens, got_tokens)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(got_tokens), lcs / len(exp_tokens)
    return 2 * precision * recall / (precision + recall)


def _lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Hyyro 2004).

    Same value as rouge-score's quadratic table (checked in the tests), but
    one big-integer step per token of ``b`` instead of ``len(a)`` Python steps.
    """
    masks: dict[str, int] = {}
    for i, tok in enumerate(a):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for tok in b:
        u = v & masks.get(tok, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - bin(v).count("1")


def text_score_cibench(expected: str, found: str) -> float:
    """CIBENCH text profile: ROUGE-1 F, default tokenizer, no stemmer.

    ``RougeScorer(['rouge1'], use_stemmer=False).score(expected, found)``.
    Text with no ``[a-z0-9]`` token (e.g. Chinese) scores 0, as in the anchor.
    """
    return float(_cibench_scorer().score(expected, found)["rouge1"].fmeasure)
