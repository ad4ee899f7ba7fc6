"""Detection: events in, observations out.

Per event: take it apart into fields (fields.py), then for each field look
for the inventory's known values in all their forms (known.py), and, where
the value is not known, for identifiers by shape and key name (patterns.py),
tracker cookie IDs (cookies.py), operator enrichment headers, and personal
names in device names (names.py); locations are found across the fields of
one object (geo.py).  One identifier value gives one observation per event,
the known match winning over a shape match.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from scanner.detect.code import DetectorContext, Flagger, build_code_detectors, detector_of
from scanner.detect.cookies import CookieIdDetector
from scanner.detect.excerpt import excerpts
from scanner.detect.fields import Field, FieldExtractor
from scanner.detect.fields import join_encodings as _join
from scanner.detect.geo import GeoDetector
from scanner.detect.keys import key_forms
from scanner.detect.known import KnownMatch, KnownValues
from scanner.detect.names import PersonalNames
from scanner.detect.patterns import PatternDetector
from scanner.detect.signatures import IdentifierSignatures
from scanner.knowledge.identifiers import identifier_type
from scanner.knowledge.inventory import Inventory
from scanner.knowledge.psl import registrable_domain
from scanner.model import Event, Flag, HttpRequest, Observation

# Ad-request parameters that say "this user is a child" (Google tag_for_child_directed_treatment /
# tfcd, tfua, OpenRTB regs.coppa, IAB/AppLovin/ironSource coppa flags, Unity/Vungle child-directed).
CHILD_DIRECTED_KEYS = frozenset(
    {"tagforchilddirectedtreatment", "tfcd", "tfua", "coppa", "regscoppa", "childdirected", "ischilddirected",
     "childdirectedtreatment", "tagforunderageofconsent", "underageofconsent", "agerestricteduser", "isagerestricteduser"}
)
_TRUE = frozenset({"1", "true", "yes", "on"})

# The User-Agent says which platform made a request; an advertising ID from Android is a GAID and
# from iOS an IDFA, whatever case the SDK wrote it in (the case is only a hint when no UA tells).
_ANDROID_MARKS = ("android", "okhttp")
_IOS_MARKS = ("iphone", "ipad", "ios", "cfnetwork", "darwin")


def platform_of(event: Event) -> str | None:
    if not isinstance(event, HttpRequest) or not event.user_agent:
        return None
    agent = event.user_agent.lower()
    if "dalvik" in agent:  # Android's own HTTP stack: nothing else writes it
        return "android"
    # Apple's device and stack names beat an SDK's product name ("FBAndroidSDK ... CFNetwork").
    if any(mark in agent for mark in _IOS_MARKS):
        return "ios"
    if any(mark in agent for mark in _ANDROID_MARKS):
        return "android"
    return None


@dataclass(frozen=True, slots=True)
class Detection:
    """What one event revealed: its identifiers, and for an HTTP request whether it said the user
    is a child (True), did not (False), or could not tell (None: not HTTP)."""

    observations: list[Observation]
    child_directed: bool | None = None
    fields: tuple[Field, ...] = ()  # what the event was taken apart into, for later stages (behaviour.py)


_PERSONAL_NAME = frozenset({Flag.PERSONAL_NAME})
_VENDOR_FORMAT = frozenset({Flag.VENDOR_FORMAT})

# Observations below this confidence are not reported (shape-only guesses).
MIN_CONFIDENCE = 0.5
_NO_PATTERNS = frozenset({"dns", "sni"})  # names on the wire: only known values are looked for


class Detector:
    def __init__(self, signatures: IdentifierSignatures, inventory: Inventory | None = None) -> None:
        self.signatures = signatures
        self.extractor = FieldExtractor(frozenset(signatures.operator_headers))
        self.patterns = PatternDetector(signatures)
        self.known = KnownValues(inventory) if inventory is not None else None
        if self.known is not None and not self.known:
            self.known = None
        # The types whose detection needs code, as their modules declared them (detect/code.py).
        code = build_code_detectors(DetectorContext(signatures, inventory))
        self.geo = detector_of(code, "geo", GeoDetector)
        self.cookies = detector_of(code, "cookie_id", CookieIdDetector)
        self.names = detector_of(code, "device_name", PersonalNames)
        self.flaggers: dict[str, Flagger] = {t: d for t, d in code.items() if isinstance(d, Flagger)}

    def observe(self, event: Event) -> Detection:
        fields = self.extractor.fields(event)
        if not fields:
            return Detection([], False if isinstance(event, HttpRequest) else None)
        found: dict[tuple[str, str], tuple[Observation, Field]] = {}
        domain = None
        if isinstance(event, HttpRequest) and event.host:
            domain = registrable_domain(event.host)
        known = self.known
        child_directed: bool | None = False if isinstance(event, HttpRequest) else None
        platform = platform_of(event)
        for field in fields:
            operator_value = None
            if field.location == "header_enrichment":
                operator_value = self._operator_value(field)
                if operator_value is None:
                    # Named like an enrichment header but not what a network injects (a digest,
                    # base64): the app sent it, as an ordinary header.
                    field = dataclasses.replace(field, location="header")
            if child_directed is False and field.key:
                forms = key_forms(field.key)
                if forms and forms[0] in CHILD_DIRECTED_KEYS:
                    child_directed = field.value.strip().lower() in _TRUE
            if known is not None:
                matches = known.find(field.value)
                if matches:
                    # The inventory says what this value is: no guessing by shape on top of it.
                    for match in matches:
                        self._add(found, self._known_observation(match, field, event), field)
                    continue
            location = field.location
            if location in _NO_PATTERNS:
                continue
            if location == "header_enrichment":
                assert operator_value is not None  # only enrichment-shaped values keep this location
                observation = _observation(operator_value[0], operator_value[1], field, 0.95, event)
                self._add(found, dataclasses.replace(observation, flags=observation.flags | {Flag.OPERATOR_INJECTED}), field)
                continue
            if location == "name":
                self._device_name(found, field, event)
                continue
            if location == "cookie":
                tracker_id = self.cookies.cookie(field.key or "", field.value, domain)
            elif field.key:
                tracker_id = self.cookies.parameter(field.key, field.value, domain)
            else:
                tracker_id = None
            if tracker_id is not None:
                flags = _VENDOR_FORMAT if tracker_id.at_vendor else frozenset()
                self._add(found, _observation(tracker_id.id_type, tracker_id.value, field, 0.9, event, flags=flags), field)
                continue
            candidate = self.patterns.best(field.key, field.value)
            if candidate is not None and location == "path" and not candidate.key_matched and field.value.isdigit():
                # A number in a URL path names an object (/v17.0/<Facebook app id>/activities): only
                # the segment before it (/imei/<digits>) makes it a device's identifier.
                candidate = None
            if candidate is not None and platform is not None and candidate.id_type in ("gaid", "idfa"):
                id_type = "gaid" if platform == "android" else "idfa"
                if candidate.hashed:  # a digest is a digest: its hex stays as written (lower case)
                    value = candidate.value
                else:
                    value = candidate.value.lower() if id_type == "gaid" else candidate.value.upper()
                candidate = dataclasses.replace(candidate, id_type=id_type, value=value)
            if candidate is not None and candidate.id_type == "device_name" and self.names.find(candidate.value) is None:
                # A device name in a request tells something when a person named it ("Emma's iPad");
                # "androidmobile" or "SM-G960F" is the device class or model every user has.
                candidate = None
            if candidate is not None:
                if candidate.confidence >= MIN_CONFIDENCE:
                    encoding = _hash_encoding(candidate.value) if candidate.hashed else field.encoding
                    flags = identifier_type(candidate.id_type).flags(candidate.value)
                    self._add(found, _observation(candidate.id_type, candidate.value, field, candidate.confidence, event, encoding, flags), field)
            elif (
                len(field.value) > 12
                and ("@" in field.value or "+" in field.value)
                and not any(form in self.signatures.negative_keys for form in key_forms(field.key))
            ):
                # Free text under a version, time or hash key ("22.4.25-21 [0] [PR] 337959405") holds
                # build numbers, not phone numbers.
                for inner in self.patterns.in_text(field.value):
                    self._add(found, _observation(inner.id_type, inner.value, field, inner.confidence, event), field)
        for hit in self.geo.detect(fields):
            observation = Observation(
                id_type="geo",
                value=hit.value,
                encoding=_join(hit.field.encoding, f"decimal_{hit.decimals}"),
                key=hit.key,
                location=hit.field.location,
                confidence=hit.confidence,
                source="known" if hit.owner else "pattern",
                owner=hit.owner,
                event=event,
            )
            self._add(found, observation, hit.field)
        return Detection(_with_excerpts(event, list(found.values())), child_directed, tuple(fields))

    # ------------------------------------------------------------------ pieces

    @staticmethod
    def _add(found: dict[tuple[str, str], tuple[Observation, Field]], observation: Observation, field: Field) -> None:
        key = (observation.id_type, observation.value)
        old = found.get(key)
        if old is None:
            found[key] = (observation, field)
            return
        winner, loser = (
            ((observation, field), old[0])
            if (observation.source == "known", observation.confidence) > (old[0].source == "known", old[0].confidence)
            else (old, observation)
        )
        # One value, one observation (with the field that carried the winner, for its excerpt); but
        # every key that carried it is kept (a finding names them).
        kept, kept_field = winner
        keys = tuple(k for k in dict.fromkeys((*kept.also_keys, loser.key, *loser.also_keys)) if k and k != kept.key)
        found[key] = (dataclasses.replace(kept, also_keys=keys) if keys != kept.also_keys else kept, kept_field)

    def _known_observation(self, match: KnownMatch, field: Field, event: Event) -> Observation:
        form = match.form
        encoding = form.encoding
        if encoding in ("plain", "nodash") and match.text.lower() != match.text.upper():
            # As sent, when its case is not the normalised one: an upper-cased GAID or e-mail, a
            # lower-cased IDFA.  A serial listed in upper case and sent so is plain.
            canonical = form.value if encoding == "plain" else form.value.replace("-", "").replace(":", "")
            if match.text != canonical:
                if match.text == match.text.upper():
                    encoding = "upper" if encoding == "plain" else "upper_nodash"
                elif match.text == match.text.lower():
                    encoding = "lower" if encoding == "plain" else "lower_nodash"
        flags = set(identifier_type(form.id_type).flags(form.value))
        # What a type's code detector sees in a known value (a first name in a listed device name).
        flagger = self.flaggers.get(form.id_type)
        if flagger is not None:
            flags |= flagger.flags(form.value)
        if field.location == "header_enrichment":
            flags.add(Flag.OPERATOR_INJECTED)
        return Observation(
            id_type=form.id_type,
            value=form.value,
            encoding=_join(field.encoding, encoding),
            key=field.key,
            location=field.location,
            confidence=1.0,
            source="known",
            owner=form.owner,
            flags=frozenset(flags),
            event=event,
        )

    def _operator_value(self, field: Field) -> tuple[str, str] | None:
        """(type, normalised value) of an enrichment header, if its value is one a network injects."""
        id_type = self.signatures.operator_headers.get((field.key or "").lower())
        if id_type is None:
            return None
        value = identifier_type(id_type).operator_value(field.value)
        return (id_type, value) if value is not None else None

    def _device_name(self, found: dict[tuple[str, str], tuple[Observation, Field]], field: Field, event: Event) -> None:
        name = field.value.strip()
        if name.endswith(".local"):
            name = name[: -len(".local")]
        person = self.names.find(name)
        if person is None:
            return
        self._add(found, _observation("device_name", name, field, 0.8, event, flags=_PERSONAL_NAME), field)


def _observation(
    id_type: str,
    value: str,
    field: Field,
    confidence: float,
    event: Event,
    encoding: str | None = None,
    flags: frozenset[Flag] = frozenset(),
) -> Observation:
    return Observation(
        id_type=id_type,
        value=value,
        encoding=encoding or field.encoding,
        key=field.key,
        location=field.location,
        confidence=confidence,
        source="pattern",
        flags=flags,
        event=event,
    )


def _with_excerpts(event: Event, found: list[tuple[Observation, Field]]) -> list[Observation]:
    """The observations, each with its redacted request excerpt (HTTP requests only: excerpt.py)."""
    if not isinstance(event, HttpRequest):
        return [observation for observation, _ in found]
    return [
        dataclasses.replace(observation, excerpt=text) if text is not None else observation
        for (observation, _), text in zip(found, excerpts(event, found), strict=True)
    ]


def _hash_encoding(digest: str) -> str:
    return {32: "md5", 40: "sha1", 64: "sha256"}.get(len(digest), "hash")
