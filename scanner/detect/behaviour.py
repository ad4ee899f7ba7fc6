"""Tracker IDs by behaviour: an ID-like value under any key that one subject sends again and again
over time (persistent), or to two organisations (synchronised), is a ``cookie_id`` (in a cookie)
or a ``user_id`` (anywhere else), unless it has an IMEI's or IMSI's structure: then it is that.

Issue 13: the IDs real trackers use are mostly their own, under their own names; no list of names
is ever complete (cookies.py holds the vendor formats we know).  What every tracking ID does is
stay the same: the tracker needs to recognise the browser or app next time.  What a nonce, cache
buster, CSRF token or request ID does is change, or live for one exchange.  So a value becomes an
ID here only by what it does across events, never by its shape alone:

- *ID-like*: 8 to 64 characters of a token alphabet; a UUID, 16+ hex digits, 9+ decimal digits
  that are no Unix time, or letters and digits mixed with enough entropy (3.2 bits a character)
  to be random.  Versions, host names, URLs and words are not.
- *Not a nonce by name*: keys that name a time, a request, a session, an auction, a signature,
  a publisher's or app's own key or a content item are never looked at (negative_keys.yaml plus
  the list below): a session ID repeats too, and an app key repeats for every user.
- *Not the page's*: parameters of a Referer header belong to the page that embeds the request;
  the browser repeats them to every host the page loads from, which is neither persistence nor
  synchronisation (the caller leaves them out).
- *Persistent*: the same subject sent it in at least ``MIN_EVENTS`` requests spanning at least
  ``MIN_SPAN_S`` seconds (an ad's impression and click in the same second are one exchange).
- *Synchronised*: the same subject sent it to two organisations (the tracker list's owner, or
  the registrable domain of a host no list names): one company's ID handed to another.

Until a value qualifies, its sightings wait (at most ``MAX_PENDING`` each, ``MAX_TOTAL_PENDING``
in all; the caller keeps them light: no request body); when it does, they are all reported, and
later ones at once.  Memory is bounded: at most ``max_values`` values are followed (least recently
seen evicted first, counted in ``evicted``).
"""

from __future__ import annotations

import math
import re
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from scanner.detect.fields import Field
from scanner.detect.keys import key_forms
from scanner.knowledge.validators import imei, imsi, is_timestamp

T = TypeVar("T")

MIN_LENGTH = 8
MAX_LENGTH = 64
MIN_EVENTS = 3
MIN_SPAN_S = 30.0
MAX_PENDING = 4
MAX_ORGS = 4
MAX_VALUES = 100_000
MAX_TOTAL_PENDING = 50_000  # waiting sightings over all values: past it a sighting does not wait
MIN_ENTROPY = 3.2  # bits per character: random base36/base62 tokens are well above, words below

# Where a tracker puts its ID; a path segment names an object, a User-Agent a product.
_LOCATIONS = frozenset({"query", "body", "cookie", "header"})
_TOKEN = re.compile(r"^[A-Za-z0-9._:|+/=-]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX = re.compile(r"^[0-9a-fA-F]{16,}$")
_VERSION = re.compile(r"^v?\d+(?:[._-]\d+){1,4}[a-z]?$")
_HOSTLIKE = re.compile(r"^(?:[a-z0-9-]+\.)+[a-z]{2,}$", re.IGNORECASE)

# Key words (after keys.py's normalisation) that name what is no person's ID, beyond the negative
# keys of negative_keys.yaml: sessions and auth, requests and ad auctions, publishers' and apps'
# own keys, content, rendering.  A key is skipped when its whole name or last word is listed.
STOP_KEYS = frozenset(
    {
        # sessions, authentication, anti-forgery
        "session", "sessionid", "sess", "sessid", "phpsessid", "jsessionid", "aspnetsessionid", "ses", "sessiontoken",
        "csrf", "csrftoken", "xsrf", "xsrftoken", "token", "accesstoken", "authtoken", "auth", "otp", "state", "code",
        "ticket", "servicetoken", "sessionidtime",
        # requests, auctions, impressions, clicks
        "request", "requestid", "req", "bid", "bidid", "auction", "auctionid", "impid", "impression", "impressionid",
        "clickid", "click", "k", "chrid", "opri", "mp", "callback", "jsonp", "correlation", "correlationid", "pageview",
        "pageviewid", "viewid", "eventid", "event", "msgid", "messageid", "seq", "offset",
        # publishers', apps' and SDKs' own keys: the same for every user
        "sign", "sig", "signature", "key", "apikey", "appkey", "appid", "app", "client", "clientid", "tid", "trackingid",
        "site", "siteid", "idsite", "pub", "pubid", "publisher", "publisherid", "account", "accountid", "label", "slot",
        "slotname", "adk", "channel", "unit", "unitid", "placement", "placementid", "campaign", "campaignid",
        "creative", "creativeid", "crid", "cid", "adgroupid", "sec", "se", "sdk", "sdkkey", "secret", "slotnames",
        "prevslotnames", "slotid", "adunit", "zone", "zoneid",
        # content and media
        "vid", "vids", "video", "videoid", "contentid", "itemid", "articleid", "postid", "vkey", "ckey", "cover",
        "image", "img", "file", "filename", "md5filename", "path", "url", "uri", "ref", "referrer", "title", "q",
        "query", "search", "text",
        # rendering, device class, locale
        "format", "output", "lang", "locale", "tz", "timezone", "ua", "useragent", "os", "osv", "model", "brand",
        "resolution", "screen", "color", "charset", "encoding", "etag", "expire", "expires", "ipbits", "ip",
        "device", "machine", "dm", "modelid", "hid", "platform", "carrier", "network",
        # a page's or an experiment's: GA's hit id lives as long as the page, AdSense's eid lists experiments
        "utmhid", "utmn", "utms", "gahid", "eid", "exp", "exps", "experiment", "variant", "ab",
    }
)


def id_like(value: str) -> bool:
    """Whether a value has the shape of a random or sequential identifier (see module docstring)."""
    n = len(value)
    if not MIN_LENGTH <= n <= MAX_LENGTH or not _TOKEN.match(value):
        return False
    if _UUID.match(value):
        return set(value.replace("-", "")) != {"0"}
    if value.isdigit():
        return n >= 9 and not is_timestamp(value) and len(set(value)) > 2
    if _HEX.match(value):
        # A digest (md5/sha1/sha256 length) is of something: of a hardware or advertising ID as
        # often as not, which a name must say; behaviour cannot.
        return n not in (32, 40, 64) and len(set(value.lower())) > 4
    if _VERSION.match(value) or _HOSTLIKE.match(value) or "://" in value or ("/" in value and "." in value):
        return False  # a version, a host, a URL or a path (base64 has "/" but never ".")
    segments = value.split(".")
    if len(segments) >= 3 and not all(part.isdigit() for part in segments if part):
        return False  # a dotted list of flags or words ("w.frv5.ws.ltos.f."), not one token
    letters = sum(c.isalpha() for c in value)
    digits = sum(c.isdigit() for c in value)
    if letters == 0 or digits == 0 or n < 12:
        return False
    return _entropy(value) >= MIN_ENTROPY


def behaviour_type(value: str, location: str) -> str:
    """The type a value that behaves like an ID is: a subscriber's or handset's number keeps its
    own type (a persistent, Luhn-valid 15-digit IMEI or an IMSI with a real MCC under "sub_id" is
    that, not a tracker's user ID); any other is the tracker's, cookie_id in a cookie, user_id
    elsewhere."""
    if value.isdigit() and 14 <= len(value) <= 16:
        if imei(value):
            return "imei"
        if len(value) == 15 and imsi(value):
            return "imsi"
    return "cookie_id" if location == "cookie" else "user_id"


def _entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def stop_key(key: str | None, negative_keys: frozenset[str]) -> bool:
    """Whether the key names something that is never a person's ID (a session, a request, an app)."""
    forms = key_forms(key)
    if not forms:
        return True  # a value without a name: a bare path or body text, nothing to follow
    whole = forms[0]
    last = forms[1] if len(forms) > 1 else whole
    return any(form in STOP_KEYS or form in negative_keys for form in (whole, last))


@dataclass(slots=True)
class _Record(Generic[T]):
    first_ts: float
    last_ts: float
    events: int = 0
    orgs: list[str] = field(default_factory=list)
    confirmed: bool = False
    pending: list[T] = field(default_factory=list)


class BehaviourTracker(Generic[T]):
    """Follows (subject, value) pairs across events; says when a value behaves like an ID.

    ``sighting`` returns what is to be reported now: nothing while the value has not shown
    itself persistent or synchronised, then its waiting sightings and the current one, then
    each new sighting as it comes.  ``T`` is whatever the caller needs to report a sighting.
    """

    def __init__(self, negative_keys: frozenset[str] = frozenset(), max_values: int = MAX_VALUES) -> None:
        if max_values < 1:
            raise ValueError("BehaviourTracker needs room for at least one value")
        self.negative_keys = negative_keys
        self.max_values = max_values
        self.evicted = 0
        self.confirmed_persistent = 0
        self.confirmed_synchronised = 0
        self.pending = 0
        self.not_kept = 0  # sightings that could not wait (MAX_TOTAL_PENDING): reported only if later ones qualify
        self._records: OrderedDict[tuple[str, str], _Record[T]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def candidate(self, item: Field) -> bool:
        """Whether a field's value is worth following."""
        # Cheapest tests first: most fields are short, or in a path or User-Agent.
        return (
            item.location in _LOCATIONS
            and MIN_LENGTH <= len(item.value) <= MAX_LENGTH
            and id_like(item.value)
            and not stop_key(item.key, self.negative_keys)
        )

    def sighting(self, subject: str, value: str, org: str, ts: float, payload: T) -> list[T]:
        key = (subject, value)
        record = self._records.get(key)
        if record is None:
            if len(self._records) >= self.max_values:
                _, old = self._records.popitem(last=False)
                self.pending -= len(old.pending)
                self.evicted += 1
            record = self._records[key] = _Record(ts, ts)
        else:
            self._records.move_to_end(key)
        if record.confirmed:
            return [payload]
        record.first_ts = min(record.first_ts, ts)
        record.last_ts = max(record.last_ts, ts)
        record.events += 1
        if org not in record.orgs and len(record.orgs) < MAX_ORGS:
            record.orgs.append(org)
        synchronised = len(record.orgs) >= 2
        persistent = record.events >= MIN_EVENTS and record.last_ts - record.first_ts >= MIN_SPAN_S
        if synchronised or persistent:
            record.confirmed = True
            if synchronised:
                self.confirmed_synchronised += 1
            else:
                self.confirmed_persistent += 1
            out = [*record.pending, payload]
            self.pending -= len(record.pending)
            record.pending = []
            return out
        if len(record.pending) < MAX_PENDING and self.pending < MAX_TOTAL_PENDING:
            record.pending.append(payload)
            self.pending += 1
        else:
            self.not_kept += 1
        return []
