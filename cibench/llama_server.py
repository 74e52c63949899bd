"""Serve one GGUF model over OpenAI-compatible HTTP with xllamacpp, until SIGTERM.

This is the child process `LocalModelServer` starts (`python -m cibench.llama_server ...`):
xllamacpp is a prebuilt llama.cpp server wheel, so nothing is compiled on install. The server
listens on 127.0.0.1 only and answers `/v1/chat/completions`, `/v1/models` and `/health`.
It runs in its own process so that a crash in native code can't take cibench down and so that
cibench can always stop it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

log = logging.getLogger(__name__)


def build_params(args: argparse.Namespace) -> Any:
    """xllamacpp's CommonParams for one model on 127.0.0.1."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.n_ctx = args.n_ctx
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.n_threads_http = 2
    return params


def serve(args: argparse.Namespace) -> int:
    try:
        import xllamacpp
    except ImportError:
        print("xllamacpp is not installed; run `pip install -e .` in cibench's folder "
              "(it is one of cibench's dependencies)", file=sys.stderr)
        return 3
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = xllamacpp.Server(build_params(args))
    print(f"cibench.llama_server: {args.alias} listening on {server.listening_address}", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        del server  # joins the server's threads
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cibench.llama_server",
                                     description="Serve one GGUF model on 127.0.0.1 with xllamacpp.")
    parser.add_argument("--model", required=True, help="path of the .gguf file")
    parser.add_argument("--alias", default="local", help="the model name the server reports")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=1, help="requests served at once (slots)")
    return serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
