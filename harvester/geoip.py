"""Geolocation from a local GeoLite2/GeoIP2 City database file (`--geolite` / GEOLITE_PATH).

The original deployment kept `GeoLite2-City.mmdb` on the analytics node: its Zoom harvester
looked sessions up in it, and the Logstash geoip filter located useractions. Doing the lookup
here, rather than in an Elasticsearch ingest processor, gives the same documents on every
cluster: Amazon's managed Elasticsearch/OpenSearch has no geoip processor, and a cluster
without internet access never gets the databases Elasticsearch downloads for it.

Fields carry the Logstash geoip filter's names (what the analysts' queries and dashboards
read): `ip`, `country_code2`, `country_code3`, `country_name`, `continent_code`,
`region_name` (the first subdivision's code), `real_region_name` (its name), `region_code`,
`city_name`, `postal_code`, `latitude`, `longitude`, `location` ([lon, lat], a geo_point),
`dma_code`, `timezone`. A GeoLite2 file has no three-letter country codes, so
`country_code3` repeats the ISO code, as the Logstash filter does with GeoLite2.
"""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from typing import Any

from harvester.errors import ConfigError

HINT = "'--geolite' (environment variable GEOLITE_PATH)"


class GeoLite:
    """An open database file; `lookup(ip)` is cached (viewers repeat their address)."""

    def __init__(self, path: str):
        import maxminddb

        if not os.path.isfile(path):
            raise ConfigError(
                f"{path!r}: no such file; give the path of a GeoLite2-City.mmdb file, or leave "
                "it unset to let the Elasticsearch geoip processor locate addresses",
                hint=HINT)
        try:
            self._reader = maxminddb.open_database(path)
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise ConfigError(f"{path!r} is not a MaxMind DB (.mmdb) file: {exc}",
                                     hint=HINT) from None
        self.path = path
        self.database_type = str(self._reader.metadata().database_type)
        self.lookup = lru_cache(maxsize=100_000)(self._lookup)

    def _lookup(self, ip: str | None) -> dict[str, Any] | None:
        if not ip:
            return None
        try:
            address = ipaddress.ip_address(str(ip).strip())
        except ValueError:
            return None
        try:
            data = self._reader.get(address)
        except ValueError:  # an IPv6 address in an IPv4-only database
            return None
        if not isinstance(data, dict):
            return None
        return logstash_fields(str(address), data)

    def close(self) -> None:
        self._reader.close()


def _name(record: Any) -> str | None:
    if isinstance(record, dict) and isinstance(record.get("names"), dict):
        return record["names"].get("en")
    return None


def logstash_fields(ip: str, data: dict) -> dict[str, Any]:
    """A GeoIP2 City record with the Logstash geoip filter's field names (nulls left out)."""
    country = data.get("country") or data.get("registered_country") or {}
    subdivisions = [s for s in data.get("subdivisions") or [] if isinstance(s, dict)]
    first = subdivisions[0] if subdivisions else {}
    location = data.get("location") or {}
    lat, lon = location.get("latitude"), location.get("longitude")
    out: dict[str, Any] = {
        "ip": ip,
        "country_code2": country.get("iso_code"),
        "country_code3": country.get("iso_code"),
        "country_name": _name(country),
        "continent_code": (data.get("continent") or {}).get("code"),
        "region_name": first.get("iso_code"),
        "region_code": first.get("iso_code"),
        "real_region_name": _name(first),
        "city_name": _name(data.get("city")),
        "postal_code": (data.get("postal") or {}).get("code"),
        "dma_code": location.get("metro_code"),
        "timezone": location.get("time_zone"),
    }
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        out.update(latitude=float(lat), longitude=float(lon), location=[float(lon), float(lat)])
    return {k: v for k, v in out.items() if v is not None}


def open_geolite(path: str | None) -> GeoLite | None:
    """The database at `path` (the option, else GEOLITE_PATH), or None when neither is set."""
    path = path or os.environ.get("GEOLITE_PATH") or None
    return GeoLite(path.strip()) if path and path.strip() else None


def doctor_check() -> list[tuple[str, str, str]]:
    """`harvest doctor`: the GeoLite2 file opens, its type and build date (a year-old file
    misplaces many addresses: MaxMind updates GeoLite2 twice a week)."""
    path = os.environ.get("GEOLITE_PATH")
    if not path:
        return [("geolite", "not configured",
                 "set GEOLITE_PATH to locate addresses here (else the ingest pipelines' geoip)")]
    try:
        geo = GeoLite(path)
    except ConfigError as exc:
        return [("geolite", "failed", exc.format_message())]
    try:
        from datetime import UTC, datetime

        built = datetime.fromtimestamp(geo._reader.metadata().build_epoch, UTC).date()
        return [("geolite", "ok", f"{path}: {geo.database_type}, built {built}")]
    finally:
        geo.close()
