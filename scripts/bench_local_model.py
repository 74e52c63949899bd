"""Compare the embedded local models: load time, speed, and whether their code is right.

    python scripts/bench_local_model.py [--models smollm2-135m-instruct gemma-3-270m-it] [--json out.json]

Each model gets the same small data-science requests in two prompt styles ("fenced": answer with
one ```python block; "react": CIBench's Thought / Action / Action Input format), through the real
path (LocalModelServer + litellm, temperature 0). The first fenced python block of each reply is
run in a scratch directory holding the data; a request scores 1 if the code runs and its stdout
contains the expected number. Figures go to docs/local-model.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from cibench.local_model import LOCAL_MODELS, LocalModelServer

DATA = {
    "data/x.csv": "a,b,c\n1,10,x\n2,20,y\n3,35,x\n4,40,y\n5,55,x\n",
    "data/sales.csv": "region,amount\nnorth,100\nsouth,250\nnorth,50\neast,75\nsouth,25\n",
}

# (request, numbers that must all appear in stdout)
TASKS = [
    ("Load data/x.csv with pandas and print the mean of column a.", [3.0]),
    ("Load data/x.csv with pandas and print the number of rows.", [5]),
    ("Load data/x.csv with pandas and print the maximum of column b.", [55]),
    ("Load data/x.csv with pandas, keep the rows where a is greater than 2, and print how many rows remain.", [3]),
    ("Load data/sales.csv with pandas and print the total amount per region.", [75, 150, 275]),
    ("Use numpy to compute the standard deviation of the integers 1 to 10 and print it.", [2.8723]),
]

SYSTEMS = {
    "fenced": ("You are a data scientist working in a Jupyter notebook. Answer with one short "
               "```python fenced code block that does what the user asks, and nothing else."),
    "react": ("You are a data scientist with a Python interpreter (Jupyter). To run code, answer exactly:\n"
              "Thought: what you will do\nAction: IPythonInterpreter\nAction Input:\n```python\n<code>\n```\n"
              "The user will reply with the output after 'Response:'."),
}

FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)(?:\n```|$)", re.DOTALL)


def extract_code(text: str) -> str | None:
    m = FENCE.search(text)
    return m.group(1).strip() if m else None


def numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text)]


def run_code(code: str) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory() as d:
        for rel, content in DATA.items():
            p = Path(d, rel)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(content)
        try:
            r = subprocess.run([sys.executable, "-c", code], cwd=d, capture_output=True, text=True,
                               timeout=30, check=False)
        except subprocess.TimeoutExpired:
            return False, "timeout"
        return r.returncode == 0, (r.stdout + r.stderr)[-400:]


def correct(stdout: str, expected: list[float]) -> bool:
    found = numbers(stdout)
    return all(any(abs(f - e) <= 1e-3 * max(1, abs(e)) for f in found) for e in expected)


async def bench(name: str, max_tokens: int, use_stop: bool) -> dict:
    import litellm

    out: dict = {"model": name, "results": []}
    async with LocalModelServer(name, n_ctx=2048) as srv:
        out["load_s"] = srv.load_seconds
        out["gguf_mb"] = srv.gguf.stat().st_size / 1e6
        tok = secs = 0.0
        for style, system in SYSTEMS.items():
            for request, expected in TASKS:
                t0 = time.monotonic()
                resp = await litellm.acompletion(
                    model=srv.litellm_model, api_base=srv.api_base, api_key="local",
                    messages=[{"role": "system", "content": system}, {"role": "user", "content": request}],
                    max_tokens=max_tokens, temperature=0.0, stop=srv.stop if use_stop else None, timeout=300,
                )
                dt = time.monotonic() - t0
                text = resp.choices[0].message.content or ""
                n = resp.usage.completion_tokens
                tok += n
                secs += dt
                code = extract_code(text)
                ran, output = run_code(code) if code else (False, "no code block")
                ok = ran and correct(output, expected)
                out["results"].append({"style": style, "request": request, "reply": text, "tokens": n,
                                       "seconds": round(dt, 2), "has_code": code is not None,
                                       "runs": ran, "correct": ok, "output": output})
                print(f"[{name} {style}] {'OK ' if ok else 'RUN' if ran else 'ERR'} {n:4d} tok {dt:5.1f}s  "
                      f"{request[:60]}", flush=True)
        out["tokens_per_s"] = tok / secs if secs else 0.0
        out["mean_reply_tokens"] = tok / len(out["results"])
    for style in SYSTEMS:
        rs = [r for r in out["results"] if r["style"] == style]
        out[style] = {k: sum(r[k] for r in rs) for k in ("has_code", "runs", "correct")} | {"n": len(rs)}
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=list(LOCAL_MODELS))
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--no-stop", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    summary = []
    for name in args.models:
        summary.append(await bench(name, args.max_tokens, not args.no_stop))
    print("\n| model | GGUF MB | load s | tokens/s | mean reply tokens | fenced: code/runs/correct "
          "| react: code/runs/correct |")
    print("|---|---|---|---|---|---|---|")
    for s in summary:
        f, r = s["fenced"], s["react"]
        print(f"| {s['model']} | {s['gguf_mb']:.0f} | {s['load_s']:.1f} | {s['tokens_per_s']:.1f} | "
              f"{s['mean_reply_tokens']:.0f} | {f['has_code']}/{f['runs']}/{f['correct']} of {f['n']} | "
              f"{r['has_code']}/{r['runs']}/{r['correct']} of {r['n']} |")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
