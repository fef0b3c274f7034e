"""Zoom API v2: meetings and participant sessions.

`api` knows how to talk to Zoom (OAuth, pacing, Zoom's error shapes), `source` what to fetch
for one day, `records` turns Zoom's answers into meeting and session documents and
`original_style` reshapes those into the original harvester's documents. Day planning and
the run loop live in harvester.jobs.zoom.
"""
