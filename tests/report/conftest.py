"""A realistic ScanResult for the report tests, and golden-file comparison.

The scan below is what the pipeline would produce for two captures: a child's
tablet and a child's iPad on a test Wi-Fi, a parent's phone, and a core-network
tap where the operator injects a tracking header.  It covers every severity,
an allow-listed finding, a contact finding without an identifier, an
identifier that reaches two organisations, captures with warnings, a key and a
value that try HTML and CSV/formula injection, and unicode ("Emma’s iPad").

Raw identifier values are in ``RAW_VALUES``: unless ``show_values`` is set, no
output may contain any of them (``test_no_raw_values``).

Golden files live in ``tests/report/golden/`` and are compared byte for byte;
refresh them with::

    PRIVSCAN_UPDATE_GOLDEN=1 .venv/bin/pytest tests/report

and review the diff like code.
"""

from __future__ import annotations

import difflib
import hashlib
import hmac
import os
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import pytest

from scanner.model import Channel, Destination, Evidence, Finding, FlowTuple, IdentifierRef, RuleMatch, Subject
from scanner.results import (
    CaptureInfo,
    GraphAnalyses,
    LinkableIdentifier,
    OrgExposure,
    RuleInfo,
    ScanResult,
    SignatureFile,
    SubjectExposure,
)

GOLDEN = Path(__file__).parent / "golden"
DATA = Path(__file__).parent / "data"
UPDATE_GOLDEN = os.environ.get("PRIVSCAN_UPDATE_GOLDEN", "") == "1"

T0 = 1714557600.0  # 2024-05-01T10:00:00Z

# --------------------------------------------------------------------------- raw values (never in an output)

GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"
IMEI = "356938035643809"
GEO = "48.8584,2.2945"
EMAIL = "emma@example.org"
DEVICE_NAME = "Emma’s iPad"
IDFV = "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"
MSISDN = "33612345678"
IMSI = "208150123456789"
SUBSCRIBER_MSISDN = "33698765432"
UIDH = "OPRX7f3e2c1d9a7b4e60"
# A tracker cookie value that tries formula injection (spreadsheets) and HTML injection (the report).
COOKIE = "=cmd|' /C calc'!A0<img src=x onerror=alert(1)>"
# A query key from traffic that tries the same; keys are shown even without --show-values.
INJECTION_KEY = '=HYPERLINK("http://evil.example/","<b>click</b>")'

RAW_VALUES = {
    "gaid": GAID,
    "imei": IMEI,
    "geo": GEO,
    "email": EMAIL,
    "device_name": DEVICE_NAME,
    "idfv": IDFV,
    "msisdn": MSISDN,
    "imsi": IMSI,
    "subscriber_msisdn": SUBSCRIBER_MSISDN,
    "uidh": UIDH,
    "cookie_id": COOKIE,
}

HMAC_KEY = b"privscan-report-fixture"


def value_hmac(id_type: str, value: str) -> str:
    return hmac.new(HMAC_KEY, f"{id_type}:{value}".encode(), hashlib.sha256).hexdigest()


def preview(value: str) -> str:
    """A masked preview, as the pipeline shows values without --show-values."""
    return f"{value[:2]}…{value[-2:]}" if len(value) > 6 else "…"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- captures, subjects, destinations

CAPTURE_TABLET = "captures/kid-tablet-2024-05-01.pcapng"
CAPTURE_CORE = "captures/core-gn-2024-05-01.pcap.zst"

KID = Subject("kid-tablet-01", True, "inventory", (("imei", IMEI), ("gaid", GAID)))
EMMA = Subject("emma-ipad", True, "inventory", (("email", EMAIL), ("device_name", DEVICE_NAME)))
PARENT = Subject("parent-phone", False, "inventory", (("msisdn", MSISDN),))
SUBSCRIBER = Subject("gtp-subscriber-0007", None, "gtp", (("imsi", IMSI), ("msisdn", SUBSCRIBER_MSISDN)))
UNKNOWN = Subject("10.20.0.99", None, "address")

ADNET = ("AdNet Example Ltd", "advertising", True)
GEOLOC = ("GeoLoc Inc", "location", True)
METRICS = ("MetricsCo", "analytics", True)
PUSHMAIL = ("PushMail Inc", "marketing", True)
SOCIAL = ("Social Inc", "social", True)
APPVENDOR = ("AppVendor", "crash_reporting", True)
TELCO = ("Example Telco", "telecom", False)


def dest(
    host: str, ip: str, port: int, domain: str | None, org: tuple[str, str, bool] | None, party: str
) -> Destination:
    name, category, tracker = org if org else (None, None, False)
    return Destination(host, ip, port, domain, name, category, tracker, party, "http_host")


ADS_HOST = dest("ads.adnet.example", "203.0.113.10", 80, "adnet.example", ADNET, "third")
PIXEL_HOST = dest("pixel.adnet.example", "203.0.113.11", 80, "adnet.example", ADNET, "third")
GEO_HOST = dest("sdk.geoloc.example", "198.51.100.20", 80, "geoloc.example", GEOLOC, "third")
METRICS_HOST = dest("collect.metricsco.example", "198.51.100.30", 80, "metricsco.example", METRICS, "third")
PUSH_HOST = dest("api.pushmail.example", "203.0.113.40", 80, "pushmail.example", PUSHMAIL, "third")
SOCIAL_HOST = dest("graph.social.example", "203.0.113.50", 443, "social.example", SOCIAL, "third")
CRASH_HOST = dest("crash.appvendor.example", "198.51.100.60", 80, "appvendor.example", APPVENDOR, "third")
PORTAL_HOST = dest("portal.telco.example", "192.0.2.70", 80, "telco.example", TELCO, "first")
MDNS_HOST = Destination("224.0.0.251", "224.0.0.251", 5353, None, None, None, False, "first", "local")
# Not a finding: the parent's phone reading the tracker company's web site (first party, no identifier).
METRICS_WWW = dest(
    "www.metricsco.example", "198.51.100.31", 443, "metricsco.example", ("MetricsCo", "analytics", False), "first"
)

# --------------------------------------------------------------------------- rules

RULES = {
    "PS101": RuleInfo(
        "PS101",
        "Persistent identifier of a minor sent to a third-party tracker",
        "high",
        "Advertising IDs and hardware IDs let a tracker recognise the child across apps and over time "
        "(COPPA: persistent identifiers are personal information).",
        "Block or flag the tracker on child-profile subscriptions; raise it with the app's publisher.",
        ("COPPA 16 CFR 312.2", "GDPR Art. 8", "UK AADC 9"),
        "signatures/policies/minors.yaml",
    ),
    "PS102": RuleInfo(
        "PS102",
        "Precise location of a minor sent to a third party",
        "critical",
        "Four decimals of latitude and longitude locate a child to a house.",
        "Block the destination on child-profile subscriptions and report the app to its store; "
        "ask the publisher to stop collecting precise location from children.",
        ("COPPA 16 CFR 312.2", "UK AADC 10", "LGPD Art. 14"),
        "signatures/policies/minors.yaml",
    ),
    "PS103": RuleInfo(
        "PS103",
        "Contact data of a minor sent to a third party",
        "high",
        "An e-mail address or a phone number lets a company contact the child directly.",
        "Raise it with the app's publisher; block the destination on child-profile subscriptions.",
        ("COPPA 16 CFR 312.2", "GDPR Art. 8"),
        "signatures/policies/minors.yaml",
    ),
    "PS104": RuleInfo(
        "PS104",
        "Child-directed ad request still carries a persistent identifier",
        "critical",
        "The request says the audience is a child (coppa=1) yet carries an advertising ID: "
        "the ad network is told not to profile and is given the means to.",
        "Report the ad network and the app to their stores; block the ad endpoint on child-profile subscriptions.",
        ("COPPA 16 CFR 312.2", "UK AADC 12", "CRBP 6"),
        "signatures/policies/minors.yaml",
    ),
    "PS105": RuleInfo(
        "PS105",
        "A minor's device broadcasts a personal name",
        "low",
        'Device names such as "Emma\'s iPad" are broadcast to every device on the network.',
        "Advise families to rename children's devices; do not log local-name traffic.",
        ("UK AADC 9",),
        "signatures/policies/minors.yaml",
    ),
    "PS106": RuleInfo(
        "PS106",
        "A minor's device contacted a known tracker",
        "info",
        "Even encrypted, a connection tells the tracker the device's address and time of use.",
        "Consider blocking the tracker on child-profile subscriptions.",
        ("ITU COP Guidelines",),
        "signatures/policies/minors.yaml",
    ),
    "PS201": RuleInfo(
        "PS201",
        "Personal data sent in clear text",
        "medium",
        "Anyone on the path can read identifiers sent without TLS (identity theft).",
        "Enforce TLS with the service owner; if it is the operator's own service, fix it first.",
        ("GDPR Art. 32",),
        "signatures/policies/cleartext.yaml",
    ),
    "PS202": RuleInfo(
        "PS202",
        "Operator header enrichment reaching a third party",
        "high",
        "A header the network injects identifies the subscriber to every site, including trackers.",
        "Strip enrichment headers (X-UIDH, X-MSISDN) on traffic towards third parties.",
        ("GDPR Art. 5(1)(c)", "CRBP 5"),
        "scanner/policy/rules/ps202_header_enrichment.py",
    ),
    "PS301": RuleInfo(
        "PS301",
        "One identifier reaches two or more organisations",
        "medium",
        "The same identifier at two companies lets them join their profiles of the child.",
        "Block the smaller trackers first; ask publishers to drop the shared identifier.",
        ("UK AADC 12", "GDPR Recital 38"),
        "signatures/policies/linkability.yaml",
    ),
}


def match(rule_id: str) -> RuleMatch:
    rule = RULES[rule_id]
    return RuleMatch(rule.id, rule.title, rule.severity, rule.regulations, rule.remediation)


def fingerprint(rule: str, id_type: str, value_hmac_: str, destination: Destination) -> str:
    return sha(f"{rule}|{id_type}|{value_hmac_}|{destination.org}|{destination.host}")[:16]


def make_finding(
    rules: tuple[str, ...],
    subject: Subject,
    identifier: tuple[str, str, str, str | None] | None,  # (type, raw value, encoding, key)
    destination: Destination,
    channel: Channel,
    frames: list[tuple[str, int, float]],
    count: int,
    *,
    show_values: bool,
    allowlisted: str | None = None,
    note: str | None = None,
) -> Finding:
    ref = None
    if identifier is not None:
        id_type, raw, encoding, key = identifier
        digest = value_hmac(id_type, raw)
        ref = IdentifierRef(id_type, encoding, key, raw if show_values else preview(raw), digest, note=note)
    matches = tuple(match(r) for r in rules)
    primary = matches[0]
    flow = FlowTuple(
        "udp" if channel.protocol == "mdns" else "tcp", "10.20.0.7", 49152, destination.ip or "", destination.port or 0
    )
    evidence = tuple(Evidence(capture, frame, ts, flow) for capture, frame, ts in frames)
    regulations = tuple(dict.fromkeys(reg for m in matches for reg in m.regulations))
    return Finding(
        id=fingerprint(primary.rule, ref.type if ref else "-", ref.value_hmac if ref else "-", destination),
        rule=primary.rule,
        title=primary.title,
        severity=primary.severity,
        subject=subject,
        identifier=ref,
        destination=destination,
        channel=channel,
        evidence=evidence,
        count=count,
        first_seen=evidence[0].ts,
        last_seen=evidence[-1].ts,
        regulations=regulations,
        remediation=primary.remediation,
        rules=matches,
        allowlisted=allowlisted,
        channels=(channel.protocol,),
    )


HTTP_QUERY = Channel("http", False, "query")


def build_findings(show_values: bool) -> list[Finding]:
    sv = show_values
    return [
        make_finding(
            ("PS104", "PS101", "PS201"),
            KID,
            ("gaid", GAID, "plain", "adid"),
            ADS_HOST,
            HTTP_QUERY,
            [
                (CAPTURE_TABLET, 101, T0 + 12.5),
                (CAPTURE_TABLET, 455, T0 + 640.125),
                (CAPTURE_TABLET, 1203, T0 + 1800.25),
            ],
            12,
            show_values=sv,
        ),
        make_finding(
            ("PS102", "PS201"),
            KID,
            ("geo", GEO, "plain", "ll"),
            GEO_HOST,
            Channel("http", False, "body"),
            [(CAPTURE_TABLET, 2201, T0 + 2000.0), (CAPTURE_TABLET, 2250, T0 + 2010.5)],
            4,
            show_values=sv,
        ),
        make_finding(
            ("PS101", "PS301"),
            KID,
            ("gaid", GAID, "sha256", "uid_hash"),
            METRICS_HOST,
            Channel("http", False, "header"),
            [(CAPTURE_TABLET, 310, T0 + 30.0), (CAPTURE_TABLET, 3120, T0 + 3100.0)],
            7,
            show_values=sv,
        ),
        make_finding(
            ("PS103", "PS201"),
            EMMA,
            ("email", EMAIL, "base64", "u"),
            PUSH_HOST,
            Channel("http", False, "body"),
            [(CAPTURE_TABLET, 5120, T0 + 900.0)],
            2,
            show_values=sv,
        ),
        make_finding(
            ("PS202", "PS201"),
            SUBSCRIBER,
            ("uidh", UIDH, "plain", "X-UIDH"),
            METRICS_HOST,
            Channel("http", False, "header", operator_injected=True),
            [(CAPTURE_CORE, 77, T0 - 500.0), (CAPTURE_CORE, 78, T0 - 499.75), (CAPTURE_CORE, 1900, T0 + 1200.0)],
            25,
            show_values=sv,
        ),
        make_finding(
            ("PS201",),
            PARENT,
            ("msisdn", MSISDN, "plain", "msisdn"),
            PORTAL_HOST,
            HTTP_QUERY,
            [(CAPTURE_TABLET, 640, T0 + 61.0)],
            3,
            show_values=sv,
        ),
        make_finding(
            ("PS201",),
            UNKNOWN,
            ("cookie_id", COOKIE, "plain", INJECTION_KEY),
            PIXEL_HOST,
            Channel("http", False, "cookie"),
            [(CAPTURE_TABLET, 7001, T0 + 3000.0)],
            1,
            show_values=sv,
        ),
        make_finding(
            ("PS105",),
            EMMA,
            ("device_name", DEVICE_NAME, "plain", "name"),
            MDNS_HOST,
            Channel("mdns", False, "dns"),
            [(CAPTURE_TABLET, 3, T0 + 0.5), (CAPTURE_TABLET, 9000, T0 + 3500.0)],
            9,
            show_values=sv,
        ),
        make_finding(
            ("PS106",),
            KID,
            None,
            SOCIAL_HOST,
            Channel("tls", True, "sni"),
            [(CAPTURE_TABLET, 40, T0 + 4.0), (CAPTURE_TABLET, 8000, T0 + 3300.0)],
            31,
            show_values=sv,
        ),
        make_finding(
            ("PS101",),
            EMMA,
            ("idfv", IDFV, "plain", "idfv"),
            CRASH_HOST,
            Channel("http", False, "header"),
            [(CAPTURE_TABLET, 6000, T0 + 2400.0)],
            5,
            show_values=sv,
            allowlisted="contracted processor: DPA AV-2024-017 (crash reports only)",
        ),
    ]


# --------------------------------------------------------------------------- graph (the pipeline's conventions)


def build_graph(findings: list[Finding], subjects: list[Subject]) -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph()
    for subject in subjects:
        graph.add_node(
            f"subject:{subject.id}",
            kind="subject",
            label=subject.id,
            minor={True: "true", False: "false", None: "unknown"}[subject.minor],
            source=subject.source,
        )

    def add_host(d: Destination) -> str:
        host = f"host:{d.host}"
        graph.add_node(
            host,
            kind="host",
            label=d.host,
            domain=d.domain or "",
            org=d.org or "",
            category=d.category or "",
            tracker=d.tracker,
            party=d.party,
        )
        if d.domain:
            graph.add_node(f"domain:{d.domain}", kind="domain", label=d.domain)
            graph.add_edge(host, f"domain:{d.domain}", key="part_of")
            if d.org:
                graph.add_node(
                    f"org:{d.org}",
                    kind="organisation",
                    label=d.org,
                    category=d.category or "",
                    tracker=d.tracker or graph.nodes.get(f"org:{d.org}", {}).get("tracker", False),
                )
                graph.add_edge(f"domain:{d.domain}", f"org:{d.org}", key="owned_by")
        return host

    for f in findings:
        host = add_host(f.destination)
        subject_node = f"subject:{f.subject.id}"
        if not graph.has_edge(subject_node, host, key="contacted"):
            graph.add_edge(
                subject_node,
                host,
                key="contacted",
                count=0,
                protocols=f.channel.protocol,
                first_seen=f.first_seen,
                last_seen=f.last_seen,
            )
        graph.edges[subject_node, host, "contacted"]["count"] += f.count
        if f.identifier is None:
            continue
        ident = f"identifier:{f.identifier.type}:{f.identifier.value_hmac[:16]}"
        graph.add_node(
            ident,
            kind="identifier",
            id_type=f.identifier.type,
            label=preview(RAW_VALUES_BY_HMAC[f.identifier.value_hmac]),
        )
        graph.add_edge(subject_node, ident, key="has_identifier")
        if f.channel.operator_injected:
            graph.add_node("operator", kind="operator", label="network operator")
            graph.add_edge("operator", ident, key="injected")
        graph.add_edge(
            ident,
            host,
            key="sent_to",
            count=f.count,
            first_seen=f.first_seen,
            last_seen=f.last_seen,
            protocols=",".join(f.channels),
            encodings=f.identifier.encoding,
            encrypted=f.channel.encrypted,
            findings=f.id,
            severity=f.severity,
        )
    # A contact that is no finding at all: the parent reading the tracker company's site.
    www = add_host(METRICS_WWW)
    graph.add_edge(
        f"subject:{PARENT.id}",
        www,
        key="contacted",
        count=2,
        protocols="tls",
        first_seen=T0 + 70.0,
        last_seen=T0 + 75.0,
    )
    return graph


RAW_VALUES_BY_HMAC = {
    value_hmac(t, v): v
    for t, v in [
        ("gaid", GAID),
        ("geo", GEO),
        ("email", EMAIL),
        ("uidh", UIDH),
        ("msisdn", MSISDN),
        ("cookie_id", COOKIE),
        ("device_name", DEVICE_NAME),
        ("idfv", IDFV),
    ]
}


def build_analyses() -> GraphAnalyses:
    gaid = value_hmac("gaid", GAID)
    return GraphAnalyses(
        linkable=(
            LinkableIdentifier(
                "kid-tablet-01",
                True,
                "gaid",
                gaid,
                ("AdNet Example Ltd", "MetricsCo"),
                ("ads.adnet.example", "collect.metricsco.example"),
            ),
        ),
        organisations=(
            OrgExposure(
                "AdNet Example Ltd",
                "advertising",
                True,
                ("10.20.0.99", "kid-tablet-01"),
                ("kid-tablet-01",),
                ("cookie_id", "gaid"),
                ("ads.adnet.example", "pixel.adnet.example"),
            ),
            OrgExposure(
                "AppVendor",
                "crash_reporting",
                True,
                ("emma-ipad",),
                ("emma-ipad",),
                ("idfv",),
                ("crash.appvendor.example",),
            ),
            OrgExposure(
                "Example Telco", "telecom", False, ("parent-phone",), (), ("msisdn",), ("portal.telco.example",)
            ),
            OrgExposure(
                "GeoLoc Inc",
                "location",
                True,
                ("kid-tablet-01",),
                ("kid-tablet-01",),
                ("geo",),
                ("sdk.geoloc.example",),
            ),
            OrgExposure(
                "MetricsCo",
                "analytics",
                True,
                ("gtp-subscriber-0007", "kid-tablet-01"),
                ("kid-tablet-01",),
                ("gaid", "uidh"),
                ("collect.metricsco.example",),
            ),
            OrgExposure(
                "PushMail Inc", "marketing", True, ("emma-ipad",), ("emma-ipad",), ("email",), ("api.pushmail.example",)
            ),
            OrgExposure(
                "Social Inc", "social", True, ("kid-tablet-01",), ("kid-tablet-01",), (), ("graph.social.example",)
            ),
        ),
        subjects=(
            SubjectExposure(
                "kid-tablet-01",
                True,
                ("AdNet Example Ltd", "GeoLoc Inc", "MetricsCo", "Social Inc"),
                ("gaid", "geo"),
                ("ads.adnet.example", "collect.metricsco.example", "graph.social.example", "sdk.geoloc.example"),
                "critical",
            ),
            SubjectExposure(
                "emma-ipad",
                True,
                ("AppVendor", "PushMail Inc"),
                ("device_name", "email", "idfv"),
                ("224.0.0.251", "api.pushmail.example", "crash.appvendor.example"),
                "high",
            ),
            SubjectExposure(
                "gtp-subscriber-0007", None, ("MetricsCo",), ("uidh",), ("collect.metricsco.example",), "high"
            ),
            SubjectExposure(
                "10.20.0.99", None, ("AdNet Example Ltd",), ("cookie_id",), ("pixel.adnet.example",), "medium"
            ),
            SubjectExposure(
                "parent-phone",
                False,
                ("Example Telco", "MetricsCo"),
                ("msisdn",),
                ("portal.telco.example", "www.metricsco.example"),
                "medium",
            ),
        ),
    )


def build_result(*, show_values: bool = False) -> ScanResult:
    findings = build_findings(show_values)
    subjects = [KID, EMMA, PARENT, SUBSCRIBER, UNKNOWN]
    captures = (
        CaptureInfo(
            CAPTURE_TABLET,
            sha("kid-tablet capture"),
            18211,
            14022118,
            T0,
            T0 + 3600.5,
            "pcapng",
            [1],
            ["frame 812: TCP segment truncated (snaplen 96)", "2 packets with a bad IPv4 header checksum"],
        ),
        CaptureInfo(CAPTURE_CORE, sha("core capture"), 30002, 22400000, T0 - 600.25, T0 + 4400.75, "pcap", [1], []),
    )
    return ScanResult(
        tool_version="0.1.0",
        engine="native",
        captures=captures,
        stats={
            "packets": 48213,
            "flows": 1312,
            "decode_errors": 3,
            "elapsed_s": 4.271,
            "events": 5120,
            "observations": 57,
            "anomalies": {"ipv4_bad_checksum": 2, "tcp_truncated": 1},
        },
        subjects=tuple(subjects),
        findings=tuple(findings),
        graph=build_graph(findings, subjects),
        analyses=build_analyses(),
        rules=tuple(RULES[k] for k in sorted(RULES)),
        signatures=(
            SignatureFile("signatures/policies/minors.yaml", sha("minors policy")),
            SignatureFile("signatures/trackers/adnet.yaml", sha("adnet trackers")),
        ),
        show_values=show_values,
        hmac_key_id="k1:3f2a9c41",
        warnings=("inventory: device 'old-phone' has no identifiers and no addresses",),
    )


@pytest.fixture
def scan_result() -> ScanResult:
    return build_result()


@pytest.fixture
def scan_result_with_values() -> ScanResult:
    return build_result(show_values=True)


def check_golden(name: str, data: str | bytes) -> None:
    """Compare ``data`` with ``golden/<name>`` byte for byte (or rewrite it with PRIVSCAN_UPDATE_GOLDEN=1)."""
    actual = data.encode("utf-8") if isinstance(data, str) else data
    path = GOLDEN / name
    if UPDATE_GOLDEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual)
        return
    if not path.exists():
        pytest.fail(f"{path} is missing: run PRIVSCAN_UPDATE_GOLDEN=1 .venv/bin/pytest tests/report and review it")
    expected = path.read_bytes()
    if actual != expected:
        diff = difflib.unified_diff(
            expected.decode("utf-8", "replace").splitlines(),
            actual.decode("utf-8", "replace").splitlines(),
            f"golden/{name}",
            "rendered",
            lineterm="",
        )
        shown = "\n".join(list(diff)[:120])
        pytest.fail(f"{name} differs from its golden file (PRIVSCAN_UPDATE_GOLDEN=1 to accept):\n{shown}")


@pytest.fixture
def golden() -> Callable[[str, str | bytes], None]:
    return check_golden


@pytest.fixture
def build() -> Callable[..., ScanResult]:
    """``build(show_values=False)``: a fresh fixture scan (tests that change it get their own)."""
    return build_result


@pytest.fixture
def raw_values() -> dict[str, str]:
    return dict(RAW_VALUES)


@pytest.fixture
def injection_key() -> str:
    return INJECTION_KEY
