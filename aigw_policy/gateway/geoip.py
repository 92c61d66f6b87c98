"""ngrok's geo and autonomous-system variables of the client's address, from MaxMind DB files
(``serve --geoip FILE``): GeoLite2 or GeoIP2 City / Country, and ASN.

``GeoIP(paths)(ip)`` is the ``conn`` entries of ``ip`` under ngrok's names, dotted as a
request's ``conn`` takes them (``geo.country_code``, ``client_ip.geo.location.is_eu``,
``client_ip.as.number``, ...). An address a database does not know (a private or loopback
one, say) gets that database's entries empty (``""``, ``false``, ``0``), as for any address
whose place is unknown: a rule compares them as it would any other value. Lookups are cached
per address (the same clients come back).

Without ``--geoip`` these variables are not supplied; ``supplied.unsupplied_readers`` names the rules
that read them, for ``serve`` to warn at start (a rule that reads one fails, and its
``on_error`` decides).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

__all__ = ["GEO_PREFIXES", "GeoIP", "GeoIPError"]

GEO_PREFIXES: tuple[tuple[str, ...], ...] = (
    ("conn", "geo"), ("conn", "client_ip", "geo"), ("conn", "client_ip", "as"))
"""The variables a GeoIP database supplies (the client's; ``conn.server_ip.*`` is not looked up)."""

CACHED = 8192
"""Addresses whose entries are kept (least recently used first out)."""


class GeoIPError(ValueError):
    """A ``--geoip`` file that cannot be used: unreadable, not a MaxMind DB, or of a kind that
    holds neither places nor autonomous systems."""


class GeoIP:
    """Looks up a client address in one or more MaxMind DB files: a City or Country
    database supplies ``conn.geo.*`` and ``conn.client_ip.geo.*``, an ASN database
    ``conn.client_ip.as.*``. The files are read through ``maxminddb`` (memory-mapped)."""

    def __init__(self, paths: Iterable[str | os.PathLike[str]]) -> None:
        try:
            import maxminddb
        except ImportError:
            raise GeoIPError("--geoip needs the maxminddb package: pip install 'aigw-policy[geoip]'") from None
        self._places: Any = None
        self._systems: Any = None
        self.kinds: list[str] = []
        for path in paths:
            try:
                reader = maxminddb.open_database(os.fspath(path))
            except (OSError, ValueError, maxminddb.InvalidDatabaseError) as error:
                raise GeoIPError(f"{os.fspath(path)}: not a readable MaxMind DB file ({error})") from None
            kind = str(reader.metadata().database_type)
            if "ASN" in kind:
                self._systems = reader
            elif "City" in kind or "Country" in kind:
                self._places = reader
            else:
                reader.close()
                raise GeoIPError(f"{os.fspath(path)}: a `{kind}` database holds no place or autonomous system "
                                 "(give a GeoLite2/GeoIP2 City, Country or ASN file)")
            self.kinds.append(kind)
        if not self.kinds:
            raise GeoIPError("--geoip names no file")
        self.lookup = lru_cache(maxsize=CACHED)(self._lookup)

    def __call__(self, ip: str) -> Mapping[str, Any]:
        """The ``conn`` entries of ``ip`` (empty when ``ip`` is not an address)."""
        return self.lookup(ip)

    def _lookup(self, ip: str) -> Mapping[str, Any]:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return {}
        out: dict[str, Any] = {}
        if self._places is not None:
            out.update(_places(_record(self._places, address)))
        if self._systems is not None:
            found = _record(self._systems, address)
            number = found.get("autonomous_system_number")
            organization = found.get("autonomous_system_organization")
            out["client_ip.as.number"] = number if type(number) is int else 0
            out["client_ip.as.organization"] = organization if isinstance(organization, str) else ""
        return out

    def close(self) -> None:
        for reader in (self._places, self._systems):
            if reader is not None:
                reader.close()


def _record(reader: Any, address: Any) -> Mapping[str, Any]:
    try:
        found = reader.get(address)
    except ValueError:  # an IPv6 address in an IPv4-only database
        return {}
    return found if isinstance(found, Mapping) else {}


def _name(part: Any) -> str:
    names = part.get("names") if isinstance(part, Mapping) else None
    name = names.get("en") if isinstance(names, Mapping) else None
    return name if isinstance(name, str) else ""


def _text(value: Any) -> str:
    return "" if value is None or isinstance(value, bool) else str(value)


def _places(rec: Mapping[str, Any]) -> dict[str, Any]:
    """ngrok's place entries of a City/Country record (every one present, empty when unknown)."""
    def part(key: str) -> Mapping[str, Any]:
        value = rec.get(key)
        return value if isinstance(value, Mapping) else {}

    country, registered, location = part("country"), part("registered_country"), part("location")
    subdivisions = rec.get("subdivisions")
    first = subdivisions[0] if isinstance(subdivisions, list) and subdivisions else {}
    here = {
        "city": _name(part("city")),
        "continent": _name(part("continent")),
        "country": _name(country),
        "country_code": _text(country.get("iso_code")),
        "metro_code": _text(location.get("metro_code")),
        "subdivision": _name(first),
        "timezone": _text(location.get("time_zone")),
    }
    out: dict[str, Any] = {f"client_ip.geo.location.{k}": v for k, v in here.items()}
    out["client_ip.geo.location.is_eu"] = country.get("is_in_european_union") is True
    exact = {"latitude": _text(location.get("latitude")), "longitude": _text(location.get("longitude")),
             "postal_code": _text(part("postal").get("code")), "radius": _text(location.get("accuracy_radius"))}
    out.update((f"client_ip.geo.location.{k}", v) for k, v in exact.items())
    out.update({
        "client_ip.geo.registered_location.country": _name(registered),
        "client_ip.geo.registered_location.country_code": _text(registered.get("iso_code")),
        "client_ip.geo.registered_location.is_eu": registered.get("is_in_european_union") is True,
    })
    for k in ("city", "continent", "metro_code", "subdivision", "timezone"):  # a registration names a country only
        out[f"client_ip.geo.registered_location.{k}"] = ""
    out.update({"geo.city": here["city"], "geo.country": here["country"], "geo.country_code": here["country_code"],
                "geo.latitude": exact["latitude"], "geo.longitude": exact["longitude"], "geo.radius": exact["radius"],
                "geo.subdivision": here["subdivision"]})
    return out
