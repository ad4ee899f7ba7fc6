"""Tracker IDs by behaviour (scanner/detect/behaviour.py), unit and through the pipeline.

A value becomes a cookie_id/user_id only by what it does across events: repeated by one subject
over time (persistent) or sent to two organisations (synchronised).  Nonces, cache busters,
session and request ids stay out, whatever their shape.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from scanner.detect.behaviour import BehaviourTracker, behaviour_type, id_like, stop_key
from scanner.detect.fields import Field
from scanner.engines.base import EngineStats
from scanner.model import FlowTuple, HttpRequest
from scanner.pipeline import ScanPipeline, ScanSettings

FLOW = FlowTuple("tcp", "10.1.2.3", 40000, "93.184.216.34", 80)

ID_LIKE = [
    ("uuid", "7e0b6899-54a3-4ae9-b209-1336b7a4e777", True),
    ("hex-16", "2280eb3698010001", True),
    ("digits-9", "227188832", True),
    ("base62", "9ts0bcninmoxkwv1", True),
    ("mixed-long", "1420289680780kd05I9VKIo0jyigReuYTDSFK0FCoza40", True),
    ("unix-seconds", "1420290308", False),
    ("unix-ms", "1420290308011", False),
    ("short-number", "8765235", False),
    ("version", "3.2.19.358", False),
    ("host", "www.ynet.co.il", False),
    ("url", "http://www.bbc.com/news/world-europe-29678241", False),
    ("dotted-flags", "w.frv5.ws.ltos.ah.clk.cd.nc3.f.", False),
    ("word", "androidmobile", False),
    ("zero-uuid", "00000000-0000-0000-0000-000000000000", False),
    ("imsi-shaped", "262019663515399", True),  # followed, then typed by behaviour_type
    ("md5", "b0868e0f2bf7d5774daef1adb2373a9b", False),
    ("too-long", "a1" * 40, False),
]


@pytest.mark.parametrize(("value", "expected"), [r[1:] for r in ID_LIKE], ids=[r[0] for r in ID_LIKE])
def test_id_like(value: str, expected: bool) -> None:
    assert id_like(value) is expected


@pytest.mark.parametrize(
    ("value", "location", "expected"),
    [("262019663515399", "query", "imsi"), ("490154203237518", "body", "imei"), ("227188832", "query", "user_id"),
     ("9ts0bcninmoxkwv1", "cookie", "cookie_id"), ("123456789012345", "query", "user_id")],
)
def test_behaviour_type(value: str, location: str, expected: str) -> None:
    assert behaviour_type(value, location) == expected


@pytest.mark.parametrize(
    ("key", "stopped"),
    [("u", False), ("visitor", False), ("__etn", False), ("session_id", True), ("request_id", True), ("csrf", True),
     ("sign", True), ("auction_id", True), ("ts", True), ("rand", True), ("X-Session-Token", True), (None, True)],
)
def test_stop_keys(key: str | None, stopped: bool) -> None:
    assert stop_key(key, frozenset({"ts", "rand"})) is stopped


def test_a_value_waits_until_it_persists_then_all_its_sightings_count() -> None:
    tracker: BehaviourTracker[int] = BehaviourTracker()
    assert tracker.sighting("s", "v1", "org", 0.0, 1) == []
    assert tracker.sighting("s", "v1", "org", 5.0, 2) == []  # twice within seconds: one exchange, not yet an ID
    assert tracker.sighting("s", "v1", "org", 40.0, 3) == [1, 2, 3]
    assert tracker.sighting("s", "v1", "org", 41.0, 4) == [4]
    assert tracker.confirmed_persistent == 1


def test_a_value_sent_to_two_organisations_is_synchronised_at_once() -> None:
    tracker: BehaviourTracker[str] = BehaviourTracker()
    assert tracker.sighting("s", "v", "Mintegral", 0.0, "a") == []
    assert tracker.sighting("s", "v", "Liftoff", 0.5, "b") == ["a", "b"]
    assert tracker.confirmed_synchronised == 1


def test_the_same_value_from_two_subjects_is_two_records() -> None:
    tracker: BehaviourTracker[str] = BehaviourTracker()
    tracker.sighting("s1", "v", "A", 0.0, "a")
    assert tracker.sighting("s2", "v", "B", 0.0, "b") == []


def test_memory_is_bounded_and_evictions_counted() -> None:
    tracker: BehaviourTracker[int] = BehaviourTracker(max_values=3)
    for i in range(10):
        tracker.sighting("s", f"value{i}", "org", float(i), i)
    assert len(tracker) == 3 and tracker.evicted == 7


def test_candidates_need_a_tracker_location_a_key_and_an_id_shape() -> None:
    tracker: BehaviourTracker[int] = BehaviourTracker(frozenset({"ts"}))
    assert tracker.candidate(Field("query", "vid_x", "9ts0bcninmoxkwv1"))
    assert not tracker.candidate(Field("path", None, "9ts0bcninmoxkwv1"))
    assert not tracker.candidate(Field("query", "session_id", "9ts0bcninmoxkwv1"))
    assert not tracker.candidate(Field("query", "ts", "1420290308"))


# ---------------------------------------------------------------------- through the pipeline


def _request(host: str, query: dict[str, str], ts: float, cookie: str | None = None) -> HttpRequest:
    uri = "/p?" + "&".join(f"{k}={quote(v)}" for k, v in query.items())
    headers = [("Host", host)] + ([("Cookie", cookie)] if cookie else [])
    return HttpRequest(ts=ts, capture="synthetic.pcap", frame=int(ts) + 1, flow=FLOW, method="GET", host=host, uri=uri,
                       headers=tuple(headers))


def _scan(events: list[HttpRequest]) -> list[tuple[str, str, tuple[str, ...]]]:
    pipeline = ScanPipeline(ScanSettings())
    for event in events:
        pipeline.consume(event)
    result = pipeline.result(EngineStats(), "native")
    return sorted((f.destination.host, f.identifier.type, f.identifier.keys or (f.identifier.key or "",))
                  for f in result.findings if f.identifier is not None)


def test_an_unknown_vendors_persistent_visitor_id_is_found_and_its_nonces_are_not() -> None:
    events = [
        _request("collect.unknown-metrics.example", {"vis": "Qx7Lm2Pz9Kd4Wt8R", "nonce": f"N{i}x8Kd0Pq2Zr5Lm{i}",
                                                      "session_id": "S7d8f9g0h1j2k3l4", "r": f"{i}7766554433"}, 100.0 * i)
        for i in range(4)
    ]
    assert _scan(events) == [("collect.unknown-metrics.example", "user_id", ("vis",))]


def test_a_value_handed_from_one_company_to_another_is_synchronised() -> None:
    events = [
        _request("sync.adco-one.example", {"partner_uid": "Zq81Lm0Pk27Hd9Wx"}, 10.0),
        _request("match.adco-two.example", {"puid": "Zq81Lm0Pk27Hd9Wx"}, 11.0),
    ]
    found = _scan(events)
    assert [(host, id_type) for host, id_type, _ in found] == [
        ("match.adco-two.example", "user_id"), ("sync.adco-one.example", "user_id")
    ]


def test_a_value_seen_once_or_changing_on_every_request_is_nothing() -> None:
    events = [_request("collect.unknown-metrics.example", {"cb": "x", "vis": f"Qx7Lm2Pz9Kd4Wt{i:02d}"}, 100.0 * i)
              for i in range(5)]
    assert _scan(events) == []


def test_two_identifiers_to_one_host_are_one_finding_that_shows_each_with_its_keys() -> None:
    pipeline = ScanPipeline(ScanSettings(show_values=True))
    pipeline.consume(_request("stats.g.doubleclick.net", {"x": "1"}, 1.0, cookie="id=2280eb3698010001|t=1"))
    pipeline.consume(_request("stats.g.doubleclick.net", {"utmcc": "__utma=1.14538266.1402376246.1.1.1;"}, 2.0))
    (finding,) = [f for f in pipeline.result(EngineStats(), "native").findings if f.identifier is not None]
    identifier = finding.identifier
    assert identifier is not None
    assert {(v.value, v.keys) for v in identifier.values} == {("2280eb3698010001", ("id",)), ("14538266.1402376246", ("utmcc",))}
    record = identifier.to_record()
    assert sorted(record["keys"]) == ["id", "utmcc"] and len(record["values"]) == 2


def test_waiting_sightings_are_bounded_in_all() -> None:
    import scanner.detect.behaviour as behaviour_module

    tracker: BehaviourTracker[int] = BehaviourTracker()
    limit = behaviour_module.MAX_TOTAL_PENDING
    behaviour_module.MAX_TOTAL_PENDING = 5
    try:
        for i in range(8):
            tracker.sighting("s", f"v{i}", "org", 0.0, i)
        assert tracker.pending == 5 and tracker.not_kept == 3
    finally:
        behaviour_module.MAX_TOTAL_PENDING = limit
