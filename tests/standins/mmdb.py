"""A minimal MaxMind DB writer, after the public MaxMind DB file format spec (version 2.0).

Tests need a tiny GeoLite2-City-like database; the real ones cannot be downloaded here. The
file has an IPv4 search tree (24-bit records), a data section with the types City records
use (maps, UTF-8 strings, doubles, unsigned integers, arrays) and the metadata section. The
official `maxminddb` reader reads it, which is what the harvester uses.
"""

from __future__ import annotations

import ipaddress
import struct
import time
from pathlib import Path

METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"


class U16(int):
    """An int stored as uint16 (libmaxminddb checks the metadata's exact integer types)."""


class U32(int):
    pass


class U64(int):
    pass


def _control(type_: int, size: int) -> bytes:
    extended = type_ > 7
    first_type = 0 if extended else type_
    if size < 29:
        head, extra = size, b""
    elif size < 285:
        head, extra = 29, bytes([size - 29])
    elif size < 65821:
        head, extra = 30, (size - 285).to_bytes(2, "big")
    else:
        head, extra = 31, (size - 65821).to_bytes(3, "big")
    out = bytes([(first_type << 5) | head])
    if extended:
        out += bytes([type_ - 7])
    return out + extra


def encode(value) -> bytes:
    """One data-section value: str, float, bool, int >= 0, list or dict."""
    if isinstance(value, bool):
        return _control(14, int(value))
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _control(2, len(raw)) + raw
    if isinstance(value, float):
        return _control(3, 8) + struct.pack(">d", value)
    if isinstance(value, int):
        if value < 0:
            raise ValueError("only unsigned integers")
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""
        fixed = {U16: 5, U32: 6, U64: 9}.get(type(value))
        type_ = fixed or (5 if value < 1 << 16 else 6 if value < 1 << 32 else 9)
        return _control(type_, len(raw)) + raw
    if isinstance(value, list):
        return _control(11, len(value)) + b"".join(encode(v) for v in value)
    if isinstance(value, dict):
        return _control(7, len(value)) + b"".join(encode(str(k)) + encode(v) for k, v in value.items())
    raise TypeError(f"cannot encode {type(value).__name__}")


def write_mmdb(path: Path, networks: dict[str, dict], database_type: str = "GeoLite2-City") -> Path:
    """Write `networks` ({"18.0.0.0/8": record, ...}, IPv4) as a MaxMind DB file."""
    data = b""
    offsets: list[tuple[str, int]] = []
    for cidr, record in networks.items():
        offsets.append((cidr, len(data)))
        data += encode(record)
    # a binary trie over the network bits: node = [left, right]; a leaf is ("data", offset)
    root: list = [None, None]
    nodes = [root]
    for cidr, offset in offsets:
        net = ipaddress.ip_network(cidr)
        if net.version != 4:
            raise ValueError("IPv4 networks only")
        bits = format(int(net.network_address), "032b")[:net.prefixlen]
        node = root
        for i, bit in enumerate(bits):
            side = int(bit)
            if i == len(bits) - 1:
                node[side] = ("data", offset)
            else:
                if not isinstance(node[side], list):
                    child: list = [None, None]
                    node[side] = child
                    nodes.append(child)
                node = node[side]
    index = {id(n): i for i, n in enumerate(nodes)}
    count = len(nodes)

    def record(value) -> int:
        if value is None:
            return count  # no data
        if isinstance(value, tuple):
            return count + 16 + value[1]
        return index[id(value)]

    tree = b"".join(record(n[0]).to_bytes(3, "big") + record(n[1]).to_bytes(3, "big") for n in nodes)
    metadata = {"node_count": U32(count), "record_size": U16(24), "ip_version": U16(4),
                "database_type": database_type, "languages": ["en"],
                "binary_format_major_version": U16(2), "binary_format_minor_version": U16(0),
                "build_epoch": U64(int(time.time())), "description": {"en": "harvester test database"}}
    path.write_bytes(tree + b"\x00" * 16 + data + METADATA_MARKER + encode(metadata))
    return path


def city(*, country: str, country_name: str, continent: str, lat: float, lon: float,
         city_name: str | None = None, region: tuple[str, str] | None = None,
         time_zone: str | None = None, postal: str | None = None, metro: int | None = None) -> dict:
    """A record shaped like GeoLite2-City's."""
    doc: dict = {"continent": {"code": continent, "names": {"en": continent}},
                 "country": {"iso_code": country, "names": {"en": country_name}},
                 "location": {"latitude": lat, "longitude": lon}}
    if city_name:
        doc["city"] = {"names": {"en": city_name}}
    if region:
        doc["subdivisions"] = [{"iso_code": region[0], "names": {"en": region[1]}}]
    if time_zone:
        doc["location"]["time_zone"] = time_zone
    if metro is not None:
        doc["location"]["metro_code"] = metro
    if postal:
        doc["postal"] = {"code": postal}
    return doc


BOSTON = city(country="US", country_name="United States", continent="NA", lat=42.3562, lon=-71.0631,
              city_name="Boston", region=("MA", "Massachusetts"), time_zone="America/New_York",
              postal="02108", metro=506)
LONDON = city(country="GB", country_name="United Kingdom", continent="EU", lat=51.5142, lon=-0.0931,
              city_name="London", region=("ENG", "England"), time_zone="Europe/London")


def tiny_geolite(path: Path) -> Path:
    """18.0.0.0/8 in Boston (MIT's block), 81.2.69.0/24 in London; nothing else."""
    return write_mmdb(path, {"18.0.0.0/8": BOSTON, "81.2.69.0/24": LONDON})
