"""Opencast: everything the harvester knows about one upstream, in one package.

- client: the HTTP client (auth, retries, login-page detection) and the normalization of
  Opencast's JSON quirks (lists that may be objects, strings that may be numbers, ...);
- episodes: episode documents for `load-episodes` (search, workflows, scheduler data);
- useractions: user-tracking actions for a time window, enriched with their episodes;
- day_paging: proving a stock server's `day` pages complete by counting.
"""
