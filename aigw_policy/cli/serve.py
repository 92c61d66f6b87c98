"""``aigw-policy serve``: run the gateway.

Every option can also come from an environment variable (``--store`` from ``AIGW_STORE``,
...): URLs with passwords then stay out of ``ps``. Before it listens, ``serve`` checks that
the limit store answers and the ledger opens (exit 2 naming the one that does not); URL
passwords are never printed.
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ..files import read_input
from ..redact import redact, scrub
from .common import fail_usage, failed_with
from .failures import BAD_PRICES, NOT_INSTALLED, UNAVAILABLE, UNREADABLE, USAGE, CommandFailure


def serve(
    policy: Annotated[Path, typer.Option("--policy", "-p", envvar="AIGW_POLICY",
                                         help="The policy file (watched and hot-reloaded).")],
    upstream: Annotated[str | None, typer.Option(
        "--upstream", envvar="AIGW_UPSTREAM",
        help="The provider's base URL, e.g. https://api.openai.com (not needed when the policy routes "
             "with an ai-gateway action).")] = None,
    keys: Annotated[Path | None, typer.Option("--keys", envvar="AIGW_KEYS",
                                              help="Keys file: gateway keys -> identities (SPEC §11).")] = None,
    secrets: Annotated[Path | None, typer.Option(
        "--secrets", envvar="AIGW_SECRETS",
        help="Secrets of ai-gateway keys, YAML {vault: {name: value}}; else env AIGW_SECRET_<VAULT>_<NAME>.")] = None,
    store: Annotated[str, typer.Option("--store", envvar="AIGW_STORE",
                                       help="Limit store: memory:, sqlite:PATH, redis://... or redis+cluster://...")] = "memory:",
    ledger: Annotated[str | None, typer.Option("--ledger", envvar="AIGW_LEDGER",
                                               help="Usage ledger: sqlite:PATH, jsonl:PATH, postgresql://... or nats://HOST:PORT/SUBJECT")] = None,
    prices: Annotated[Path | None, typer.Option("--prices", envvar="AIGW_PRICES",
                                                help="Price overrides (JSON or YAML), over the bundled prices.")] = None,
    host: Annotated[str, typer.Option("--host", envvar="AIGW_HOST", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", envvar="AIGW_PORT", help="Port to listen on.")] = 8080,
    provider: Annotated[str | None, typer.Option("--provider", envvar="AIGW_PROVIDER",
                                                 help="The upstream's provider (vllm, ollama, anthropic, ...).")] = None,
    timeout: Annotated[float, typer.Option("--timeout", envvar="AIGW_TIMEOUT",
                                           help="Seconds to wait for the upstream (per read).")] = 60.0,
    watch: Annotated[float, typer.Option("--watch", envvar="AIGW_WATCH",
                                         help="Seconds between policy file checks (0: only on SIGHUP).")] = 1.0,
    log_level: Annotated[str, typer.Option("--log-level", envvar="AIGW_LOG_LEVEL",
                                           help="debug, info, warning, error.")] = "info",
    decision_log: Annotated[bool, typer.Option("--decision-log/--no-decision-log", envvar="AIGW_DECISION_LOG",
                                               help="One JSON line per request on stderr.")] = True,
    max_body: Annotated[int, typer.Option("--max-body", min=1, envvar="AIGW_MAX_BODY",
                                          help="Largest request body in bytes (413 past it).")] = 32 * 1024 * 1024,
    header_timeout: Annotated[float, typer.Option("--header-timeout", min=0.001, envvar="AIGW_HEADER_TIMEOUT",
                                                  help="Seconds a client has to send a request's headers.")] = 10.0,
    keep_alive: Annotated[float, typer.Option(
        "--keep-alive", min=0.001, envvar="AIGW_KEEP_ALIVE",
        help="Seconds an idle client connection is kept open between two requests (longer than the idle "
             "timeout of a load balancer in front).")] = 75.0,
    max_connections: Annotated[int, typer.Option(
        "--max-connections", min=1, envvar="AIGW_MAX_CONNECTIONS",
        help="Open client connections at most: past it the longest idle one is closed for a new one, "
             "or, all busy, the new one gets a 503.")] = 10_000,
    metrics_token: Annotated[str | None, typer.Option("--metrics-token", envvar="AIGW_METRICS_TOKEN",
                                                      help="Protect /metrics: it then wants `Authorization: Bearer TOKEN`.")] = None,
    geoip: Annotated[list[Path] | None, typer.Option(
        "--geoip", envvar="AIGW_GEOIP", metavar="FILE",
        help="A MaxMind DB file (GeoLite2/GeoIP2 City or Country; ASN), repeatable: supplies conn.geo.*, "
             "conn.client_ip.geo.* and conn.client_ip.as.* for the client's address.")] = None,
    forwarded_allow_ips: Annotated[str | None, typer.Option(
        "--forwarded-allow-ips", envvar="AIGW_FORWARDED_ALLOW_IPS", metavar="IPS",
        help="Proxies (comma-separated addresses or networks, or *) whose X-Forwarded-For and "
             "X-Forwarded-Proto are believed: the client address then comes from them. Default: none.")] = None,
) -> None:
    """Run the gateway: a reverse proxy for OpenAI-, Anthropic- and Gemini-style APIs that
    enforces the policy, streams answers through and writes the usage ledger. A policy with
    an ai-gateway action routes requests to its providers itself (with failover): then
    --upstream is only for the requests it does not route."""
    from ..gateway.keys import KeysError, load_keys
    from ..gateway.reload import ReloadError
    from ..providers import PROVIDERS

    urls = [u for u in (store, ledger, upstream) if u]

    def fail(message: str, code: str = USAGE, where: object = None) -> CommandFailure:
        return fail_usage(scrub(message, urls), code, where)

    if provider is not None and provider not in PROVIDERS:
        raise fail(f"unknown provider `{provider}` (one of: {', '.join(sorted(PROVIDERS))})")
    if upstream is not None and not upstream.startswith(("http://", "https://")):
        raise fail(f"--upstream must be an http:// or https:// URL, not `{redact(upstream)}`")
    from ..routing.secrets import SecretError, load_secrets

    try:
        vault = load_secrets(secrets)
    except SecretError as error:
        raise fail(f"bad --secrets:\n{error}", "AIGW606", secrets) from None
    ring = None
    if keys is not None:
        try:
            ring = load_keys(keys)
        except KeysError as error:
            n = len(error.diagnostics)
            first = error.diagnostics[0].code if error.diagnostics else "AIGW600"
            raise fail(f"bad keys file ({n} problem{'s' if n != 1 else ''}):\n{error}", first, keys) from None
    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        raise fail(f"unknown log level `{log_level}`")
    book = None
    if prices is not None:
        from ..providers import ProviderError
        from ..providers.price_file import load_price_file

        try:
            book = load_price_file(prices)
        except ProviderError as error:
            raise fail(f"bad --prices: {error.message}", BAD_PRICES, prices) from None
    geo = None
    if geoip:
        from ..gateway.geoip import GeoIP, GeoIPError

        try:
            geo = GeoIP(geoip)
        except GeoIPError as error:
            raise fail(f"bad --geoip: {error}", UNREADABLE, ", ".join(map(str, geoip))) from None
    store_obj = _open_store(store, fail)
    ledger_obj = _open_ledger(ledger, fail) if ledger else None

    from ..gateway.app import Gateway
    from ..gateway.routing import ai_gateway_configs

    try:
        app = Gateway(policy=policy, upstream=upstream, keys=ring, store=store_obj, ledger=ledger_obj,
                      prices=book, provider=provider, timeout=timeout, watch=watch, max_body=max_body,
                      metrics_token=metrics_token, secrets=vault, cache_dir=_compiled_dir(), geoip=geo)
    except SecretError as error:  # a key's secret is set nowhere: named, never a value
        if ledger_obj is not None:
            ledger_obj.close()
        raise fail(f"cannot start: {len(error.diagnostics)} ai-gateway key secret(s) missing:\n{error}", "AIGW607",
                   policy) from None
    except ReloadError as error:
        if ledger_obj is not None:
            ledger_obj.close()
        if error.diagnostics:
            try:
                text = read_input(policy).decode("utf-8-sig")
            except (OSError, UnicodeDecodeError):
                text = None
            raise failed_with(error.diagnostics, scrub(str(error), urls), policy, text) from None
        raise fail(str(error), UNREADABLE, policy) from None
    except Exception as error:  # noqa: BLE001 - never a traceback at start-up
        raise fail(f"cannot start: {type(error).__name__}: {_why(error)}", UNAVAILABLE) from None
    routes = len(ai_gateway_configs(app.holder.current.policy))
    if upstream is None and not routes:
        if ledger_obj is not None:
            ledger_obj.close()
        raise fail("--upstream is needed: the policy has no ai-gateway action to route requests with")
    try:
        import httptools  # noqa: F401 - the upstream client's parser
        import uvicorn
    except ImportError:
        raise fail("`serve` needs uvicorn and httptools: pip install uvicorn httptools", NOT_INSTALLED) from None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("aigw_policy.gateway")
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    decisions = logging.getLogger("aigw_policy.gateway.decisions")
    decisions.setLevel(logging.INFO if decision_log else logging.CRITICAL)
    who = f"{len(ring)} keys" if ring is not None else "no keys file: no authentication"
    where = redact(upstream) if upstream is not None else f"{routes} ai-gateway route{'s' if routes != 1 else ''}"
    typer.echo(f"aigw-policy serve: {policy} -> {where} on http://{host}:{port} ({who}, "
               f"store {redact(store)}, ledger {redact(ledger) if ledger else 'none'})", err=True)
    from ..gateway.conn_cap import fitting_cap
    from ..gateway.server import header_timeout_protocol

    cap, lowered = fitting_cap(max_connections)
    if lowered is not None:
        typer.echo(f"aigw-policy serve: {lowered}", err=True)

    # the price catalog now, not at the first priced request (genai-prices' imports and
    # catalog, ~150 ms and ~50,000 objects: the first request cost that much more, and what
    # it built was left out of the freeze below)
    app.holder.current.prices.warm()
    # what start-up built (the compiled policy, the grammar, the price catalog: ~80,000
    # objects) is left out of every garbage collection from now on: a collection of the
    # requests' young objects no longer walks them (~130 -> ~40 us of collecting per request)
    gc.collect()
    gc.freeze()
    # no formatter of this process prints a record's caller, thread or process: the logging
    # HOWTO's "Optimization" switches skip finding them for every record (the decision log's
    # line a request: ~60 -> ~47 us, docs/gateway.md "Sixth pass")
    switches = (logging._srcfile, logging.logThreads,
                logging.logProcesses, logging.logMultiprocessing)
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    try:
        # no `server: uvicorn` on every answer: what runs the gateway is nobody's business
        # (and an upstream's own `server` is not passed on either: proxy.ANSWER_OWN)
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on",
                    timeout_graceful_shutdown=10,
                    http=header_timeout_protocol(header_timeout, app.server_event, max_connections=cap),
                    timeout_keep_alive=keep_alive,
                    # no websocket upgrade, whatever is installed: uvicorn's "auto" takes one when the
                    # `websockets` package is there (google-genai brings it), and an `Upgrade` request
                    # then left HTTP/1.1 where serve20 keeps it (tests/gateway/test_redteam_upgrade.py)
                    ws="none", server_header=False, **forwarded(forwarded_allow_ips))
    finally:  # the stream may not outlive this call (an embedding caller's, a test runner's)
        gc.unfreeze()
        (logging._srcfile, logging.logThreads,
         logging.logProcesses, logging.logMultiprocessing) = switches
        root.removeHandler(handler)
        root.propagate = True


def forwarded(allow: str | None) -> dict[str, Any]:
    """uvicorn's settings for who may say the client's address: nobody by default (uvicorn
    alone believes ``X-Forwarded-For`` from 127.0.0.1, so a local client could pass for any
    address and slip past per-IP limits and ``restrict-ips``), else the proxies named."""
    if allow is None or not allow.strip():
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": allow}


def _open_store(url: str, fail: Any) -> Any:
    """The limit store, checked to answer (one ``check`` of nothing: a round trip to Redis)."""
    from ..limits import from_url

    try:
        store = from_url(url)
    except ValueError as error:
        raise fail(f"bad --store: {error}") from None
    except Exception as error:  # noqa: BLE001 - a store that cannot open (a SQLite path, ...)
        raise fail(f"limit store `{redact(url)}` cannot be opened: {_why(error)}", UNAVAILABLE) from None
    try:
        store.check([], time.time())
    except Exception as error:  # noqa: BLE001 - unreachable, refused, timed out, bad password...
        raise fail(f"limit store `{redact(url)}` is unreachable: {_why(error)}", UNAVAILABLE) from None
    return store


def _open_ledger(url: str, fail: Any) -> Any:
    """The ledger, opened (its sink connects or creates its file now)."""
    from ..ledger import Ledger

    try:
        return Ledger(url)
    except Exception as error:  # noqa: BLE001 - LedgerError, OSError, a driver's error
        raise fail(f"usage ledger `{redact(url)}` cannot be opened: {_why(error)}", UNAVAILABLE) from None


def _why(error: BaseException) -> str:
    return str(error) or type(error).__name__


def _compiled_dir() -> str | None:
    from ..policy_cache import compiled_dir

    found = compiled_dir()
    return None if found is None else str(found)
