"""Tracker and app requests assembled from leaks, decoys and filler, one `Draft` at a time.

A draft collects what goes where (query, headers, cookies, User-Agent, a JSON / form / base64 body)
and becomes an `http.Request`. `place` puts a `Leak` into the draft at its location, the way the
SDK behind that host would: a latitude comes with its longitude, a JSON path makes nested objects,
a base64_json value goes into a JSON document that is base64-encoded into a query parameter, a
form field or the whole body.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .http import Request, Tagged, Text, Value, base64_blob, cookie_value, json_text, pairs, url_value
from .people import Device
from .truth import Decoy, Leak

# host -> (path, app or SDK name shown in User-Agent strings)
ENDPOINTS: dict[str, tuple[str, str]] = {
    "googleads.g.doubleclick.net": ("/mads/gma", "afma-sdk-a-v231516999.231516999.0"),
    "pagead2.googlesyndication.com": ("/pagead/adview", "afma-sdk"),
    "app-measurement.com": ("/a", "FirebaseAnalytics/21.6.1"),
    "www.google-analytics.com": ("/g/collect", "GA4"),
    "graph.facebook.com": ("/v18.0/1528394763021145/activities", "FBAndroidSDK.16.3.0"),
    "www.facebook.com": ("/tr/", "FBPixel"),
    "t.appsflyer.com": ("/api/v6.5/androidevent", "AppsFlyer/6.13.0"),
    "app.adjust.com": ("/session", "adjust-android4.38.2"),
    "api2.branch.io": ("/v1/install", "Branch/5.9.0"),
    "api.mixpanel.com": ("/track", "Mixpanel/7.4.1"),
    "api.amplitude.com": ("/2/httpapi", "amplitude-android/1.16.8"),
    "ads.tiktok.com": ("/open_api/v1.3/app/track/", "TikTokBusinessSDK/1.3.1"),
    "ib.adnxs.com": ("/ut/v3", "AppNexusSDK/8.10"),
    "sdk.iad-01.braze.com": ("/api/v3/data", "Braze/30.1.1"),
    "api.onesignal.com": ("/apps/5eb5a37e-b458-11e3-ac11-000c2940e62c/users", "OneSignal/5.1.6"),
    "api.segment.io": ("/v1/batch", "analytics-android/4.11.3"),
    "api.kinderspiele-welt.de": ("/v2/profile", "KinderspieleWelt/3.4.0"),
    "www.kinderspiele-welt.de": ("/konto/anmelden", "KinderspieleWelt/3.4.0"),
    "api.duolingo.com": ("/2017-06-30/users", "Duodroid/5.142.3"),
    "apis.roblox.com": ("/account-information/v1/metadata", "Roblox/Android 2.617.655"),
}

# names apps give each identifier, per location family
PARAM_NAMES: dict[str, tuple[str, ...]] = {
    "imei": ("imei", "device_imei", "hwid"),
    "imsi": ("imsi", "sub_id"),
    "msisdn": ("msisdn", "phone", "phone_number"),
    "wifi_mac": ("mac", "wifi_mac", "mac_address"),
    "email": ("email", "em", "user_email"),
    "gaid": ("gaid", "adid", "advertising_id", "rdid"),
    "idfa": ("idfa", "advertising_id", "ifa"),
    "android_id": ("android_id", "aid", "device_id"),
    "uidh": ("uidh",),
    "cookie_id": ("_ga",),
}
HEADER_NAMES: dict[str, tuple[str, ...]] = {
    "imei": ("X-IMEI", "X-Device-IMEI"),
    "imsi": ("X-IMSI",),
    "msisdn": ("X-Phone", "X-User-Phone"),
    "wifi_mac": ("X-Mac", "X-Wifi-Mac"),
    "email": ("X-User-Email",),
    "gaid": ("X-Adid", "X-Advertising-Id"),
    "idfa": ("X-Adid", "X-IDFA"),
    "android_id": ("X-Device-Id", "X-Android-Id"),
    "location": ("X-Geo", "X-Location"),
}
JSON_PARENTS = ("user.ids", "device", "context.device", "payload.user")


@dataclass
class Draft:
    """A request being assembled."""

    host: str
    device: Device
    path: str = ""
    query: list[tuple[str, Value]] = field(default_factory=list)
    headers: list[tuple[str, Value]] = field(default_factory=list)
    cookies: list[tuple[str, Value]] = field(default_factory=list)
    user_agent: Value | None = None
    body_kind: str = "none"                    # none | json | form | blob
    json: dict[str, object] = field(default_factory=dict)
    form: list[tuple[str, Value]] = field(default_factory=list)
    inner: dict[str, object] = field(default_factory=dict)   # the JSON that gets base64-encoded
    blob_in: str = "query"                     # query | form | body: where the base64 JSON goes
    blob_param: str = "data"
    gzip_body: bool = False
    chunked: bool = False
    chunk_inside: str | None = None

    def __post_init__(self) -> None:
        if not self.path:
            self.path = ENDPOINTS[self.host][0]
        if self.body_kind == "none" and (self.json or self.form):
            self.body_kind = "json" if self.json else "form"

    def set_json(self, doc: dict[str, object], path: str, value: object) -> None:
        node = doc
        *parents, last = path.split(".")
        for p in parents:
            child = node.setdefault(p, {})
            assert isinstance(child, dict)
            node = child
        node[last] = value

    def build(self) -> Request:
        query = list(self.query)
        form = list(self.form)
        body: Text | None = None
        content_type = None
        if self.inner:
            blob, keys = base64_blob(json_text(self.inner))
            if self.blob_in == "query":
                query.append((self.blob_param, Tagged(url_value(blob), keys)))
            elif self.blob_in == "form":
                form.append((self.blob_param, Tagged(url_value(blob), keys)))
            else:
                body = Text().add(blob, keys)
                content_type = "text/plain; charset=utf-8"
        if self.body_kind == "json":
            body = json_text(self.json)
            content_type = "application/json; charset=utf-8"
        elif self.body_kind == "form" or form:
            body = pairs(form, "&")
            content_type = "application/x-www-form-urlencoded"
        ua = self.user_agent if self.user_agent is not None else self.device.user_agent(ENDPOINTS[self.host][1])
        headers: list[tuple[str, Value]] = [*self.headers, ("User-Agent", ua), ("Accept", "*/*"),
                                             ("Accept-Language", "de-DE,de;q=0.9"), ("Accept-Encoding", "gzip")]
        return Request("POST" if body is not None else "GET", self.host, self.path, query or None, headers,
                       self.cookies or None, body, content_type, self.gzip_body, self.chunked, self.chunk_inside)


def _lat_lon(device: Device, leak: Leak) -> tuple[str, str]:
    digits = len(leak.encoded_value.split(".")[1])
    return leak.encoded_value, f"{device.lon:.{digits}f}"


def place(draft: Draft, leak: Leak) -> None:
    """Put a leak into the draft at its location (param_name and json_path are already chosen)."""
    d, loc, keys = draft.device, leak.location, (leak.key,)
    if leak.id_type == "location":
        lat, lon = _lat_lon(d, leak)
        if loc in ("json", "base64_json"):
            doc = draft.json if loc == "json" else draft.inner
            if loc == "json":
                draft.body_kind = "json"
            path = leak.json_path or "geo"
            if leak.transform.endswith("+json_array"):
                draft.set_json(doc, path, [Tagged(lat, keys, number=True), Tagged(lon, number=True)])
            else:
                draft.set_json(doc, path + ".lat", Tagged(lat, keys, number=True))
                draft.set_json(doc, path + ".lon", Tagged(lon, number=True))
        elif loc in ("query", "form"):
            items = draft.query if loc == "query" else draft.form
            if loc == "form":
                draft.body_kind = "form"
            items += [("lat", Tagged(lat, keys)), ("lon", lon)]
        elif loc == "cookie":
            draft.cookies.append((leak.param_name, Text().add(lat, keys).add(cookie_value(",") + lon)))
        elif loc == "header":
            draft.headers.append((leak.param_name, Text().add(lat, keys).add("," + lon)))
        else:
            raise ValueError(f"no location leak in {loc}")
        return
    if loc == "query":
        draft.query.append((leak.param_name, Tagged(leak.wire, keys)))
    elif loc == "form":
        draft.body_kind = "form"
        draft.form.append((leak.param_name, Tagged(leak.wire, keys)))
    elif loc == "cookie":
        draft.cookies.append((leak.param_name, Tagged(leak.wire, keys)))
    elif loc in ("header", "header_enrichment"):
        draft.headers.append((leak.param_name, Tagged(leak.wire, keys)))
    elif loc == "user_agent":
        sdk = ENDPOINTS[draft.host][1]
        if d.platform == "android":
            head = f"{sdk} (Linux; U; Android {d.os_version}; {d.model} Build/{d.build}; {leak.param_name}="
        else:
            head = f"{sdk} ({d.model}; iOS {d.os_version}; {leak.param_name}="
        draft.user_agent = Text().add(head).add(leak.wire, keys).add(")")
    elif loc == "json":
        draft.body_kind = "json"
        assert leak.json_path
        draft.set_json(draft.json, leak.json_path, Tagged(leak.wire, keys))
    elif loc == "base64_json":
        assert leak.json_path
        draft.set_json(draft.inner, leak.json_path, Tagged(leak.wire, keys))
    else:
        raise ValueError(loc)


def place_decoy(draft: Draft, decoy: Decoy) -> None:
    tag = Tagged(decoy.value, (decoy.key,), number=decoy.kind != "random_uuid")
    if decoy.location == "query":
        draft.query.append((decoy.param_name, Tagged(decoy.value, (decoy.key,))))
    elif decoy.location == "form":
        draft.body_kind = "form"
        draft.form.append((decoy.param_name, Tagged(decoy.value, (decoy.key,))))
    elif decoy.location == "json":
        draft.body_kind = "json"
        draft.set_json(draft.json, f"meta.{decoy.param_name}", tag)
    else:
        raise ValueError(decoy.location)


def filler(draft: Draft, rng: random.Random) -> None:
    """Ordinary parameters that carry no identifier (app version, event name, screen size...)."""
    app = rng.choice(("com.kinderspiele.puzzle", "com.mathehelden.app", "de.lernfuchs.lesen", "com.tierquiz.kids"))
    event = rng.choice(("session_start", "level_up", "screen_view", "ad_impression", "first_open", "purchase_intent"))
    if draft.body_kind == "json":
        draft.json.setdefault("app", {"id": app, "version": f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"})
        draft.json.setdefault("event", event)
        draft.json.setdefault("screen", {"w": rng.choice((1080, 1200, 1170, 2048)), "h": rng.choice((2340, 1920, 2532, 2732))})
    elif draft.body_kind == "form":
        draft.form[:0] = [("app_id", app), ("event", event), ("sdk_version", f"{rng.randint(4, 9)}.{rng.randint(0, 40)}.0")]
    draft.query[:0] = [("v", str(rng.randint(1, 3))), ("app", url_value(app))]
    if draft.inner:
        draft.inner.setdefault("event", event)
        draft.inner.setdefault("properties", {"app": app, "lib": "android" if draft.device.platform == "android" else "iphone"})
