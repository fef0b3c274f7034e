"""Talking to Elasticsearch and OpenSearch: one client for every server the harvester supports.

`client` opens the connection (URL, auth, server detection, the library that fits the
server); `errors` turns whatever the libraries raise into the harvester's own errors and
retries what is transient. The sink, `setup`, `doctor` and `load-episodes` use only these.
"""
