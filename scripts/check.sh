#!/usr/bin/env bash
# Static checks, the same in CI (.ci/run) and before a commit (.pre-commit-config.yaml):
# ruff (E, F, W, B, I, UP), mypy (strict on records, scoring and run-folder paths; setup.cfg),
# import-linter (layers import only downward; .importlinter).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "[check] ruff"; ruff check cibench tests scripts setup.py
echo "[check] mypy"; mypy cibench
echo "[check] import-linter"; lint-imports --no-cache
