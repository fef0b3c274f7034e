"""The Zoom client's pieces: rates, the pacer, token reuse, and how Zoom's errors are classified."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harvester.errors import AuthenticationError, ConfigError
from harvester.http import RetryPolicy
from harvester.jobs.zoom import six_months_before
from harvester.sources.zoom.api import (
    DailyLimitReached,
    Pacer,
    Rate,
    ZoomApi,
    ZoomApiError,
    ZoomAuth,
    ZoomSettings,
    new_api,
)
from harvester.sources.zoom.source import dashboard_unavailable, skippable
from tests.standins.zoom import ZoomStandIn, too_many


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize("text, calls, period", [("40/s", 40, 1.0), ("20/min", 20, 60.0), ("7", 7, 1.0),
                                                 ("1000/h", 1000, 3600.0), (" 5 / second ", 5, 1.0)])
def test_rates_parse(text, calls, period):
    assert Rate.parse(text, "ZOOM_RATE_HEAVY") == Rate(calls, period)


@pytest.mark.parametrize("text", ["", "fast", "0/s", "-3/s", "2.5/s", "10/day"])
def test_bad_rates_are_usage_errors_naming_the_setting(text):
    with pytest.raises(ConfigError, match="ZOOM_RATE_HEAVY"):
        Rate.parse(text, "ZOOM_RATE_HEAVY")


def test_pacer_lets_a_burst_through_then_waits_for_the_window():
    clock = FakeClock()
    pacer = Pacer({"heavy": Rate(3, 1.0)}, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        pacer.acquire("heavy")
    assert clock.slept == []
    pacer.acquire("heavy")
    assert clock.slept == [1.0]
    pacer.acquire("unpaced")  # categories without a rate are not paced
    assert clock.slept == [1.0]


@settings(max_examples=200, deadline=None)
@given(calls=st.integers(1, 6), period=st.sampled_from([1.0, 60.0]),
       gaps=st.lists(st.floats(0, 2.0, allow_nan=False), min_size=1, max_size=40))
def test_pacer_never_exceeds_its_rate(calls, period, gaps):
    clock = FakeClock()
    pacer = Pacer({"c": Rate(calls, period)}, clock=clock, sleep=clock.sleep)
    sent = []
    arrived = []
    for gap, latency in zip(gaps, itertools.cycle([0.0, 0.3, 0.05]), strict=False):
        clock.now += gap
        slot = pacer.acquire("c")
        sent.append(clock.now)
        clock.now += latency  # the call is counted by Zoom somewhere in [sent, answered]
        arrived.append(clock.now)
        pacer.done(slot)
    for i in range(len(sent) - calls):
        assert sent[i + calls] - arrived[i] >= period - 1e-9


def test_six_months_back_clamps_to_the_end_of_month():
    from datetime import date

    assert six_months_before(date(2026, 11, 24)) == date(2026, 5, 24)
    assert six_months_before(date(2026, 8, 31)) == date(2026, 2, 28)
    assert six_months_before(date(2026, 3, 15)) == date(2025, 9, 15)


def _error(status, code, message="x", is_json=True):
    return ZoomApiError(status, code, message, "api.zoom.us/v2/x", is_json)


def test_classification_of_per_meeting_errors():
    assert skippable(_error(404, 3001))
    assert skippable(_error(400, 3161))
    assert skippable(_error(403, None, "<html>blocked</html>", is_json=False))
    assert not skippable(_error(403, 200, "No permission."))  # Zoom's own 403: the run's problem
    assert not skippable(_error(400, 4711, "does not contain scopes"))
    assert not skippable(_error(400, 300, "Invalid field"))


def test_classification_of_dashboard_unavailable():
    assert dashboard_unavailable(_error(400, 200, "Only available for Business or higher accounts that have "
                                                  "enabled the Dashboard feature."))
    assert dashboard_unavailable(_error(400, 4711, "Invalid access token, does not contain scopes"))
    assert dashboard_unavailable(_error(400, 4700, "Invalid access token"))
    assert not dashboard_unavailable(_error(404, 3001, "Meeting does not exist"))


@pytest.fixture
def zoom():
    with ZoomStandIn(token_ttl=3600) as server:
        server.add_meeting("2026-11-23", 2)
        yield server


def _api(zoom, clock=None, attempts=3) -> ZoomApi:
    policy = RetryPolicy(attempts=attempts, base_delay=0.0, timeout=5)
    zoom_settings = ZoomSettings(zoom.account_id, zoom.client_id, zoom.client_secret,
                                 api_url=f"{zoom.url}/v2", oauth_url=f"{zoom.url}/oauth/token")
    api = new_api(zoom_settings, policy)
    if clock is not None:
        api.auth = ZoomAuth(f"{zoom.url}/oauth/token", zoom.account_id, zoom.client_id, zoom.client_secret,
                            session=api.session, policy=policy, clock=clock)
    return api


def test_token_is_reused_until_shortly_before_expiry(zoom):
    clock = FakeClock()
    api = _api(zoom, clock)
    params = {"type": "past", "from": "2026-11-23", "to": "2026-11-23"}
    for _ in range(3):
        api.get("/metrics/meetings", params, category="resource_intensive")
    assert zoom.issued == 1
    clock.now += 3600 - 301  # still more than five minutes left
    api.get("/metrics/meetings", params, category="resource_intensive")
    assert zoom.issued == 1
    clock.now += 2  # now inside the renewal margin
    api.get("/metrics/meetings", params, category="resource_intensive")
    assert zoom.issued == 2
    assert all(r.headers.get("Authorization", "").startswith("Bearer ") for r in zoom.requests
               if r.path.startswith("/v2"))
    assert not any("access_token" in r.args for r in zoom.requests)


def test_a_token_refused_twice_is_an_authentication_error(zoom):
    from tests.standins.base import json_response

    api = _api(zoom)
    zoom.inject(lambda r: json_response({"code": 124, "message": "Invalid access token."}, 401), times=None,
                match=lambda r: r.path.startswith("/v2"))
    with pytest.raises(AuthenticationError, match="refused a fresh token"):
        api.get("/metrics/meetings", {"type": "past", "from": "2026-11-23", "to": "2026-11-23"},
                category="resource_intensive")
    assert zoom.issued == 2 and zoom.count("/v2") == 2


def test_daily_limit_is_not_retried(zoom):
    api = _api(zoom)
    zoom.inject(lambda r: too_many(daily=True, retry_after=None), times=None,
                match=lambda r: r.path.startswith("/v2"))
    with pytest.raises(DailyLimitReached, match="00:00 UTC"):
        api.get("/metrics/meetings", {"type": "past", "from": "2026-11-23", "to": "2026-11-23"},
                category="resource_intensive")
    assert zoom.count("/v2") == 1


def test_persistent_per_second_429_gives_up_after_the_attempts(zoom):
    api = _api(zoom, attempts=3)
    zoom.inject(lambda r: too_many(retry_after="0"), times=None, match=lambda r: r.path.startswith("/v2"))
    with pytest.raises(Exception, match="failed after 3 attempt"):
        api.get("/metrics/meetings", {"type": "past", "from": "2026-11-23", "to": "2026-11-23"},
                category="resource_intensive")
    assert zoom.count("/v2") == 3


def test_a_4xx_is_raised_with_status_code_and_message(zoom):
    api = _api(zoom)
    with pytest.raises(ZoomApiError) as err:
        api.get("/metrics/meetings/nope/participants", {"type": "past"}, category="heavy")
    assert err.value.status == 404 and err.value.code == 3001
    assert err.value.reason == "HTTP 404 code 3001: Meeting does not exist."


def test_a_5xx_and_a_body_cut_short_are_retried_with_every_attempt_counted(zoom):
    from werkzeug.wrappers import Response

    api = _api(zoom, attempts=3)
    zoom.inject(lambda r: Response("oops", 501), times=1, match=lambda r: r.path.startswith("/v2"))
    zoom.inject(lambda r: Response('{"meetings": [', 200, content_type="application/json"), times=1,
                match=lambda r: r.path.startswith("/v2"))
    page = api.get("/metrics/meetings", {"type": "past", "from": "2026-11-23", "to": "2026-11-23"},
                   category="resource_intensive")
    assert isinstance(page.get("meetings"), list)
    assert zoom.count("/v2") == 3 and api.calls == {"resource_intensive": 3}


def test_an_expired_token_costs_one_new_token_and_one_more_call(zoom):
    from tests.standins.base import json_response

    api = _api(zoom)
    zoom.inject(lambda r: json_response({"code": 124, "message": "Invalid access token."}, 401), times=1,
                match=lambda r: r.path.startswith("/v2"))
    api.get("/metrics/meetings", {"type": "past", "from": "2026-11-23", "to": "2026-11-23"},
            category="resource_intensive")
    assert zoom.issued == 2 and zoom.count("/v2") == 2 and api.total_calls == 2
