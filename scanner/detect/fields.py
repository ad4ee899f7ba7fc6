"""Where identifiers hide: an event taken apart into (location, key, value) fields.

An HTTP request gives its query parameters, path segments, header fields
(User-Agent on its own, operator enrichment headers on their own), cookies,
and body: form, JSON at any depth, multipart parts, and text.  Values are
URL-decoded once or twice (``url``/``url2``), base64 blobs and JWT payloads are
opened and their JSON walked (``base64``/``jwt``); the layers peeled off are
the field's ``encoding``.  Fields of one container (a query string, a JSON
object) share a ``container`` number, so a latitude finds its longitude.

Names seen on the network (DHCP, mDNS, NBNS, LLMNR, SSDP), TLS/QUIC server
names and DNS query names are fields too, so one detector pass serves all.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import unquote

from scanner.model import Event, HttpRequest, WebSocketMessage

MAX_FIELDS = 2000  # per event: a request with more is a bulk upload, not a tracker ping
MAX_JSON_BYTES = 512 * 1024
MAX_DEPTH = 12
MAX_VALUE = 4096  # longer values are only searched for known values, not taken apart

# Header fields that never carry an identifier of the user (protocol mechanics).
_MECHANICAL_HEADERS = frozenset(
    {
        "host", "content-length", "content-type", "accept", "accept-encoding", "accept-language",
        "accept-charset", "connection", "keep-alive", "cache-control", "pragma", "upgrade-insecure-requests",
        "te", "transfer-encoding", "content-encoding", "if-modified-since", "if-none-match", "if-range",
        "range", "expect", "upgrade", "dnt", "priority", "sec-fetch-dest", "sec-fetch-mode", "sec-fetch-site",
        "sec-fetch-user", "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "origin", "date",
        "proxy-connection", "authorization",
    }
)


@dataclass(frozen=True, slots=True)
class Field:
    location: str  # query | path | header | cookie | body | user_agent | header_enrichment | sni | dns | name
    key: str | None
    value: str
    encoding: str = "plain"
    container: int = 0


# An extractor takes one event type apart: (event, operator header names) -> fields.
Extractor = Callable[[Event, frozenset[str]], list["Field"]]
_E = TypeVar("_E", bound=Event)

# Extractors for event types whose fields need taking apart (an HTTP request's URI, headers and
# body), by event class.  Every other event type declares its few fields itself
# (``Event.detection_fields``: a DNS question, a server name, a device name), so a new protocol
# needs no entry here unless its values hide inside structures.
EXTRACTORS: dict[type[Event], Extractor] = {}


def extractor(event_type: type[_E]) -> Callable[[Callable[[_E, frozenset[str]], list[Field]]], Callable[[_E, frozenset[str]], list[Field]]]:
    """Register the function that takes ``event_type`` (and its subclasses) apart."""

    def register(function: Callable[[_E, frozenset[str]], list[Field]]) -> Callable[[_E, frozenset[str]], list[Field]]:
        EXTRACTORS[event_type] = function  # type: ignore[assignment]  # called only with event_type
        return function

    return register


def _declared_fields(event: Event, operator_headers: frozenset[str]) -> list[Field]:
    return [Field(location, key, value) for location, key, value in event.detection_fields()]


class FieldExtractor:
    """Takes events apart.  ``operator_headers`` are the lower-case names of headers an
    operator's network injects (they get the location ``header_enrichment``)."""

    def __init__(self, operator_headers: frozenset[str]) -> None:
        self.operator_headers = operator_headers
        self._by_class: dict[type[Event], Extractor] = {}

    def fields(self, event: Event) -> list[Field]:
        cls = type(event)
        found = self._by_class.get(cls)
        if found is None:
            # The registered extractor of the class or its nearest registered base (found once per class).
            found = next((EXTRACTORS[base] for base in cls.__mro__ if base in EXTRACTORS), _declared_fields)
            self._by_class[cls] = found
        return found(event, self.operator_headers)


@extractor(HttpRequest)
def _http_fields(event: HttpRequest, operator_headers: frozenset[str]) -> list[Field]:
    return _HttpFields(operator_headers).extract(event)


@extractor(WebSocketMessage)
def _websocket_fields(event: WebSocketMessage, operator_headers: frozenset[str]) -> list[Field]:
    # A message is read like a request body: JSON, a form, base64, free text.
    return _HttpFields(operator_headers).extract_message(event.payload)


class _HttpFields:
    def __init__(self, operator_headers: frozenset[str]) -> None:
        self.operator_headers = operator_headers
        self.out: list[Field] = []
        self.containers = 0

    def _container(self) -> int:
        self.containers += 1
        return self.containers

    def add(self, location: str, key: str | None, value: str, encoding: str, container: int) -> None:
        if len(self.out) < MAX_FIELDS and value:
            self.out.append(Field(location, key, value, encoding, container))

    def extract(self, event: HttpRequest) -> list[Field]:
        uri = event.uri
        path, _, query = uri.partition("?")
        if path.startswith(("http://", "https://")):  # absolute form (proxies)
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        self._path(path)
        if query:
            self._params(query, "query", "plain")
        content_type = ""  # as sent: the multipart boundary is case-sensitive (RFC 2046 s5.1.1)
        for name, value in event.headers:
            lname = name.lower()
            if lname == "content-type":
                content_type = value
            if lname in self.operator_headers:
                self.add("header_enrichment", name, value, "plain", 0)
            elif lname == "cookie":
                self._cookies(value)
            elif lname == "user-agent":
                self._text("user_agent", name, value, "plain")
            elif lname == "referer":
                # The page's own query string travels on to every third party it embeds.
                _, _, ref_query = value.partition("?")
                if ref_query:
                    self._params(ref_query, "header", "plain")
            elif lname not in _MECHANICAL_HEADERS:
                # SDKs percent-encode what they put in their own headers (X-User-Email: a%40b.org)
                decoded, encoding = _url_decode(value)
                self._value("header", name, decoded, encoding, 0)
        if event.body:
            self._body(event.body, content_type)
        return self.out

    def extract_message(self, payload: bytes) -> list[Field]:
        if payload:
            self._body(payload, "")
        return self.out

    # --------------------------------------------------------------- pieces

    def _path(self, path: str) -> None:
        container = self._container()
        previous: str | None = None
        for segment in path.split("/"):
            if not segment:
                continue
            value, encoding = _url_decode(segment)
            if len(value) >= 6:
                self._value("path", previous, value, encoding, container)
            previous = value if len(value) < 40 else None

    def _params(self, text: str, location: str, encoding: str) -> None:
        container = self._container()
        for pair in text.split("&"):
            if not pair:
                continue
            key, sep, raw = pair.partition("=")
            if not sep:
                continue
            key = unquote(key)
            value, decoded = _url_decode(raw)
            self._value(location, key, value, join_encodings(encoding, decoded), container)

    def _cookies(self, header: str) -> None:
        container = self._container()
        for part in header.split(";"):
            key, sep, raw = part.strip().partition("=")
            if sep and raw:
                value, decoded = _url_decode(raw.strip('"'))
                self._value("cookie", key.strip(), value, decoded, container)

    def _value(self, location: str, key: str | None, value: str, encoding: str, container: int, depth: int = 0) -> None:
        """Add a value, and whatever is wrapped inside it (base64 / JWT / JSON in a string)."""
        self.add(location, key, value, encoding, container)
        if depth >= 3 or len(value) < 16 or len(value) > MAX_JSON_BYTES:
            return
        first = value[0]
        if first in "{[":
            self._json_text(value, location, key, encoding, depth + 1)
            return
        if value.count(".") == 2 and value.startswith("eyJ"):
            payload = _b64(value.split(".")[1])
            if payload is not None:
                self._json_text(payload, location, key, join_encodings(encoding, "jwt"), depth + 1)
            return
        if _B64_CHARS.match(value) and len(value) % 4 != 1:
            decoded = _b64(value)
            if decoded is not None:
                if decoded[:1] in ("{", "["):
                    self._json_text(decoded, location, key, join_encodings(encoding, "base64"), depth + 1)
                elif decoded.isprintable() and len(decoded) >= 6:
                    self._value(location, key, decoded, join_encodings(encoding, "base64"), container, depth + 1)

    def _text(self, location: str, key: str, text: str, encoding: str) -> None:
        """Free text (a User-Agent): the whole value, and its tokens keyed by the word before."""
        container = self._container()
        self.add(location, key, text, encoding, container)
        previous = key
        for token in _TOKENS.findall(text):
            if len(token) >= 8:
                self.add(location, previous, token, encoding, container)
            previous = token

    def _body(self, body: bytes, content_type_as_sent: str) -> None:
        content_type = content_type_as_sent.lower()
        text = body[:MAX_JSON_BYTES].decode("utf-8", "replace")
        stripped = text.lstrip()
        looks_json = "json" in content_type or stripped[:1] in ("{", "[")
        if looks_json and self._json_text(stripped, "body", None, "plain", 0):
            return
        if "multipart/form-data" in content_type:
            self._multipart(body, content_type_as_sent)
            return
        compact = stripped.strip()
        if len(compact) >= 16 and _B64_CHARS.match(compact):
            # A base64 blob as the whole body (SDKs wrap JSON this way): opened by _value.
            self._value("body", None, compact, "plain", self._container())
            return
        if "x-www-form-urlencoded" in content_type or _FORM_LIKE.match(stripped[:200] or " "):
            self._params(stripped.strip(), "body", "plain")
            return
        if content_type.startswith("text/") or not content_type:
            self._text("body", "body", stripped[:MAX_VALUE], "plain")

    def _json_text(self, text: str, location: str, key: str | None, encoding: str, depth: int) -> bool:
        try:
            document = json.loads(text, parse_float=str, parse_int=str)
        except (ValueError, RecursionError):
            return False
        self._walk(document, location, key, encoding, self._container(), depth)
        return True

    def _walk(self, node: object, location: str, path: str | None, encoding: str, container: int, depth: int) -> None:
        if depth > MAX_DEPTH or len(self.out) >= MAX_FIELDS:
            return
        if isinstance(node, dict):
            inner = self._container()
            point = _geojson_point(node)
            for key, value in node.items():
                child = f"{path}.{key}" if path else str(key)
                if point is not None and key == "coordinates":
                    # GeoJSON (RFC 7946 s3.1.1) writes [longitude, latitude]: handed on as "lat,lon"
                    self.add(location, child, point, encoding, inner)
                    continue
                self._walk(value, location, child, encoding, inner, depth + 1)
        elif isinstance(node, list):
            if len(node) == 2 and all(isinstance(v, str) and _NUMBER.match(v) for v in node):
                # [lat, lon] (or GeoJSON [lon, lat]): kept together for the location detector
                self.add(location, path, f"{node[0]},{node[1]}", encoding, container)
            for item in node[:256]:
                self._walk(item, location, path, encoding, container, depth + 1)
        elif isinstance(node, str):
            self._value(location, path, node, encoding, container, 1)
        elif isinstance(node, bool):
            self.add(location, path, "true" if node else "false", encoding, container)

    def _multipart(self, body: bytes, content_type: str) -> None:
        match = re.search(r'boundary="?([^";]+)"?', content_type, re.IGNORECASE)
        if not match:
            return
        boundary = b"--" + match.group(1).encode("latin-1")
        for part in body.split(boundary)[1:]:
            head, sep, content = part.partition(b"\r\n\r\n")
            if not sep:
                continue
            name_match = re.search(rb'name="([^"]*)"', head)
            name = name_match.group(1).decode("utf-8", "replace") if name_match else None
            if b"filename=" in head and b"json" not in head.lower() and b"text" not in head.lower():
                continue  # a file upload (image, archive): not taken apart
            value = content.rstrip(b"\r\n-").decode("utf-8", "replace")
            self._value("body", name, value[:MAX_JSON_BYTES], "plain", self._container())


_B64_CHARS = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")
_FORM_LIKE = re.compile(r"^[\w.%\-\[\]]+=[^\s]*(&[\w.%\-\[\]]+=[^\s]*)*\s*$")
_TOKENS = re.compile(r"[A-Za-z0-9._@:+-]+")
_NUMBER = re.compile(r"^-?\d{1,3}\.\d+$")


def _geojson_point(node: dict[object, object]) -> str | None:
    """A GeoJSON Point's position as "lat,lon" (its coordinates are [lon, lat, (alt)])."""
    if node.get("type") != "Point":
        return None
    coordinates = node.get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) not in (2, 3):
        return None
    lon, lat = coordinates[0], coordinates[1]
    if not (isinstance(lon, str) and isinstance(lat, str) and _NUMBER.match(lon) and _NUMBER.match(lat)):
        return None
    return f"{lat},{lon}"


def _url_decode(raw: str) -> tuple[str, str]:
    """URL-decode once, and a second time when the app encoded twice (``url2``)."""
    if "%" not in raw:
        return raw, "plain"
    once = unquote(raw)
    if "%" in once:
        twice = unquote(once)
        if twice != once:
            return twice, "url2"
    return once, "url" if once != raw else "plain"


def join_encodings(outer: str, inner: str) -> str:
    """The encoding of a value wrapped in another (``url`` around ``base64``: ``url+base64``)."""
    if outer == "plain":
        return inner
    if inner == "plain":
        return outer
    return f"{outer}+{inner}"


def _b64(text: str) -> str | None:
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
    except (binascii.Error, ValueError):
        return None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return decoded
