"""Which app sent a request (scanner/attribute/apps.py): a table of requests -> app."""

from __future__ import annotations

import json

import pytest

from scanner.attribute.apps import app_of
from scanner.detect.fields import FieldExtractor
from scanner.model import AppRef, FlowTuple, HttpRequest

FLOW = FlowTuple("tcp", "10.1.2.3", 40000, "93.184.216.34", 80)


def _request(uri: str = "/x", user_agent: str | None = None, headers: tuple[tuple[str, str], ...] = (),
             body: str = "", content_type: str | None = None) -> HttpRequest:
    all_headers = [("Host", "ads.example.com"), *headers]
    if user_agent:
        all_headers.append(("User-Agent", user_agent))
    if content_type:
        all_headers.append(("Content-Type", content_type))
    data = body.encode()
    return HttpRequest(ts=1.0, capture="c.pcap", frame=1, flow=FLOW, method="POST" if data else "GET", host="ads.example.com",
                       uri=uri, user_agent=user_agent, content_type=content_type, body_len=len(data),
                       headers=tuple(all_headers), body=data)


def _app(event: HttpRequest) -> AppRef | None:
    return app_of(event, FieldExtractor(frozenset()).fields(event))


CASES = [
    ("webview-x-requested-with", _request(headers=(("X-Requested-With", "com.sceneway.kankan"),)),
     AppRef(None, "com.sceneway.kankan")),
    ("xhr-is-no-app", _request(headers=(("X-Requested-With", "XMLHttpRequest"),)), None),
    ("package-and-version-in-query", _request("/s?package_name=com.sceneway.kankan&app_version_name=2.8.2.1"),
     AppRef(None, "com.sceneway.kankan", "2.8.2.1")),
    ("openrtb-app-bundle", _request(body=json.dumps({"app": {"bundle": "com.zhiliaoapp.musically", "ver": "1"}}),
                                    content_type="application/json"), AppRef(None, "com.zhiliaoapp.musically")),
    ("itunes-bundle", _request("/bid?bundle=id835599320"), AppRef(None, "id835599320")),
    ("instagram-ua", _request(user_agent="Instagram 7.1.1 Android (19/4.4.2; 480dpi; 1080x1920; samsung)"),
     AppRef("Instagram", None, "7.1.1")),
    ("product-slash-version", _request(user_agent="Battle.net/1.3.0.5952"), AppRef("Battle.net", None, "1.3.0.5952")),
    ("ios-cfnetwork", _request(user_agent="Magican (unknown version) CFNetwork/720.5.7 Darwin/14.5.0 (x86_64)"),
     AppRef("Magican", None)),
    ("wechat", _request(user_agent="MicroMessenger Client"), AppRef("MicroMessenger", None)),
    ("facebook-in-app", _request(user_agent="Mozilla/5.0 (iPhone) [FBAN/FBIOS;FBAV/312.0.0.33.110;]"),
     AppRef("Facebook", None, "312.0.0.33.110")),
    ("browser", _request(user_agent="Mozilla/5.0 (Windows NT 10.0; rv:51.0) Gecko/20100101 Firefox/51.0"), None),
    ("http-stack", _request(user_agent="okhttp/3.10.0"), None),
    ("dalvik", _request(user_agent="Dalvik/2.1.0 (Linux; U; Android 11; sdk_gphone_x86 Build/RSR1.201013.001)"), None),
    ("advertised-app-is-not-the-sender", _request("/track?bdl=com.azarlive.android"), None),
    ("ua-and-package", _request("/a?bundle=com.instagram.android", user_agent="Instagram 7.1.1 Android (19/4.4.2)"),
     AppRef("Instagram", "com.instagram.android", "7.1.1")),
]


@pytest.mark.parametrize(("event", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_app_of(event: HttpRequest, expected: AppRef | None) -> None:
    assert _app(event) == expected
