"""``req.user_agent.*``: the request's User-Agent header parsed, as ngrok's variables give it
(https://ngrok.com/docs/traffic-policy/variables/req/), so that ngrok's own examples
(``req.user_agent.is_bot``, ``req.user_agent.name == 'Edge'``) work on requests that carry
only the header.

The parsing is ua-parser's (uap-python, with the uap-core catalog of browsers, systems,
devices and crawlers), on RE2: RE2 finds which of the catalog's regexes match, in linear
time, and only the first that does extracts the fields. The header is cut to
:data:`MAX_LENGTH` characters first, and each distinct header is parsed once (a gateway sees
the same few again and again).

What ngrok leaves unsaid is decided here, and written in docs/cel.md:

- a family the catalog does not know is ``"Other"`` (uap-core's word); a version is its
  known parts joined by dots, ``""`` when there are none;
- ``url`` is the first ``http(s)://`` address in the header (crawlers name their page so),
  ``""`` when there is none;
- ``is_bot``: the catalog's device is ``Spider`` (its mark for crawlers and bots);
  ``is_tablet``: an iPad, a Kindle, or a device the catalog files as an Android tablet;
  ``is_mobile``: otherwise a phone's system or device; ``is_desktop``: otherwise a desktop
  system. Each is false when the header says nothing of it, and at most one is true;
- a request without the header gets the entries of an empty one (so ``is_bot`` is false,
  not an error);
- names are ngrok's where its docs show them: ``macOS`` (``req.user_agent.os == 'macOS'``),
  ``ChromeOS``, and a browser's mobile build under the browser's name (``Chrome``,
  ``Safari``, ``Firefox``, ``Edge``: ``is_mobile`` says which), so ``name == 'Safari'``
  holds on an iPhone too;
- a crawler that names its page (``compatible; ChatGPT-User/1.0; +https://openai.com/bot``)
  is named by its product token (ngrok's ``name in ['ChatGPT-User', 'GPTBot']``), where the
  catalog reads a piece of the page's address (``com/bot``), and ``is_bot`` holds for it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import takewhile
from typing import Any

__all__ = ["FIELDS", "MAX_LENGTH", "user_agent_entries", "warm"]

FIELDS = ("name", "version", "os", "os_version", "device", "url", "is_bot", "is_mobile", "is_tablet", "is_desktop")
"""The ``req.user_agent.<field>`` entries, in order."""

MAX_LENGTH = 512
"""Characters of the header that are parsed: real ones are shorter."""

_KEYS = tuple("req.user_agent." + f for f in FIELDS)
_URL = re.compile(r"https?://[^\s;,()]+")
_MOBILE_OS = frozenset({"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Symbian OS", "Firefox OS",
                        "Tizen", "Sailfish", "webOS", "HarmonyOS"})
_DESKTOP_OS = frozenset({"Windows", "Mac OS X", "Linux", "Ubuntu", "Debian", "Fedora", "Red Hat", "SUSE",
                         "openSUSE", "Mint", "Arch Linux", "Gentoo", "Mandriva", "Slackware", "Chrome OS",
                         "FreeBSD", "OpenBSD", "NetBSD", "Solaris", "CentOS"})
_PHONES = frozenset({"iPhone", "iPod", "Generic Smartphone", "Generic Feature Phone"})
_NAMES = {"Chrome Mobile": "Chrome", "Chrome Mobile iOS": "Chrome", "Chrome Mobile WebView": "Chrome",
          "Mobile Safari": "Safari", "Mobile Safari UI/WKWebView": "Safari", "Firefox Mobile": "Firefox",
          "Firefox iOS": "Firefox", "Edge Mobile": "Edge", "Opera Mobile": "Opera"}
"""The catalog's names of a browser's mobile build -> the browser's (ngrok's)."""
_OSES = {"Mac OS X": "macOS", "Chrome OS": "ChromeOS"}
"""The catalog's names of a system -> ngrok's, where its docs show them."""
_CRAWLER = re.compile(r"([A-Za-z][\w.\-]*)/(\d[\w.]*);?\s*\+https?://")
"""A crawler's product token right before the page it names (``ChatGPT-User/1.0; +https://...``)."""


def user_agent_entries(header: str | None) -> tuple[tuple[str, Any], ...]:
    """The ``req.user_agent.*`` entries of a header (None: no header), as flat activation
    items."""
    return _entries((header or "")[:MAX_LENGTH])


def warm() -> None:
    """Load the catalog now (~0.5 s, once per process), not at the first request."""
    _parser()


@lru_cache(maxsize=4096)
def _entries(header: str) -> tuple[tuple[str, Any], ...]:
    parsed = _parser()(header).with_defaults()
    ua, os_, device = parsed.user_agent, parsed.os, parsed.device
    bot = device.family == "Spider"
    tablet = not bot and (device.family in ("iPad", "Kindle", "Kindle Fire") or device.brand == "Generic_Android_Tablet"
                          or "Tablet" in device.family)
    mobile = not bot and not tablet and (os_.family in _MOBILE_OS or device.family in _PHONES
                                         or device.brand == "Generic_Android")
    desktop = not (bot or tablet or mobile) and os_.family in _DESKTOP_OS
    url = _URL.search(header)
    name, version = _NAMES.get(ua.family, ua.family), _version(ua.major, ua.minor, ua.patch, ua.patch_minor)
    crawler = _CRAWLER.search(header) if "+http" in header else None
    if crawler is not None:  # the robots convention: `Name/1.0; +https://its.page`
        bot, mobile, tablet, desktop = True, False, False, False
        if url is not None and name in url.group(0):  # the catalog read a piece of the address
            name, version = crawler.group(1), crawler.group(2)
    values = (name, version, _OSES.get(os_.family, os_.family),
              _version(os_.major, os_.minor, os_.patch, os_.patch_minor), device.family,
              url.group(0) if url else "", bot, mobile, tablet, desktop)
    return tuple(zip(_KEYS, values))


def _version(*parts: str | None) -> str:
    """The known parts, up to the first unknown one, joined by dots."""
    return ".".join(takewhile(bool, parts))  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def _parser() -> Any:
    """ua-parser's parse function over the builtin catalog, on RE2."""
    from ua_parser import Parser, Re2Resolver, load_builtins

    return Parser(Re2Resolver(load_builtins())).parse
