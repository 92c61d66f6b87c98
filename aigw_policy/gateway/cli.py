"""The ``aigw-policy serve`` command (registered by aigw_policy/cli.py)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer


def serve(
    policy: Annotated[Path, typer.Option("--policy", "-p", help="The policy file (watched and hot-reloaded).")],
    upstream: Annotated[str, typer.Option("--upstream", help="The provider's base URL, e.g. https://api.openai.com")],
    keys: Annotated[Path | None, typer.Option("--keys", help="Keys file: gateway keys -> identities (SPEC §11).")] = None,
    store: Annotated[str, typer.Option("--store", help="Limit store: memory:, sqlite:PATH or redis://...")] = "memory:",
    ledger: Annotated[str | None, typer.Option("--ledger", help="Usage ledger: sqlite:PATH, jsonl:PATH or postgresql://...")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    provider: Annotated[str | None, typer.Option("--provider", help="Force the provider label (vllm, ollama, ...).")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the upstream (per read).")] = 60.0,
    watch: Annotated[float, typer.Option("--watch", help="Seconds between policy file checks (0: only on SIGHUP).")] = 1.0,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning, error.")] = "info",
    decision_log: Annotated[bool, typer.Option("--decision-log/--no-decision-log", help="One JSON line per request on stderr.")] = True,
    max_body: Annotated[int, typer.Option("--max-body", min=1, help="Largest request body in bytes (413 past it).")] = 32 * 1024 * 1024,
    header_timeout: Annotated[float, typer.Option("--header-timeout", min=0.001, help="Seconds a client has to send a request's headers.")] = 10.0,
    metrics_token: Annotated[str | None, typer.Option("--metrics-token", envvar="AIGW_METRICS_TOKEN", help="Protect /metrics: it then wants `Authorization: Bearer TOKEN`.")] = None,
) -> None:
    """Run the gateway: a reverse proxy for OpenAI-, Anthropic- and Gemini-style APIs that
    enforces the policy, streams answers through and writes the usage ledger."""
    from ..providers import PROVIDERS
    from .keys import KeysError, load_keys
    from .reload import ReloadError

    def fail(message: str) -> typer.Exit:
        typer.echo(f"aigw-policy: {message}", err=True)
        return typer.Exit(2)

    if provider is not None and provider not in PROVIDERS:
        raise fail(f"unknown provider `{provider}` (one of: {', '.join(sorted(PROVIDERS))})")
    if not upstream.startswith(("http://", "https://")):
        raise fail(f"--upstream must be an http:// or https:// URL, not `{upstream}`")
    ring = None
    if keys is not None:
        try:
            ring = load_keys(keys)
        except KeysError as error:
            raise fail(f"bad keys file: {error}") from None
    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        raise fail(f"unknown log level `{log_level}`")

    from .app import Gateway

    try:
        app = Gateway(policy=policy, upstream=upstream, keys=ring, store=store, ledger=ledger, provider=provider,
                      timeout=timeout, watch=watch, max_body=max_body, metrics_token=metrics_token)
    except ReloadError as error:
        if error.diagnostics:
            from ..render import render_text
            from ..source import Source

            try:
                text = policy.read_text(encoding="utf-8-sig")
                typer.echo(render_text(error.diagnostics, {str(policy): Source(text, str(policy))}), err=True)
            except OSError:
                pass
        raise fail(str(error)) from None
    except ValueError as error:  # a bad --store or --ledger URL
        raise fail(str(error)) from None
    except Exception as error:  # noqa: BLE001 - a store or ledger that cannot open
        raise fail(f"cannot start: {type(error).__name__}: {error}") from None
    try:
        import httpx  # noqa: F401 - the upstream client
        import uvicorn
    except ImportError:
        raise fail("`serve` needs uvicorn and httpx: pip install uvicorn httpx") from None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("aigw_policy.gateway")
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    decisions = logging.getLogger("aigw_policy.gateway.decisions")
    decisions.setLevel(logging.INFO if decision_log else logging.CRITICAL)
    who = f"{len(ring)} keys" if ring is not None else "no keys file: no authentication"
    typer.echo(f"aigw-policy serve: {policy} -> {upstream} on http://{host}:{port} ({who}, store {store}, "
               f"ledger {ledger or 'none'})", err=True)
    from .server import header_timeout_protocol

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on",
                timeout_graceful_shutdown=10, http=header_timeout_protocol(header_timeout))
