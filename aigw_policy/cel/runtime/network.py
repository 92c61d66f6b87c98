"""The CEL network extension (``ip``, ``cidr``) and ngrok's CIDR helpers."""

from __future__ import annotations

import ipaddress

from .checks import no_overload
from .values import CelError

__all__ = ["IPAddr", "CIDR", "NETWORK_FUNCTIONS", "parse_ip", "parse_cidr", "unmapped"]


class IPAddr:
    """A ``net.IP`` value."""

    __slots__ = ("addr",)
    cel_type_name = "net.IP"

    def __init__(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
        self.addr = addr

    def __eq__(self, other: object) -> bool:
        return type(other) is IPAddr and other.addr == self.addr  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self.addr)

    def cel_string(self) -> str:
        return str(self.addr)

    def __repr__(self) -> str:
        return f"ip({str(self.addr)!r})"


class CIDR:
    """A ``net.CIDR`` value: an address (host bits kept) and a prefix length."""

    __slots__ = ("addr", "prefix")
    cel_type_name = "net.CIDR"

    def __init__(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address, prefix: int) -> None:
        self.addr = addr
        self.prefix = prefix

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(f"{self.addr}/{self.prefix}", strict=False)

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is CIDR
            and other.addr == self.addr  # type: ignore[attr-defined]
            and other.prefix == self.prefix  # type: ignore[attr-defined]
        )

    def __hash__(self) -> int:
        return hash((self.addr, self.prefix))

    def cel_string(self) -> str:
        return f"{self.addr}/{self.prefix}"

    def __repr__(self) -> str:
        return f"cidr({self.cel_string()!r})"


def _addr(text: str):  # type: ignore[no-untyped-def]
    """An address as the network extension reads one. The dotted IPv4-mapped form
    (``::ffff:1.2.3.4``) is refused; an IPv4-mapped address written in hex
    (``::ffff:102:304``) is the IPv4 address it maps: equal to it, of family 4, inside the
    IPv4 ranges that hold it (so a rule on ``10.0.0.0/8`` cannot be dodged by the mapped
    spelling of a 10.x address)."""
    if "%" in text:
        raise CelError("IP Address with zone value is not allowed", "invalid_argument")
    if ":" in text and "." in text:
        raise CelError("IPv4-mapped IPv6 address is not allowed", "invalid_argument")
    try:
        return unmapped(ipaddress.ip_address(text))
    except ValueError:
        raise CelError(
            f"IP Address '{text}' parse error during conversion from string", "invalid_argument"
        ) from None


def unmapped(a):  # type: ignore[no-untyped-def]
    """``a`` with an IPv4-mapped IPv6 address (``::ffff:a.b.c.d``) replaced by its IPv4 one."""
    if a.version == 6 and a.ipv4_mapped is not None:
        return a.ipv4_mapped
    return a


def parse_ip(text: object) -> IPAddr:
    if type(text) is IPAddr:
        return text  # type: ignore[return-value]
    if type(text) is CIDR:
        return IPAddr(text.addr)  # type: ignore[attr-defined]
    if type(text) is not str:
        raise no_overload("ip", text)
    return IPAddr(_addr(text))


def parse_cidr(text: object) -> CIDR:
    if type(text) is CIDR:
        return text  # type: ignore[return-value]
    if type(text) is not str:
        raise no_overload("cidr", text)
    if "%" in text:
        raise CelError("CIDR with zone value is not allowed", "invalid_argument")
    addr_s, slash, prefix_s = text.partition("/")
    if not slash or not prefix_s.isascii() or not prefix_s.isdigit():
        raise CelError(f"network address parse error during conversion from string: {text}", "invalid_argument")
    try:
        addr = _addr(addr_s)
    except CelError:
        raise CelError(f"network address parse error during conversion from string: {text}", "invalid_argument") from None
    if len(prefix_s) > 3 or (len(prefix_s) > 1 and prefix_s[0] == "0"):
        raise CelError(f"network address parse error during conversion from string: {text}", "invalid_argument")
    prefix = int(prefix_s)
    if addr.version == 4 and ":" in addr_s:  # an IPv4-mapped range (hex form): its IPv4 range
        if prefix < 96:
            addr = ipaddress.IPv6Address(addr_s)
        else:
            prefix -= 96
    if prefix > addr.max_prefixlen:
        raise CelError(f"network address parse error during conversion from string: {text}", "invalid_argument")
    return CIDR(addr, prefix)


def _is(name: str, pred):  # type: ignore[no-untyped-def]
    def impl(x):  # type: ignore[no-untyped-def]
        if type(x) is not IPAddr:
            raise no_overload(name, x)
        return pred(x.addr)

    return impl


def _global_unicast(a) -> bool:  # type: ignore[no-untyped-def]
    if a.is_unspecified or a.is_loopback or a.is_multicast or a.is_link_local:
        return False
    if a.version == 4 and a == ipaddress.IPv4Address("255.255.255.255"):
        return False
    return True


def _ll_multicast(a) -> bool:  # type: ignore[no-untyped-def]
    if a.version == 4:
        return a in ipaddress.IPv4Network("224.0.0.0/24")
    return (int(a) >> 112) & 0xFF0F == 0xFF02  # ffX2::/16: link-local scope, any flags (as Go)


def _is_ip(x):  # type: ignore[no-untyped-def]
    if type(x) is not str:
        raise no_overload("isIP", x)
    try:
        _addr(x)
    except CelError:
        return False
    return True


def _is_cidr(x):  # type: ignore[no-untyped-def]
    if type(x) is not str:
        raise no_overload("isCIDR", x)
    try:
        parse_cidr(x)
    except CelError:
        return False
    return True


def _is_canonical(x):  # type: ignore[no-untyped-def]
    if type(x) is not str:
        raise no_overload("ip.isCanonical", x)
    return str(_addr(x)) == x


def _family(x):  # type: ignore[no-untyped-def]
    if type(x) is not IPAddr:
        raise no_overload("family", x)
    return x.addr.version


def _contains_ip(c, x):  # type: ignore[no-untyped-def]
    if type(c) is not CIDR:
        raise no_overload("containsIP", c, x)
    ip = parse_ip(x) if type(x) in (str, IPAddr) else None
    if ip is None:
        raise no_overload("containsIP", c, x)
    if ip.addr.version != c.addr.version:
        return False
    return ip.addr in c.network


def _contains_cidr(c, x):  # type: ignore[no-untyped-def]
    if type(c) is not CIDR:
        raise no_overload("containsCIDR", c, x)
    other = parse_cidr(x) if type(x) in (str, CIDR) else None
    if other is None:
        raise no_overload("containsCIDR", c, x)
    if other.addr.version != c.addr.version or other.prefix < c.prefix:
        return False
    return other.network.subnet_of(c.network)  # type: ignore[arg-type]


def _cidr_ip(c):  # type: ignore[no-untyped-def]
    if type(c) is not CIDR:
        raise no_overload("ip", c)
    return IPAddr(c.addr)


def _masked(c):  # type: ignore[no-untyped-def]
    if type(c) is not CIDR:
        raise no_overload("masked", c)
    return CIDR(c.network.network_address, c.prefix)


def _is_mask(c):  # type: ignore[no-untyped-def]
    if type(c) is not CIDR:
        raise no_overload("isMask", c)
    return c.network.network_address == c.addr


def _prefix_length(c):  # type: ignore[no-untyped-def]
    if type(c) is not CIDR:
        raise no_overload("prefixLength", c)
    return c.prefix


def in_cidr_range(ip, ranges):  # type: ignore[no-untyped-def]
    """ngrok's ``inCidrRange(ip, cidr)`` / ``inCidrRanges(ip, [cidr...])``."""
    if type(ranges) is str:
        ranges = [ranges]
    if type(ip) is not str or not isinstance(ranges, (list, tuple)):
        raise no_overload("inCidrRange", ip, ranges)
    try:
        addr = unmapped(ipaddress.ip_address(ip))
    except ValueError:
        return False
    for r in ranges:
        if type(r) is not str:
            raise no_overload("inCidrRange", ip, ranges)
        try:
            net = ipaddress.ip_network(r, strict=False)
        except ValueError:
            continue  # ngrok: an invalid range matches nothing
        if addr.version == net.version and addr in net:
            return True
    return False


NETWORK_FUNCTIONS = {
    "ip": parse_ip,
    "cidr": parse_cidr,
    "isIP": _is_ip,
    "isCIDR": _is_cidr,
    "ip.isCanonical": _is_canonical,
    ".family": _family,
    ".isUnspecified": _is("isUnspecified", lambda a: a.is_unspecified),
    ".isLoopback": _is("isLoopback", lambda a: a.is_loopback),
    ".isGlobalUnicast": _is("isGlobalUnicast", _global_unicast),
    ".isLinkLocalMulticast": _is("isLinkLocalMulticast", _ll_multicast),
    ".isLinkLocalUnicast": _is("isLinkLocalUnicast", lambda a: a.is_link_local and a.version == 4 or (a.version == 6 and a in ipaddress.IPv6Network("fe80::/10"))),
    ".containsIP": _contains_ip,
    ".containsCIDR": _contains_cidr,
    ".ip": _cidr_ip,
    ".masked": _masked,
    ".isMask": _is_mask,
    ".prefixLength": _prefix_length,
    "inCidrRange": in_cidr_range,
    "inCidrRanges": in_cidr_range,
}
