"""Any chat model litellm can reach, as an `Agent`: the fallback for every model name that is not
built in (`oracle`, `local`).

    cibench run notebooks/demo --model gpt-4o
    cibench run notebooks/demo --model openai/qwen2.5-coder --api-base http://127.0.0.1:8000/v1

litellm is imported on first use, never at import time: `cibench --help`, `validate` and oracle
runs do not pay for its import, and `LITELLM_LOCAL_MODEL_COST_MAP=True` is set before it is
imported so it never fetches its price map from the network (about 12 s of retries offline).

A call that fails with 429, 5xx, a timeout or a connection error is retried with exponential
backoff (`--retries`); when the retries run out, or the error cannot be cured by retrying (bad key,
unknown model, request too long), `AgentError` ends the session with status `error`; the run goes
on with other tasks, exits non-zero, and running it again resumes. Every reply passes through the
response cache (see `cache.py`) before it is used.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import time
from typing import Any
from urllib.parse import urlsplit

from ..errors import AgentError
from ..records import Reply, Turn, Usage
from ..task import Step, Task
from .base import AgentOptions, register_fallback
from .cache import ResponseCache, cache_key
from .protocols import Protocol, RawReply, get_protocol

log = logging.getLogger(__name__)

#: backoff: RETRY_BASE_SECONDS * 2**attempt, jittered, at most RETRY_MAX_SECONDS (tests shrink it)
RETRY_BASE_SECONDS = 1.0
RETRY_MAX_SECONDS = 60.0
CONNECT_CHECK_SECONDS = 5.0
_RETRY_STATUS = {408, 409, 425, 429}
_RETRY_NAMES = {"RateLimitError", "APIConnectionError", "Timeout", "APITimeoutError",
                "InternalServerError", "ServiceUnavailableError", "BadGatewayError",
                "TimeoutError", "ConnectError", "ReadTimeout", "ConnectTimeout", "RemoteProtocolError"}
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$", re.IGNORECASE)

_litellm: Any = None


def import_litellm() -> Any:
    """litellm, imported once, offline (no price-map download), quiet."""
    global _litellm
    if _litellm is None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        os.environ.setdefault("LITELLM_LOG", "ERROR")
        try:
            import litellm
        except ImportError:
            raise AgentError("litellm is not installed; `pip install 'cibench[llm]'` "
                             "(or `pip install litellm`)") from None
        litellm.suppress_debug_info = True  # no "Provider List: ..." banners on stdout
        litellm.telemetry = False
        _litellm = litellm
    return _litellm


def redact(text: str, extra: tuple[str, ...] = ()) -> str:
    """`text` without the value of any secret-looking environment variable (or `extra`)."""
    values = [v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= 6]
    values += [v for v in extra if v and len(v) >= 6]
    for value in sorted(set(values), key=len, reverse=True):
        text = text.replace(value, "[redacted]")
    return text


def _one_line(exc: BaseException, secrets: tuple[str, ...] = (), limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = re.sub(r"^litellm\.\w+:\s*", "", text)
    text = redact(text, secrets)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def is_retryable(exc: BaseException) -> bool:
    """429, 5xx, timeouts and connection errors are worth another try; 4xx are not."""
    status = getattr(exc, "status_code", None)
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"AuthenticationError", "PermissionDeniedError", "NotFoundError",
                "ContextWindowExceededError", "ContentPolicyViolationError",
                "UnsupportedParamsError", "BudgetExceededError"}:
        return False
    if isinstance(status, int) and status >= 400:
        return status in _RETRY_STATUS or status >= 500
    return bool(names & _RETRY_NAMES) or isinstance(exc, (asyncio.TimeoutError, ConnectionError,
                                                           MalformedReply))


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        value = headers.get("retry-after")
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def backoff_delay(attempt: int, exc: BaseException | None = None) -> float:
    delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** attempt)
    delay *= 0.5 + random.random() / 2
    hinted = _retry_after(exc) if exc is not None else None
    if hinted is not None:
        delay = max(delay, min(hinted, RETRY_MAX_SECONDS))
    return delay


def _count(value: Any) -> int:
    """A token count from a reply (untrusted): a non-negative int, else 0."""
    try:
        number = int(value or 0)
    except (TypeError, ValueError, OverflowError):
        return 0
    return min(max(number, 0), 10 ** 12)


class MalformedReply(ValueError):
    """The API answered 200 but not with a usable chat completion (no choices, no message):
    retried like a 5xx, since a server that does this is usually overloaded or broken."""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in value
                       if isinstance(p, (dict, str)))
    raise MalformedReply(f"message content is {type(value).__name__}")


def normalize(response: Any) -> RawReply:
    """A litellm `ModelResponse` as the plain dict protocols parse and the cache stores.
    Everything in it is checked: a reply is untrusted input (MalformedReply if unusable)."""
    choices = getattr(response, "choices", None)
    if not isinstance(choices, (list, tuple)) or not choices:
        raise MalformedReply("the reply has no choices")
    choice = choices[0]
    message = getattr(choice, "message", None)
    if message is None:
        raise MalformedReply("the reply's first choice has no message")
    calls = []
    for call in getattr(message, "tool_calls", None) or []:
        function = getattr(call, "function", None)
        name, arguments = getattr(function, "name", None), getattr(function, "arguments", None)
        call_id = getattr(call, "id", None)
        calls.append({"id": call_id if isinstance(call_id, str) else None,
                      "name": name if isinstance(name, str) else None,
                      "arguments": arguments if isinstance(arguments, str) else None})
    finish = getattr(choice, "finish_reason", None)
    return {"content": _text(getattr(message, "content", None)), "tool_calls": calls,
            "finish_reason": finish if isinstance(finish, str) else None}


class LiteLLMAgent:
    """A chat model reached through `litellm.acompletion`, speaking one prompt protocol."""

    def __init__(self, name: str, options: AgentOptions | None = None, *,
                 litellm_model: str | None = None, api_key: str | None = None,
                 extra_stop: tuple[str, ...] | list[str] = (), free: bool = False,
                 cache_model: str | None = None):
        self.name = name
        self.options = options or AgentOptions()
        self.model = litellm_model or name
        self.cache_model = cache_model or self.model  # the model name the cache key uses
        self.impl: Protocol = get_protocol(self.options.protocol)
        self.protocol = self.impl.name
        self.api_base = self.options.api_base
        self.free = free  # the embedded model: cost is known to be zero
        self.provider: str | None = None
        self._api_key = api_key
        self._extra_stop = list(extra_stop)
        self._cache: ResponseCache | None = None
        self._entered = False
        for key in self.options.model_args:
            if key.lower() in ("api_key", "api_token", "key", "token", "secret"):
                raise AgentError(f"--model-arg {key}: pass keys through the environment and "
                                 "--api-key-env VAR, never on the command line (it would be "
                                 "recorded with the run)")

    # -- setup ---------------------------------------------------------------------------------

    async def __aenter__(self) -> LiteLLMAgent:
        litellm = import_litellm()
        self._resolve_key()
        self._check_provider(litellm)
        if self.api_base:
            await self._check_reachable()
        if self.options.cache and self.options.cache_dir:
            self._cache = ResponseCache(self.options.cache_dir)
        self._entered = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._entered = False

    def _resolve_key(self) -> None:
        if self._api_key is not None:
            return
        var = self.options.api_key_env
        if var:
            value = os.environ.get(var)
            if not value:
                raise AgentError(f"--api-key-env {var}: that environment variable is not set "
                                 "or empty")
            self._api_key = value

    def _check_provider(self, litellm: Any) -> None:
        try:
            _, provider, _, _ = litellm.get_llm_provider(self.model, api_base=self.api_base)
        except Exception:
            raise AgentError(
                f"--model {self.model}: litellm cannot tell which provider serves this model",
                hint="write it as provider/model, e.g. openai/gpt-4o or anthropic/claude-3-5-"
                     "sonnet-latest; for an OpenAI-compatible server use openai/<name> with "
                     "--api-base; `local` and `oracle` are built in") from None
        self.provider = provider
        if self._api_key is not None:
            return
        if self.api_base and provider in ("openai", "text-completion-openai", "hosted_vllm") \
                and not os.environ.get("OPENAI_API_KEY"):
            self._api_key = "no-key"  # self-hosted OpenAI-compatible servers rarely want one
            return
        if not self.api_base:
            try:
                env = litellm.validate_environment(model=self.model)
            except Exception:  # providers litellm cannot check: let the first call tell
                return
            missing = env.get("missing_keys") or []
            if not env.get("keys_in_environment", True) and missing:
                raise AgentError(f"--model {self.model} needs {', '.join(missing)} in the "
                                 "environment", hint="export it, or name the variable that "
                                                     "holds the key with --api-key-env VAR")

    async def _check_reachable(self) -> None:
        url = urlsplit(self.api_base or "")
        if url.scheme not in ("http", "https") or not url.hostname:
            raise AgentError(f"--api-base {self.api_base!r} is not an http(s) URL",
                             hint="e.g. http://127.0.0.1:8000/v1")
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(url.hostname, port),
                                               CONNECT_CHECK_SECONDS)
        except (TimeoutError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            raise AgentError(f"--api-base {self.api_base}: cannot connect to "
                             f"{url.hostname}:{port} ({reason})",
                             hint="is the server running? check the host and port") from None
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass

    # -- calls ---------------------------------------------------------------------------------

    def params(self) -> dict[str, Any]:
        """Everything sent besides model and messages (and the cache key's parameters)."""
        stop = list(dict.fromkeys([*self.impl.stop, *self._extra_stop]))
        params: dict[str, Any] = {"temperature": self.options.temperature,
                                  "max_tokens": self.options.max_tokens}
        if self.options.seed is not None:
            params["seed"] = self.options.seed
        if stop:
            params["stop"] = stop
        tools = self.impl.tools()
        if tools:
            params["tools"] = tools
        params.update(self.options.model_args)
        return params

    async def reply(self, task: Task, step: Step, history: list[Turn]) -> Reply:
        if not self._entered:
            raise AgentError("the agent is used outside `async with`")
        messages = self.impl.messages(task, history, self.options)
        params = self.params()
        key = cache_key(self.cache_model, params, messages)
        hit = self._cache.get(key) if self._cache is not None else None
        if hit is not None:
            raw = hit["reply"]
            usage = Usage(**{**hit.get("usage", {}), "cached_calls": 1})
            log.debug("%s: cache hit %s", self.name, key[:12])
        else:
            raw, usage = await self._call(messages, params, task, step)
            if self._cache is not None:
                self._cache.put(key, self.cache_model, raw, usage.model_dump())
        reply = self.impl.parse(raw)
        reply.usage = usage
        return reply

    async def _call(self, messages: list[dict], params: dict[str, Any], task: Task,
                    step: Step) -> tuple[RawReply, Usage]:
        litellm = import_litellm()
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages,
                                  "timeout": self.options.request_timeout, "max_retries": 0,
                                  "drop_params": True, **params}
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self._api_key is not None:
            kwargs["api_key"] = self._api_key
        if params.get("tools"):
            # litellm 1.106 routes any call with tools through its MCP gateway check, which
            # imports the `mcp` package (not a dependency) and fails; our tool is a plain function
            kwargs["_skip_mcp_handler"] = True
        secrets = (self._api_key or "",)
        retries = max(0, self.options.retries)
        for attempt in range(retries + 1):
            started = time.monotonic()
            try:
                response = await litellm.acompletion(**kwargs)
                raw = normalize(response)
            except Exception as exc:  # litellm maps provider errors onto its own classes
                where = f"{task.id} step {step.index}"
                if any(c.__name__ == "ContextWindowExceededError" for c in type(exc).__mro__):
                    # the model's limit, not the infrastructure's: the step gets no answer
                    # (scored as no tool call) and the run can complete
                    log.warning("%s: %s: the conversation no longer fits the context window",
                                self.name, where)
                    note = f"[no reply: the conversation exceeds the model's context window: " \
                           f"{_one_line(exc, secrets, 160)}]"
                    return {"content": note, "tool_calls": [], "finish_reason": "length"}, \
                        Usage(model_calls=1, cost_usd=0.0)
                if not is_retryable(exc):
                    raise self._fatal(exc, secrets) from None
                if attempt >= retries:
                    raise self._exhausted(exc, retries, secrets) from None
                delay = backoff_delay(attempt, exc)
                log.warning("%s: %s: %s; retry %d/%d in %.1fs", self.name, where,
                            _one_line(exc, secrets, 160), attempt + 1, retries, delay)
                await asyncio.sleep(delay)
                continue
            seconds = time.monotonic() - started
            return raw, self._usage(response, seconds)
        raise AssertionError("unreachable")

    def _fatal(self, exc: BaseException, secrets: tuple[str, ...]) -> AgentError:
        names = {cls.__name__ for cls in type(exc).__mro__}
        detail = _one_line(exc, secrets)
        if "AuthenticationError" in names or "PermissionDeniedError" in names:
            return AgentError(f"--model {self.model}: the API refused the key: {detail}",
                              hint="check the key, or name its variable with --api-key-env")
        if "NotFoundError" in names:
            return AgentError(f"--model {self.model}: not found"
                              + (f" at --api-base {self.api_base}" if self.api_base else "")
                              + f": {detail}")
        return AgentError(f"--model {self.model}: the model call failed: {detail}")

    def _exhausted(self, exc: BaseException, retries: int,
                   secrets: tuple[str, ...]) -> AgentError:
        detail = _one_line(exc, secrets)
        names = {cls.__name__ for cls in type(exc).__mro__}
        tries = f"{retries + 1} attempt{'s' if retries else ''}"
        if self.api_base and names & {"APIConnectionError", "ConnectError", "ConnectionError"}:
            return AgentError(f"--api-base {self.api_base}: unreachable after {tries}: {detail}",
                              hint="run the same command again to resume")
        return AgentError(f"--model {self.model}: still failing after {tries} "
                          f"(--retries {retries}): {detail}",
                          hint="run the same command again to resume")

    def _usage(self, response: Any, seconds: float) -> Usage:
        usage = getattr(response, "usage", None)
        tokens_in = _count(getattr(usage, "prompt_tokens", 0))
        tokens_out = _count(getattr(usage, "completion_tokens", 0))
        return Usage(model_calls=1, tokens_in=tokens_in, tokens_out=tokens_out,
                     model_seconds=round(seconds, 3),
                     cost_usd=self._cost(response, tokens_in, tokens_out))

    def _cost(self, response: Any, tokens_in: int, tokens_out: int) -> float | None:
        """USD: `--price` when given, else litellm's price map, else unknown (None)."""
        price = self.options.price
        if price is not None:
            return round((tokens_in * price[0] + tokens_out * price[1]) / 1e6, 8)
        if self.free:
            return 0.0
        if self.api_base and self.provider in ("openai", "hosted_vllm"):
            return None  # a self-hosted server's model name says nothing about its price
        try:
            cost = import_litellm().completion_cost(completion_response=response)
        except Exception:  # "This model isn't mapped yet", etc.
            return None
        return round(float(cost), 8) if cost is not None else None


def make_litellm_agent(name: str, options: AgentOptions) -> Any:
    """The fallback factory: `local:<name>` is the embedded model, anything else goes to litellm."""
    if name.startswith("local:"):
        from .local import LocalAgent
        return LocalAgent(name, options, local_model=name.split(":", 1)[1])
    return LiteLLMAgent(name, options)


register_fallback(make_litellm_agent)
