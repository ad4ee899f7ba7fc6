"""Fields: an event taken apart into (location, key, value, encoding, container).

What the detector sees of a request: query and form parameters (URL-decoded once or twice),
JSON at any depth with numbers as written, multipart parts, a base64 body, a JWT's payload,
cookies, the Referer's query string, User-Agent tokens keyed by the word before them, operator
enrichment headers on their own, and names from DHCP, mDNS, DNS and TLS.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from scanner.detect.fields import MAX_FIELDS, Field, FieldExtractor, join_encodings
from scanner.model import DhcpMessage, DnsMessage, FlowTuple, MdnsMessage, QuicInitial, TlsClientHello

OPERATOR_HEADERS = frozenset({"x-msisdn", "x-uidh"})


@pytest.fixture(scope="module")
def extractor() -> FieldExtractor:
    return FieldExtractor(OPERATOR_HEADERS)


def triples(fields: list[Field]) -> set[tuple[str, str | None, str, str]]:
    return {(f.location, f.key, f.value, f.encoding) for f in fields}


def test_query_parameters(extractor: FieldExtractor, events: Any) -> None:
    event = events.http(uri="/track?a=1&email=emma%40example.org&twice=emma%2540example.org&flag&=anon&empty=")
    got = triples(extractor.fields(event))
    assert ("query", "a", "1", "plain") in got
    assert ("query", "email", "emma@example.org", "url") in got
    assert ("query", "twice", "emma@example.org", "url2") in got
    assert ("query", "", "anon", "plain") in got
    assert not any(f[1] in ("flag", "empty") for f in got), "a parameter without a value is no field"


def test_encoded_key_is_decoded(extractor: FieldExtractor, events: Any) -> None:
    got = triples(extractor.fields(events.http(uri="/t?device%5Badid%5D=abc123def456")))
    assert ("query", "device[adid]", "abc123def456", "plain") in got


def test_query_fields_share_a_container(extractor: FieldExtractor, events: Any) -> None:
    fields = [f for f in extractor.fields(events.http(uri="/t?lat=52.520008&lon=13.404954")) if f.location == "query"]
    assert len({f.container for f in fields}) == 1


def test_path_segments_keyed_by_the_segment_before(extractor: FieldExtractor, events: Any) -> None:
    got = triples(extractor.fields(events.http(uri="/v1/imei/356938035643809/ping")))
    assert ("path", "imei", "356938035643809", "plain") in got
    assert not any(f[2] in ("v1", "ping") for f in got), "short segments are not identifiers"


def test_absolute_uri_of_a_proxy_request(extractor: FieldExtractor, events: Any) -> None:
    got = triples(extractor.fields(events.http(uri="http://proxy.example/collect/abcdef0123?q=1")))
    assert ("query", "q", "1", "plain") in got
    assert not any("proxy.example" in f[2] for f in got)


def test_form_body(extractor: FieldExtractor, events: Any) -> None:
    event = events.http(body="idfa=59420744-3EC0-4FA1-AC86-BBD4EBAA8CBD&email=emma%40example.org",
                        content_type="application/x-www-form-urlencoded")
    got = triples(extractor.fields(event))
    assert ("body", "idfa", "59420744-3EC0-4FA1-AC86-BBD4EBAA8CBD", "plain") in got
    assert ("body", "email", "emma@example.org", "url") in got


def test_form_body_without_content_type(extractor: FieldExtractor, events: Any) -> None:
    got = triples(extractor.fields(events.http(body="adid=38400000-8cf0-11bd-b23e-10b96e40000d&v=2")))
    assert ("body", "adid", "38400000-8cf0-11bd-b23e-10b96e40000d", "plain") in got


def test_json_nested_with_numbers_as_written(extractor: FieldExtractor, events: Any) -> None:
    body = '{"device": {"geo": {"lat": 52.540000, "lon": 13.400000}, "ids": [{"adid": "x-123456"}], "n": 7, "ok": true}}'
    fields = extractor.fields(events.http(body=body, content_type="application/json"))
    got = triples(fields)
    assert ("body", "device.geo.lat", "52.540000", "plain") in got, "6 decimals as written, not 52.54"
    assert ("body", "device.geo.lon", "13.400000", "plain") in got
    assert ("body", "device.ids.adid", "x-123456", "plain") in got
    assert ("body", "device.n", "7", "plain") in got
    assert ("body", "device.ok", "true", "plain") in got
    geo = [f for f in fields if f.key and f.key.startswith("device.geo.")]
    assert len({f.container for f in geo}) == 1, "lat and lon of one object share a container"


def test_json_array_pair_is_kept_together(extractor: FieldExtractor, events: Any) -> None:
    got = triples(extractor.fields(events.http(body='{"loc": [52.469510, 13.361000]}', content_type="application/json")))
    assert ("body", "loc", "52.469510,13.361000", "plain") in got


def test_json_recognised_without_content_type(extractor: FieldExtractor, events: Any) -> None:
    got = triples(extractor.fields(events.http(body='  {"gaid": "38400000-8cf0-11bd-b23e-10b96e40000d"}')))
    assert ("body", "gaid", "38400000-8cf0-11bd-b23e-10b96e40000d", "plain") in got


def test_json_in_a_string_is_opened(extractor: FieldExtractor, events: Any) -> None:
    inner = json.dumps({"android_id": "974283758cea2e11", "lang": "de"})
    got = triples(extractor.fields(events.http(body=json.dumps({"payload": inner}), content_type="application/json")))
    assert ("body", "payload.android_id", "974283758cea2e11", "plain") in got


def test_json_too_deep_is_cut_not_crashed(extractor: FieldExtractor, events: Any) -> None:
    body = "[" * 5000 + "]" * 5000
    extractor.fields(events.http(body=body, content_type="application/json"))


def test_multipart_parts(extractor: FieldExtractor, events: Any) -> None:
    boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"  # mixed case, as browsers and SDKs write it
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nemma@example.org\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"; filename=\"meta.json\"\r\n"
        "Content-Type: application/json\r\n\r\n{\"adid\": \"38400000-8cf0-11bd-b23e-10b96e40000d\"}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.jpg\"\r\n"
        "Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff356938035643809\r\n"
        f"--{boundary}--\r\n"
    ).encode("latin-1")
    fields = extractor.fields(events.http(body=body, content_type=f"multipart/form-data; boundary={boundary}"))
    got = triples(fields)
    assert ("body", "email", "emma@example.org", "plain") in got
    assert ("body", "meta.adid", "38400000-8cf0-11bd-b23e-10b96e40000d", "plain") in got
    assert not any("356938035643809" in f.value for f in fields), "a file upload is not taken apart"


def test_multipart_quoted_boundary(extractor: FieldExtractor, events: Any) -> None:
    body = b'--AbC"d\r\nContent-Disposition: form-data; name="phone"\r\n\r\n+491523632892\r\n--AbC"d--\r\n'.replace(b'"d', b"d")
    got = triples(extractor.fields(events.http(body=body, content_type='multipart/form-data; boundary="AbCd"')))
    assert ("body", "phone", "+491523632892", "plain") in got


def test_base64_body_with_json(extractor: FieldExtractor, events: Any) -> None:
    blob = base64.b64encode(b'{"idfa": "59420744-3EC0-4FA1-AC86-BBD4EBAA8CBD", "lat": 52.540000}').decode()
    got = triples(extractor.fields(events.http(body=blob, content_type="application/octet-stream")))
    assert ("body", "idfa", "59420744-3EC0-4FA1-AC86-BBD4EBAA8CBD", "base64") in got
    assert ("body", "lat", "52.540000", "base64") in got


def test_base64_json_in_a_parameter(extractor: FieldExtractor, events: Any) -> None:
    blob = base64.urlsafe_b64encode(b'{"device": {"imei": "356938035643809"}}').decode().rstrip("=")
    got = triples(extractor.fields(events.http(uri=f"/e?d={blob}")))
    assert ("query", "d.device.imei", "356938035643809", "base64") in got


def test_base64_text_in_a_cookie(extractor: FieldExtractor, events: Any) -> None:
    blob = base64.b64encode(b"emma@example.org").decode()
    got = triples(extractor.fields(events.http(headers=[("Cookie", f"u={blob}")])))
    assert ("cookie", "u", "emma@example.org", "base64") in got


def test_jwt_payload(extractor: FieldExtractor, events: Any) -> None:
    payload = base64.urlsafe_b64encode(json.dumps({"sub": "emma@example.org", "aid": "974283758cea2e11"}).encode())
    token = "eyJhbGciOiJIUzI1NiJ9." + payload.decode().rstrip("=") + ".c2lnbmF0dXJl"
    got = triples(extractor.fields(events.http(headers=[("X-Session", token)], uri=f"/a?token={token}")))
    assert ("header", "X-Session.sub", "emma@example.org", "jwt") in got
    assert ("query", "token.aid", "974283758cea2e11", "jwt") in got


def test_cookies(extractor: FieldExtractor, events: Any) -> None:
    event = events.http(headers=[("Cookie", '_ga=GA1.3.14538266.1402376246; uid="abc%20def"; empty=; _fbp=fb.1.1596403881668.1116446470')])
    got = triples(extractor.fields(event))
    assert ("cookie", "_ga", "GA1.3.14538266.1402376246", "plain") in got
    assert ("cookie", "uid", "abc def", "url") in got
    assert ("cookie", "_fbp", "fb.1.1596403881668.1116446470", "plain") in got
    assert not any(f[1] == "empty" for f in got)


def test_referer_query(extractor: FieldExtractor, events: Any) -> None:
    event = events.http(headers=[("Referer", "https://kids.example/play?child_email=emma%40example.org&level=3")])
    got = triples(extractor.fields(event))
    assert ("header", "child_email", "emma@example.org", "url") in got
    assert not any(f[1] == "Referer" for f in got), "the Referer's own URL is not an identifier"


def test_user_agent_tokens(extractor: FieldExtractor, events: Any) -> None:
    agent = "KidsGame/3.1 (Linux; Android 13; IMEI 356938035643809; uid:emma@example.org) okhttp/4.12.0"
    fields = [f for f in extractor.fields(events.http(user_agent=agent)) if f.location == "user_agent"]
    got = {(f.key, f.value) for f in fields}
    assert ("User-Agent", agent) in got, "the whole User-Agent, for known values"
    assert ("IMEI", "356938035643809") in got, "a token is keyed by the word before it"
    assert ("uid", "emma@example.org") in {(k, v.split(":")[-1]) for k, v in got} or any("emma@example.org" in v for _, v in got)
    assert len({f.container for f in fields}) == 1


def test_headers_mechanical_skipped_enrichment_apart(extractor: FieldExtractor, events: Any) -> None:
    event = events.http(
        headers=[("Accept-Language", "de-DE"), ("Content-Length", "356938035643809"), ("X-MSISDN", "491523632892"),
                 ("X-UIDH", "OTgxNTk2NDk0ADJVquRu5NS5"), ("X-Device-Id", "974283758cea2e11")]
    )
    got = triples(extractor.fields(event))
    assert ("header_enrichment", "X-MSISDN", "491523632892", "plain") in got
    assert ("header_enrichment", "X-UIDH", "OTgxNTk2NDk0ADJVquRu5NS5", "plain") in got
    assert ("header", "X-Device-Id", "974283758cea2e11", "plain") in got
    assert not any(f[1] in ("Accept-Language", "Content-Length", "Host") for f in got)


def test_double_url_encoding_is_url2_everywhere(extractor: FieldExtractor, events: Any) -> None:
    twice = "emma%2540example.org"
    event = events.http(uri=f"/a?e={twice}", body=f"e={twice}", content_type="application/x-www-form-urlencoded",
                        headers=[("Cookie", f"e={twice}"), ("e", twice)])
    got = {(f.location, f.value, f.encoding) for f in extractor.fields(event) if f.key == "e"}
    assert got == {("query", "emma@example.org", "url2"), ("body", "emma@example.org", "url2"),
                   ("cookie", "emma@example.org", "url2"), ("header", "emma@example.org", "url2")}


def test_custom_header_values_are_url_decoded(extractor: FieldExtractor, events: Any) -> None:
    event = events.http(headers=[("X-User-Email", "emma%2540example.org"), ("X-Ratio", "100%"), ("X-Name", "Emma%20K")])
    got = triples(extractor.fields(event))
    assert ("header", "X-User-Email", "emma@example.org", "url2") in got
    assert ("header", "X-Ratio", "100%", "plain") in got
    assert ("header", "X-Name", "Emma K", "url") in got


def test_a_literal_percent_is_not_decoded_twice(extractor: FieldExtractor, events: Any) -> None:
    got = triples(extractor.fields(events.http(uri="/a?d=100%25done")))
    assert ("query", "d", "100%done", "url") in got


def test_join_encodings() -> None:
    assert join_encodings("plain", "md5") == "md5"
    assert join_encodings("base64", "plain") == "base64"
    assert join_encodings("url", "base64") == "url+base64"


def test_field_count_is_bounded(extractor: FieldExtractor, events: Any) -> None:
    query = "&".join(f"k{i}=v{i}" for i in range(MAX_FIELDS * 2))
    assert len(extractor.fields(events.http(uri=f"/bulk?{query}"))) == MAX_FIELDS


# ---------------------------------------------------------------------- names and what is not HTTP

FLOW = FlowTuple("udp", "10.20.0.7", 5353, "224.0.0.251", 5353)


def test_names_and_server_names(extractor: FieldExtractor) -> None:
    dhcp = DhcpMessage(ts=0.0, capture="c", frame=1, flow=FLOW, message="REQUEST", hostname="Emmas-iPad",
                       client_fqdn="emmas-ipad.fritz.box")
    assert triples(extractor.fields(dhcp)) == {("name", "hostname", "Emmas-iPad", "plain"),
                                               ("name", "client_fqdn", "emmas-ipad.fritz.box", "plain")}
    mdns = MdnsMessage(ts=0.0, capture="c", frame=1, flow=FLOW, name="Emma’s iPad", names=("Emma’s iPad", "Emma’s iPad._airplay._tcp.local"))
    assert [f.value for f in extractor.fields(mdns)] == ["Emma’s iPad", "Emma’s iPad._airplay._tcp.local"]
    tls = TlsClientHello(ts=0.0, capture="c", frame=1, flow=FLOW, sni="app-measurement.com")
    assert triples(extractor.fields(tls)) == {("sni", None, "app-measurement.com", "plain")}
    quic = QuicInitial(ts=0.0, capture="c", frame=1, flow=FLOW, version="0x00000001", sni=None)
    assert extractor.fields(quic) == []
    query = DnsMessage(ts=0.0, capture="c", frame=1, flow=FLOW, query="t.appsflyer.com", qtype="A")
    answer = DnsMessage(ts=0.0, capture="c", frame=1, flow=FLOW, query="t.appsflyer.com", qtype="A", response=True, rcode=0)
    assert triples(extractor.fields(query)) == {("dns", None, "t.appsflyer.com", "plain")}
    assert extractor.fields(answer) == []
