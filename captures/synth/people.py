"""Synthetic test devices and subscribers, and the transforms apps apply to identifiers.

Every value is made up but valid in form, so detectors that check structure accept it:
IMEIs pass Luhn and start with a plausible type allocation code (35.. GSMA/BABT-issued, 86.. China); IMSIs carry a real
MCC/MNC (Germany: 262-01 Telekom, 262-07 Telefonica); MSISDNs are in the
ranges the Bundesnetzagentur reserves for films and books ("drama numbers": +49 171 39200 00-99,
+49 176 040690 00-99), so they can never reach a person; GAIDs are lower-case UUIDv4, IDFAs
upper-case; Android IDs are 16 lower-case hex digits; MACs carry the OUI of the device's maker;
e-mail addresses are at example.org / example.net (RFC 2606); locations have 6 decimals.
"""

from __future__ import annotations

import base64
import hashlib
import random
from dataclasses import dataclass, field
from urllib.parse import quote

# Type allocation codes (first 8 IMEI digits) that stand for these models here (plausible, not looked up).
ANDROID_MODELS = (
    # model, maker, build, Android version, TAC
    ("SM-X200", "Samsung", "TP1A.220624.014", "13", "35283411"),     # Galaxy Tab A8
    ("SM-A546B", "Samsung", "UP1A.231005.007", "14", "35116674"),
    ("Pixel 6a", "Google", "UQ1A.240205.002", "14", "35294217"),
    ("Pixel 7", "Google", "AP1A.240305.019", "14", "35751015"),
    ("M2101K6G", "Xiaomi", "RKQ1.200826.002", "12", "86769705"),
    ("CPH2343", "OPPO", "TP1A.220905.001", "13", "86123406"),
)
IOS_MODELS = (
    # model, kind, iOS version, TAC
    ("iPad12,1", "iPad", "17.4.1", "35489011"),
    ("iPhone14,7", "iPhone", "17.4.1", "35325511"),
    ("iPhone12,8", "iPhone", "16.7.7", "35669611"),
    ("iPad13,18", "iPad", "17.3", "35896511"),
)
OUIS = {"Samsung": ("8c:79:f5", "a0:cb:fd", "f0:5b:7b"), "Google": ("3c:28:6d", "f4:f5:e8"),
        "Xiaomi": ("64:b4:73", "28:6c:07"), "OPPO": ("a4:3d:78",), "Apple": ("3c:22:fb", "f0:18:98", "a4:83:e7")}
# MCC 262 (Germany) with the MNC whose number range the MSISDN block belongs to
DRAMA_MSISDN_BLOCKS = (("+4917139200", 2, "01"), ("+49176040690", 2, "07"))
EMAIL_DOMAINS = ("example.org", "example.net")
CITIES = ((52.520008, 13.404954), (53.551086, 9.993682), (48.137154, 11.576124), (50.937531, 6.960279),
          (50.110924, 8.682127))


def luhn_check_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


def uuid4(rng: random.Random) -> str:
    b = bytearray(rng.randbytes(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def luhn_failing_15(rng: random.Random) -> str:
    """A 15-digit number that looks like an IMEI but fails Luhn (a decoy)."""
    body = f"{rng.randrange(10**13, 10**14):014d}"
    good = int(luhn_check_digit(body))
    return body + str((good + rng.randrange(1, 10)) % 10)


@dataclass
class Device:
    """A test device (or a subscriber's phone) and everything that identifies it."""

    id: str
    first_name: str
    minor: bool
    age: int | None
    platform: str              # android | ios
    model: str
    maker: str
    os_version: str
    build: str
    device_name: str
    imei: str
    imeisv: str
    imsi: str
    msisdn: str
    mac: str
    email: str
    lat: float
    lon: float
    gaid: str | None = None
    android_id: str | None = None
    idfa: str | None = None
    uidh: str | None = None    # an operator's header-enrichment token, when the operator adds one
    # the headers the operator's proxy adds to plain HTTP: (identifier type, transform, header name)
    enrichment: tuple[tuple[str, str, str], ...] = ()
    ip: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict)  # more identifiers a scene gives it (cookie_id)
    other_names: list[str] = field(default_factory=list)      # host names it announces besides device_name

    @property
    def ad_id(self) -> str:
        return self.gaid or self.idfa or ""

    def user_agent(self, app: str = "okhttp/4.12.0") -> str:
        if self.platform == "android":
            return f"Dalvik/2.1.0 (Linux; U; Android {self.os_version}; {self.model} Build/{self.build})"
        return f"{app} CFNetwork/1494.0.7 Darwin/23.4.0"

    def browser_user_agent(self) -> str:
        if self.platform == "android":
            return (f"Mozilla/5.0 (Linux; Android {self.os_version}; {self.model}) AppleWebKit/537.36 "
                    "(KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36")
        kind = "iPad" if self.model.startswith("iPad") else "iPhone"
        v = self.os_version.replace(".", "_")
        return (f"Mozilla/5.0 ({kind}; CPU OS {v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                f"Version/{self.os_version.split('.')[0]}.0 Mobile/15E148 Safari/604.1")


def make_device(rng: random.Random, device_id: str, first_name: str, minor: bool, platform: str,
                msisdn_index: int, model_index: int | None = None, age: int | None = None,
                city: int | None = None, email_local: str | None = None) -> Device:
    """A device whose identifiers all come from `rng` (and `msisdn_index`, which picks a drama number)."""
    if platform == "android":
        models = ANDROID_MODELS
        model, maker, build, os_version, tac = models[model_index if model_index is not None else rng.randrange(len(models))]
        gaid, android_id, idfa = uuid4(rng), rng.randbytes(8).hex(), None
        kind = "Tab" if model.startswith("SM-X") else model
        device_name = f"{first_name}s-{kind.replace(' ', '-')}"
    else:
        m = IOS_MODELS[model_index if model_index is not None else rng.randrange(len(IOS_MODELS))]
        model, kind, os_version, tac = m
        maker, build = "Apple", ""
        gaid, android_id, idfa = None, None, uuid4(rng).upper()
        device_name = f"{first_name}\u2019s {kind}"
    serial = f"{rng.randrange(10**6):06d}"
    imei = tac + serial + luhn_check_digit(tac + serial)
    imeisv = tac + serial + f"{rng.randrange(1, 99):02d}"
    prefix, width, mnc = DRAMA_MSISDN_BLOCKS[msisdn_index % 2]
    msisdn = prefix + f"{msisdn_index // 2 % 100:0{width}d}"
    imsi = "262" + mnc + f"{rng.randrange(10**10):010d}"
    mac = rng.choice(OUIS[maker]) + ":" + ":".join(f"{b:02x}" for b in rng.randbytes(3))
    local = email_local or f"{first_name.lower()}.{rng.choice(('berg', 'wolf', 'koch', 'stein', 'hahn'))}{rng.randrange(1, 99)}"
    lat0, lon0 = CITIES[city if city is not None else rng.randrange(len(CITIES))]
    return Device(
        id=device_id, first_name=first_name, minor=minor, age=age, platform=platform, model=model, maker=maker,
        os_version=os_version, build=build, device_name=device_name, imei=imei, imeisv=imeisv, imsi=imsi,
        msisdn=msisdn, mac=mac, email=f"{local}@{rng.choice(EMAIL_DOMAINS)}",
        lat=round(lat0 + rng.uniform(-0.06, 0.06), 6), lon=round(lon0 + rng.uniform(-0.09, 0.09), 6),
        gaid=gaid, android_id=android_id, idfa=idfa)


# ---------------------------------------------------------------------------------------------
# transforms: what an SDK does to an identifier before it sends it
# ---------------------------------------------------------------------------------------------
HASHES = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256}


def hash_input(id_type: str, value: str) -> str:
    """What SDKs hash: lower-case e-mail, GAID and MAC; upper-case IDFA; the digits of a phone number."""
    if id_type in ("email", "gaid", "wifi_mac", "android_id"):
        return value.lower()
    if id_type == "idfa":
        return value.upper()
    if id_type in ("msisdn", "imei", "imsi"):
        return "".join(ch for ch in value if ch.isdigit())
    return value


def apply_transform(transform: str, id_type: str, value: str) -> tuple[str, str | None]:
    """(transformed text, hash input or None). Locations: `value` is "lat,lon", the result the latitude."""
    if transform.startswith("decimal_"):
        digits = int(transform.split("+")[0].split("_")[1])
        lat = float(value.split(",")[0])
        return f"{lat:.{digits}f}", None
    if transform in HASHES:
        source = hash_input(id_type, value)
        return HASHES[transform](source.encode()).hexdigest(), source
    if transform == "plain":
        return value, None
    if transform == "url2":
        return quote(quote(value, safe=""), safe=""), None
    if transform == "upper":
        return value.upper(), None
    if transform == "nodash":
        return value.replace("-", "").replace(":", ""), None
    if transform == "upper_nodash":
        return value.replace("-", "").replace(":", "").upper(), None
    if transform == "base64":
        return base64.b64encode(value.encode()).decode(), None
    if transform == "e164_noplus":
        return value.lstrip("+"), None
    raise ValueError(f"unknown transform {transform}")


TRANSFORM_DETAILS = {
    "plain": "as-is",
    "url2": "URL-encoded twice (%40 becomes %2540)",
    "upper": "upper-cased",
    "nodash": "separators ('-' or ':') removed",
    "upper_nodash": "separators removed and upper-cased",
    "md5": "hex MD5 of hash_input",
    "sha1": "hex SHA-1 of hash_input",
    "sha256": "hex SHA-256 of hash_input",
    "base64": "standard base64 of the value",
    "e164_noplus": "E.164 digits without the leading '+'",
}


def transform_detail(transform: str) -> str:
    if transform.startswith("decimal_"):
        digits = transform.split("+")[0].split("_")[1]
        shape = "; sent as a JSON array [lat, lon]" if transform.endswith("+json_array") else ""
        return f"home lat,lon rounded to {digits} decimals{shape}; offset is that of the latitude"
    return TRANSFORM_DETAILS[transform]


def truth_identifiers(device: Device) -> dict[str, object]:
    """The `identifiers` block of a device in truth JSON (the shared labelled capture's names)."""
    ids: dict[str, object] = {"imei": device.imei, "imsi": device.imsi, "msisdn": device.msisdn,
                              "wifi_mac": device.mac, "email": device.email}
    if device.gaid:
        ids["gaid"] = device.gaid
        ids["android_id"] = device.android_id
    if device.idfa:
        ids["idfa"] = device.idfa
    if device.uidh:
        ids["uidh"] = device.uidh
    ids["home_lat"] = device.lat
    ids["home_lon"] = device.lon
    return ids


def identifier_value(device: Device, id_type: str) -> str:
    """A device's value for a truth identifier type ('location' is "lat,lon" with 6 decimals)."""
    if id_type == "location":
        return f"{device.lat:.6f},{device.lon:.6f}"
    if id_type == "wifi_mac":
        return device.mac
    if id_type in device.extra:
        return device.extra[id_type][0]
    value = getattr(device, id_type)
    if not isinstance(value, str):
        raise ValueError(f"{device.id} has no {id_type}")
    return value
