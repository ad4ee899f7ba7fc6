"""An ``http`` event from a request's header fields and body, whatever carried them.

HTTP/3 (RFC 9114 s4.3.1), HAR entries and mitmproxy flows all give a request as a list of
(name, value) fields with the request line in pseudo-header fields (``:method``,
``:authority``, ``:path``, RFC 9113 s8.3.1 / RFC 9114 s4.3.1) and a body; this module makes
the same ``HttpRequest`` of them that the HTTP/1 and HTTP/2 decoders make, so that detection
sees no difference between a request read from a capture and one read from an archive.

Cookies split over several fields (RFC 9113 s8.2.3, RFC 9114 s4.2.1) are joined back with
"; "; the body is decoded per its Content-Encoding, bounded (scanner.decode.content).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from scanner.decode.content import ContentError, decode_content
from scanner.model import FlowTuple, HttpRequest, Tunnel

if TYPE_CHECKING:  # importing protocols.base would import every protocol, http3 among them, which imports this
    from scanner.decode.protocols.base import Anomalies


def request_from_fields(
    fields: Iterable[tuple[str, str]],
    body: bytes,
    *,
    ts: float,
    capture: str,
    frame: int,
    flow: FlowTuple,
    version: str,
    anomalies: Anomalies,
    anomaly_prefix: str,
    tunnel: Tunnel | None = None,
    truncated: bool = False,
    first_frame: int | None = None,
    decrypted: str | None = None,
) -> HttpRequest | None:
    """The request, or None (counted as ``<prefix>_no_method``) when the fields name no method.

    ``decrypted`` names what the request travelled encrypted in (``"QUICv1"``, ``"HAR"``): the
    report's channel is then encrypted and decrypted."""
    pseudo: dict[str, str] = {}
    headers: list[tuple[str, str]] = []
    cookies: list[str] = []
    for name, value in fields:
        if name.startswith(":"):
            pseudo.setdefault(name, value)
        elif name == "cookie":
            cookies.append(value)
        else:
            headers.append((name, value))
    if cookies:
        headers.append(("cookie", "; ".join(cookies)))
    method = pseudo.get(":method")
    if not method:
        anomalies.add(f"{anomaly_prefix}_no_method")
        return None

    def header(name: str) -> str | None:
        return next((v for k, v in headers if k == name), None)

    content_encoding = header("content-encoding")
    if body and content_encoding:
        try:
            body, cut = decode_content(body, content_encoding)
            truncated = truncated or cut
        except ContentError:
            anomalies.add(f"{anomaly_prefix}_content_encoding_error")
    authority = pseudo.get(":authority") or header("host")
    return HttpRequest(
        ts=ts,
        capture=capture,
        frame=frame,
        flow=flow,
        tunnel=tunnel,
        method=method,
        host=authority,
        # CONNECT names its target in :authority and has no :path (RFC 9114 s4.4).
        uri=pseudo.get(":path") or (authority or "" if method == "CONNECT" else ""),
        user_agent=header("user-agent"),
        version=version,
        content_type=header("content-type"),
        body_len=len(body),
        body_truncated=truncated,
        content_encoding=content_encoding,
        first_frame=first_frame if first_frame != frame else None,
        headers=tuple(headers),
        body=body,
        decrypted=decrypted,
    )
