"""`serve --geoip`: ngrok's geo and AS variables of the client's address, from MaxMind DB files
(SPEC §5's `conn.geo.*`, `conn.client_ip.geo.*`, `conn.client_ip.as.*`). The databases are
written here with mmdb-writer, in MaxMind's City and ASN record shapes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("maxminddb", reason="maxminddb is not installed (pip install 'aigw-policy[geoip]')")
mmdb_writer = pytest.importorskip("mmdb_writer", reason="mmdb-writer is not installed (a test dependency)")
from netaddr import IPSet  # noqa: E402  (mmdb-writer's own dependency)

from aigw_policy.gateway.geoip import GeoIP, GeoIPError  # noqa: E402
from aigw_policy.gateway.supplied import unsupplied_readers  # noqa: E402

from .conftest import ServerThread  # noqa: E402

PARIS = {"city": {"names": {"en": "Paris", "fr": "Paris"}}, "continent": {"code": "EU", "names": {"en": "Europe"}},
         "country": {"iso_code": "FR", "names": {"en": "France"}, "is_in_european_union": True},
         "registered_country": {"iso_code": "FR", "names": {"en": "France"}, "is_in_european_union": True},
         "location": {"accuracy_radius": 20, "latitude": 48.8566, "longitude": 2.3522, "time_zone": "Europe/Paris"},
         "postal": {"code": "75001"}, "subdivisions": [{"iso_code": "IDF", "names": {"en": "Île-de-France"}}]}
PYONGYANG = {"country": {"iso_code": "KP", "names": {"en": "North Korea"}},
             "location": {"accuracy_radius": 500, "latitude": 39.0, "longitude": 125.75}}


def write_db(path: Path, kind: str, networks: dict[str, Any], version: int = 6) -> Path:
    writer = mmdb_writer.MMDBWriter(ip_version=version, database_type=kind, ipv4_compatible=version == 6)
    for cidr, record in networks.items():
        writer.insert_network(IPSet([cidr]), record)
    writer.to_db_file(str(path))
    return path


@pytest.fixture(scope="module")
def dbs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("geoip")
    city = write_db(d / "city.mmdb", "GeoLite2-City", {"198.51.100.0/24": PARIS, "203.0.113.0/24": PYONGYANG,
                                                       "2001:db8::/32": PARIS})
    asn = write_db(d / "asn.mmdb", "GeoLite2-ASN", {"198.51.100.0/24": {
        "autonomous_system_number": 64500, "autonomous_system_organization": "Example Transit"}})
    return city, asn


def test_a_known_address_gets_ngroks_names(dbs: tuple[Path, Path]) -> None:
    got = GeoIP(dbs)("198.51.100.7")
    assert {k: got[k] for k in ("geo.city", "geo.country", "geo.country_code", "geo.latitude", "geo.longitude",
                                "geo.radius", "geo.subdivision")} == {
        "geo.city": "Paris", "geo.country": "France", "geo.country_code": "FR", "geo.latitude": "48.8566",
        "geo.longitude": "2.3522", "geo.radius": "20", "geo.subdivision": "Île-de-France"}
    assert got["client_ip.geo.location.continent"] == "Europe"
    assert got["client_ip.geo.location.timezone"] == "Europe/Paris"
    assert got["client_ip.geo.location.postal_code"] == "75001"
    assert got["client_ip.geo.location.is_eu"] is True
    assert got["client_ip.geo.registered_location.country_code"] == "FR"
    assert (got["client_ip.as.number"], got["client_ip.as.organization"]) == (64500, "Example Transit")
    assert GeoIP(dbs)("2001:db8::1")["geo.country_code"] == "FR"


def test_every_declared_variable_is_supplied_and_typed(dbs: tuple[Path, Path]) -> None:
    """The entries are exactly the declared conn.geo / client_ip.geo / client_ip.as variables,
    each of its declared type, for a known address and an unknown one alike."""
    from aigw_policy.env.declarations import POLICY_VARIABLES

    declared = {k[len("conn."):]: t for k, t in POLICY_VARIABLES.items()
                if k.startswith(("conn.geo.", "conn.client_ip.geo.", "conn.client_ip.as."))}
    py = {"string": str, "bool": bool, "int": int}
    for ip in ("198.51.100.7", "127.0.0.1", "::1", "10.1.2.3"):
        got = GeoIP(dbs)(ip)
        assert set(got) == set(declared), ip
        assert all(type(got[k]) is py[t] for k, t in declared.items()), ip


def test_an_unknown_address_is_empty_not_missing(dbs: tuple[Path, Path]) -> None:
    got = GeoIP(dbs)("127.0.0.1")
    assert got["geo.country_code"] == "" and got["client_ip.geo.location.is_eu"] is False
    assert got["client_ip.as.number"] == 0
    assert GeoIP(dbs)("not an address") == {}


def test_an_ipv4_only_database_answers_ipv6_as_unknown(tmp_path: Path) -> None:
    db = write_db(tmp_path / "v4.mmdb", "GeoLite2-Country", {"198.51.100.0/24": PARIS}, version=4)
    assert GeoIP([db])("2001:db8::1")["geo.country_code"] == ""
    assert GeoIP([db])("198.51.100.1")["geo.country_code"] == "FR"


@pytest.mark.parametrize("content, message", [
    (b"not a database", "not a readable MaxMind DB file"),
    (None, "holds no place or autonomous system"),
])
def test_a_bad_file_is_refused_in_words(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "x.mmdb"
    if content is None:
        write_db(path, "GeoIP2-Anonymous-IP", {"198.51.100.0/24": {"is_anonymous": True}})
    else:
        path.write_bytes(content)
    with pytest.raises(GeoIPError, match=message):
        GeoIP([path])


def test_serve_refuses_a_bad_geoip_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from aigw_policy.cli import app

    (tmp_path / "p.aigw").write_text("policy { on request { } }\n")
    (tmp_path / "bad.mmdb").write_text("nope")
    result = CliRunner().invoke(app, ["serve", "--policy", str(tmp_path / "p.aigw"), "--upstream", "http://x",
                                      "--geoip", str(tmp_path / "bad.mmdb")])
    assert result.exit_code == 2
    assert "bad --geoip" in result.output and "Traceback" not in result.output


GEO_POLICY = """\
on_http_request:
  - name: embargo
    expressions: ["conn.geo.country_code in ['KP', 'IR']"]
    actions:
      - type: custom-response
        config: {status_code: 451, body: "not from ${conn.geo.country}"}
  - name: tag
    actions:
      - type: add-headers
        config: {headers: {x-country: "${conn.geo.country_code}", x-as: "${string(conn.client_ip.as.number)}"}}
"""


def _gateway(tmp: Path, upstream: str, geoip: Any, logger: logging.Logger | None = None) -> Any:
    from aigw_policy.gateway import Gateway

    (tmp / "policy.yaml").write_text(GEO_POLICY)
    return Gateway(policy=tmp / "policy.yaml", upstream=upstream, store="memory:", watch=0, geoip=geoip,
                   logger=logger)


@pytest.mark.parametrize("client, status, country", [
    (("203.0.113.9", 5000), 451, "KP"), (("198.51.100.7", 5000), 200, "FR"), (("127.0.0.1", 5000), 200, "")])
def test_serve_decides_on_the_clients_country(dbs: tuple[Path, Path], tmp_path: Path, client: tuple[str, int],
                                             status: int, country: str) -> None:
    """The gateway looks the socket's client address up: the embargo rule answers for KP, the
    headers the upstream gets say the country (empty for loopback)."""
    seen: list[dict[str, str]] = []

    async def upstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        seen.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"choices": []}'})

    with ServerThread(upstream) as up:
        app = _gateway(tmp_path, up.url, GeoIP(dbs))

        async def as_client(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await app({**scope, "client": client} if scope["type"] == "http" else scope, receive, send)

        with ServerThread(as_client) as gw:
            r = httpx.post(gw.url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": []}, timeout=20)
    assert r.status_code == status, r.text
    if status == 451:
        assert r.text == "not from North Korea" and not seen
    else:
        assert seen[0]["x-country"] == country
        assert seen[0]["x-as"] == ("64500" if country == "FR" else "0")


def test_without_geoip_the_rules_that_read_geo_are_named_at_start(tmp_path: Path, caplog: Any) -> None:
    logger = logging.getLogger("test.geoip")
    with caplog.at_level(logging.WARNING, logger="test.geoip"):
        app = _gateway(tmp_path, "http://127.0.0.1:9", None, logger)
    assert [label for label, _ in unsupplied_readers(app.holder.current.compiled, False)] == ["embargo", "tag"]
    assert "`embargo` reads `conn.geo.country`, `conn.geo.country_code`; `tag` reads" in caplog.text
    assert "--geoip" in caplog.text


def test_with_geoip_or_without_geo_rules_nothing_is_said(dbs: tuple[Path, Path], tmp_path: Path, caplog: Any) -> None:
    logger = logging.getLogger("test.geoip")
    with caplog.at_level(logging.WARNING, logger="test.geoip"):
        _gateway(tmp_path, "http://127.0.0.1:9", GeoIP(dbs), logger)
    assert "--geoip" not in caplog.text
    import aigw_policy as ap

    plain = ap.Engine(ap.loads('on_http_request:\n  - expressions: ["conn.client_ip == \'1.2.3.4\'"]\n'
                               '    actions: [{type: deny}]\n', format="yaml"))
    assert unsupplied_readers(plain.compiled, False) == []  # conn.client_ip itself is the socket's
