"""A short, redacted excerpt of the HTTP request around an identifier, for the report's evidence.

Why at detection time: only here are the request's text and the field the
identifier came from at hand; a report holds findings, not requests.  The
excerpt is redacted before it leaves this module, so nothing downstream (the
aggregator, the JSON report, the HTML) ever holds more than it may show:

- the matched value is replaced by its preview (``scanner.privacy.preview``,
  the same masked form the report's ``identifier.value`` shows);
- every other identifier found in the same request is replaced by its own
  preview, whichever wire form it took (as found, upper or lower case,
  percent-encoded once or twice, ``+`` for spaces);
- what could still be an identifier nobody recognised is masked as ``***``:
  opaque tokens of 16 characters or more (tokens, hashes, base64), runs of 7
  digits or more (phone numbers, IMEIs), e-mail addresses, and decimal
  numbers with 3 decimals or more (coordinates to ~100 m);
- a last check: if any value found in the request still occurs in the
  excerpt, in any case, there is no excerpt (``None``) rather than a leak.

The excerpt is the request line, headers and body as text (``Name: value``
lines, a blank line, the body), cut to ``EXCERPT_CHARS`` characters around the
match, ``…`` marking what was cut.  Only HTTP requests get one: a DNS name, a
TLS server name or a DHCP host name is the whole message already.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from urllib.parse import quote, quote_plus

from scanner.detect.fields import Field
from scanner.model import Event, HttpRequest, Observation
from scanner.privacy import preview

EXCERPT_CHARS = 200  # per evidence item: ten items per finding stay a few kilobytes
MAX_REQUEST_TEXT = 16 * 1024  # the request's text is looked at up to here
MASK = "***"
MAX_HIDDEN = 512  # longer field values are containers (a body, a User-Agent), not values to hide

# What could be an identifier nobody recognised (see the module docstring).
_OPAQUE = re.compile(
    r"[^\s@=&;:,\"'<>()\[\]{}]+@[^\s@=&;:,\"'<>()\[\]{}]+\.[A-Za-z]{2,}"  # e-mail addresses
    r"|-?\d{1,3}\.\d{3,}"  # coordinates and other precise decimals
    r"|[A-Za-z0-9+/_%-]*\d[A-Za-z0-9+/_%-]*"  # tokens with a digit, judged by _mask ("=" apart: key=value)
)
_DECIMAL = re.compile(r"-?\d{1,3}\.\d{3,}")
_SENTINEL = "\x00{}\x00"
_STARS = re.compile(r"\*{33,}")


def _mask(match: re.Match[str]) -> str:
    """``***`` for what may identify someone: an e-mail address, a precise decimal, a run of 7
    digits or more (phone numbers, IMEI/IMSI), a token of 16 characters or more with a digit in it
    (hashes, base64, UUIDs).  Words and host labels ("google-analytics") have no digit: kept."""
    token = match.group()
    if "@" in token or _DECIMAL.fullmatch(token):
        return MASK
    if token.isdigit():
        return MASK if len(token) >= 7 else token
    return MASK if len(token) >= 16 else token


def request_text(event: HttpRequest) -> str:
    """The request as text: request line, ``Name: value`` header lines, a blank line, the body."""
    lines = [f"{event.method} {event.uri} {event.version}"]
    lines.extend(f"{name}: {value}" for name, value in event.headers)
    text = "\n".join(lines)
    if event.body:
        text += "\n\n" + event.body[:MAX_REQUEST_TEXT].decode("utf-8", "replace")
    return text[:MAX_REQUEST_TEXT]


@lru_cache(maxsize=4096)
def wire_forms(value: str) -> tuple[str, ...]:
    """The forms a value takes in a request, longest first (so a longer form is replaced whole).

    Cached: the same identifiers recur request after request.  Values longer than
    ``MAX_HIDDEN`` (a whole body or User-Agent taken as one field) have none: they are not
    an identifier themselves, and never fit in an excerpt whole."""
    if not value or len(value) > MAX_HIDDEN:
        return ()
    forms = {value, value.lower(), value.upper(), quote(value, safe=""), quote(value), quote_plus(value)}
    forms.add(quote(quote(value, safe=""), safe=""))
    return tuple(sorted((f for f in forms if f), key=lambda f: (-len(f), f)))


def _find(text: str, lowered: str, candidates: Iterable[str]) -> tuple[int, int] | None:
    for candidate in candidates:
        at = text.find(candidate)
        if at < 0:
            at = lowered.find(candidate.lower())
        if at >= 0:
            return at, at + len(candidate)
    return None


def _key_forms(key: str | None) -> list[str]:
    if not key:
        return []
    last = key.rsplit(".", 1)[-1]  # a JSON path ("device.ids.adid") ends in the key as written
    return [f"{last}=", f'"{last}"', f"{last}:", last]


class RequestExcerpts:
    """The excerpts of one request's observations.  What is the same for all of them (the request's
    text, every value to hide and the one regular expression that finds them) is made once."""

    def __init__(self, event: HttpRequest, found: Sequence[tuple[Observation, Field]]) -> None:
        self.text = request_text(event)
        self.lowered = self.text.lower()
        # every wire form of every value found in the request -> the preview shown instead
        self.secrets: dict[str, str] = {}
        self.raw: list[str] = []
        for observation, field in found:
            shown = preview(observation.id_type, observation.value)
            for raw in (observation.value, field.value):
                if 4 <= len(raw) <= MAX_HIDDEN:
                    self.raw.append(raw.lower())
                for form in wire_forms(raw):
                    if len(form) >= 4:
                        self.secrets.setdefault(form.lower(), shown)
        forms = sorted(self.secrets, key=lambda f: (-len(f), f))  # longest first: a longer form whole
        self.pattern = re.compile("|".join(re.escape(f) for f in forms), re.IGNORECASE) if forms else None

    def excerpt(self, target: Observation, field: Field) -> str | None:
        """The redacted excerpt for ``target`` (found in ``field``), or None when no safe one can be made."""
        text, lowered = self.text, self.lowered
        span = _find(text, lowered, (*wire_forms(target.value), *wire_forms(field.value)))
        anchor = span or _find(text, lowered, _key_forms(field.key))
        if anchor is None:
            return None
        # EXCERPT_CHARS of context around the anchor, half on each side where the text allows; the
        # value itself (span) is replaced whole by its preview, so a long value does not widen it.
        half = EXCERPT_CHARS // 2
        room_after = len(text) - anchor[1]
        start = max(0, anchor[0] - half - max(0, half - room_after))  # what one side lacks, the other gets
        end = min(len(text), anchor[1] + half + max(0, half - anchor[0]))
        if span is None:
            centre = (anchor[0] + anchor[1]) // 2
            start = max(0, min(start, centre - half))
            end = min(len(text), start + EXCERPT_CHARS)
            start = max(0, end - EXCERPT_CHARS)

        # Values become sentinels first, so the generic masks below cannot eat their previews.
        previews: list[str] = []

        def hide(shown: str) -> str:
            previews.append(_STARS.sub("*" * 32, shown))  # a long value's mask, bounded
            return _SENTINEL.format(len(previews) - 1)

        def redact(piece: str) -> str:
            if self.pattern is None:
                return piece
            return self.pattern.sub(lambda m: hide(self.secrets.get(m.group().lower(), MASK)), piece)

        if span is not None:
            window = redact(text[start : span[0]]) + hide(preview(target.id_type, target.value)) + redact(text[span[1] : end])
        else:
            window = redact(text[start:end])
        window = _OPAQUE.sub(_mask, window)
        for index, shown in enumerate(previews):
            window = window.replace(_SENTINEL.format(index), shown)
        window = window.replace("\x00", "")
        result = ("…" if start > 0 else "") + window + ("…" if end < len(text) else "")

        lowered_result = result.lower()
        if any(raw in lowered_result for raw in self.raw):
            return None  # a value survived the masking: better no excerpt than a leak
        return result


def excerpts(event: Event, found: Sequence[tuple[Observation, Field]]) -> list[str | None]:
    """The excerpt of each observation of ``event`` (``found``: every observation with its field),
    in order; all None when the event is not an HTTP request."""
    if not isinstance(event, HttpRequest) or not found:
        return [None] * len(found)
    request = RequestExcerpts(event, found)
    return [request.excerpt(observation, field) for observation, field in found]
