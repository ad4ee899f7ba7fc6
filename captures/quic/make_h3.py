"""Record the project's own HTTP/3 capture with real stacks: aioquic (client) and hypercorn (server).

Not run by the tests: the tests read the committed files.  It needs root (port 443 on loopback,
dumpcap) and a separate virtual environment with the recording tools, which are not privscan's
dependencies:

    python3 -m venv /tmp/h3tools && /tmp/h3tools/bin/pip install aioquic hypercorn
    /tmp/h3tools/bin/python captures/quic/make_h3.py captures/quic

It writes ``h3_keyupdate.pcapng`` (the packets only) and ``h3_keyupdate.keys`` (the NSS key log
aioquic wrote: CLIENT/SERVER_HANDSHAKE_TRAFFIC_SECRET and CLIENT/SERVER_TRAFFIC_SECRET_0).  One QUIC v1
connection from 127.0.12.1 to 127.0.12.2:443 (addresses of their own, so that other
traffic on the loopback interface stays out of the capture) carries four HTTP/3 requests on four streams (a GET with
identifiers in the query, a GET with a cookie and a header, a POST with a JSON body, and a POST with a
form body sent after the client has updated its 1-RTT keys, RFC 9001 s6, so that the last request
travels under key phase 1).  ``--zero-rtt`` writes ``h3_0rtt.pcapng`` / ``.keys`` instead: a
connection that gets a session ticket, then a resumed one whose first request goes as 0-RTT
(aioquic on both ends); ``--suites`` writes ``h3_suites.*``: QUIC v2 with ChaCha20-Poly1305 and
QUIC v1 with AES-256-GCM, one request each; ``--bulk N`` a single N MiB upload for bench/ (not committed); ``--port N`` the default exchange with
the server on UDP port N instead of 443, written as ``h3_portN.*``.  The identifiers are made up (a GAID-shaped UUID, an IMEI that passes
Luhn, a drama-range phone number, an example.org e-mail address).  The keys are generated for this
capture and protect nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import serve
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import QuicEvent
from aioquic.quic.packet import QuicProtocolVersion
from aioquic.tls import CipherSuite
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CLIENT_ADDRESS, SERVER_ADDRESS = "127.0.12.1", "127.0.12.2"
PORT = 443  # --port: the server's UDP port (QUIC off 443 is followed by its connection ids)
HOSTS = ["api.kidsapp.example", "tracker.adnetwork.example"]
GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"
IMEI = "356938035643809"
MSISDN = "4917139200042"
EMAIL = "emma@example.org"

APP = '''
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while True:
        message = await receive()
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})
'''


def make_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOSTS[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in HOSTS]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class H3Client(QuicConnectionProtocol):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.h3 = H3Connection(self._quic)
        self.done: dict[int, asyncio.Future[int]] = {}

    def quic_event_received(self, event: QuicEvent) -> None:
        for h3_event in self.h3.handle_event(event):
            self._h3_event(h3_event)

    def _h3_event(self, event: H3Event) -> None:
        if isinstance(event, (HeadersReceived, DataReceived)) and event.stream_ended:
            future = self.done.get(event.stream_id)
            if future is not None and not future.done():
                future.set_result(event.stream_id)

    async def request(self, method: str, host: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> None:
        stream_id = self._quic.get_next_available_stream_id()
        self.done[stream_id] = self._loop.create_future()
        self.h3.send_headers(
            stream_id,
            [(b":method", method.encode()), (b":scheme", b"https"), (b":authority", host.encode()), (b":path", path.encode()),
             (b"user-agent", b"KidsApp/2.1 (aioquic)"), *headers],
            end_stream=not body,
        )
        if body:
            self.h3.send_data(stream_id, body, end_stream=True)
        self.transmit()
        await asyncio.wait_for(self.done[stream_id], 5)


@contextlib.asynccontextmanager
async def connect_from(
    local: str, remote: str, configuration: QuicConfiguration, wait: bool = True, tickets: list[Any] | None = None
) -> AsyncIterator[H3Client]:
    """aioquic's ``connect``, from a chosen source address (its own binds to "::").  ``wait``
    False: requests may go before the handshake ends, as 0-RTT when resuming with a ticket."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((local, 0))
    handler = tickets.append if tickets is not None else None
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: H3Client(QuicConnection(configuration=configuration, session_ticket_handler=handler)), sock=sock
    )
    try:
        protocol.connect((remote, PORT), transmit=wait)
        if wait:
            await protocol.wait_connected()
        yield protocol
    finally:
        protocol.close()
        await protocol.wait_closed()
        transport.close()


async def bulk_client(keys: Path, cert: Path, megabytes: int) -> None:
    """For bench/: one POST of ``megabytes`` MiB of JSON-ish text (not committed)."""
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name=HOSTS[0])
    configuration.load_verify_locations(str(cert))
    configuration.max_data = configuration.max_stream_data = 1 << 30
    chunk = (f'{{"gaid":"{GAID}","ev":"tick"}},'.encode() * 4096)[: 1 << 16]
    with keys.open("w") as secrets:
        configuration.secrets_log_file = secrets
        async with connect_from(CLIENT_ADDRESS, SERVER_ADDRESS, configuration) as protocol:
            stream_id = protocol._quic.get_next_available_stream_id()
            protocol.done[stream_id] = protocol._loop.create_future()
            protocol.h3.send_headers(
                stream_id,
                [(b":method", b"POST"), (b":scheme", b"https"), (b":authority", HOSTS[1].encode()),
                 (b":path", b"/v1/batch"), (b"content-type", b"application/json")],
            )
            for i in range(megabytes * 16):
                protocol.h3.send_data(stream_id, chunk, end_stream=i == megabytes * 16 - 1)
                protocol.transmit()
                await asyncio.sleep(0)
            await asyncio.wait_for(protocol.done[stream_id], 120)


class H3Server(QuicConnectionProtocol):
    """A minimal HTTP/3 server (200 "ok" to every request), for the 0-RTT capture: hypercorn
    keeps no session tickets, so it cannot resume a connection and accept early data."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)

    def quic_event_received(self, event: QuicEvent) -> None:
        for h3_event in self.h3.handle_event(event):
            if isinstance(h3_event, (HeadersReceived, DataReceived)) and h3_event.stream_ended:
                self.h3.send_headers(h3_event.stream_id, [(b":status", b"200")])
                self.h3.send_data(h3_event.stream_id, b"ok", end_stream=True)
                self.transmit()


async def zero_rtt_exchange(keys: Path, cert: Path, key: Path) -> None:
    """A first connection that gets a session ticket, then a resumed one whose first request is
    sent as 0-RTT (RFC 9001 s4.6), both from the client address; aioquic logs the
    CLIENT_EARLY_TRAFFIC_SECRET of the second."""
    tickets: dict[bytes, Any] = {}
    server_configuration = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN)
    server_configuration.load_cert_chain(str(cert), str(key))
    server = await serve(
        SERVER_ADDRESS, 443, configuration=server_configuration, create_protocol=H3Server,
        session_ticket_fetcher=tickets.pop, session_ticket_handler=lambda t: tickets.__setitem__(t.ticket, t),
    )
    try:
        with keys.open("w") as secrets:
            received: list[Any] = []
            configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name=HOSTS[0])
            configuration.load_verify_locations(str(cert))
            configuration.secrets_log_file = secrets
            async with connect_from(CLIENT_ADDRESS, SERVER_ADDRESS, configuration, tickets=received) as protocol:
                await protocol.request("GET", HOSTS[0], "/api/hello", [])
                await asyncio.sleep(0.2)  # the ticket comes after the handshake
            resumed = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name=HOSTS[0])
            resumed.load_verify_locations(str(cert))
            resumed.secrets_log_file = secrets
            resumed.session_ticket = received[-1]
            async with connect_from(CLIENT_ADDRESS, SERVER_ADDRESS, resumed, wait=False) as protocol:
                await protocol.request("GET", HOSTS[1], f"/v1/early?adid={GAID}", [(b"x-device-imei", IMEI.encode())])
    finally:
        server.close()


async def suites_exchange(keys: Path, cert: Path, key: Path) -> None:
    """Three connections, one request each, to aioquic's server (hypercorn's configuration offers
    no choice of version or suite): QUIC v2 (RFC 9369) with ChaCha20-Poly1305 to a server that
    prefers v2; QUIC v1 only, with AES-256-GCM (a SHA-384 secret); and a client that starts in v2
    but prefers v1, which the server then chooses by compatible version negotiation (RFC 9368),
    so that its 1-RTT packets use v1's key labels after a v2 Initial."""
    v1, v2 = QuicProtocolVersion.VERSION_1, QuicProtocolVersion.VERSION_2
    with keys.open("w") as secrets:
        # (server's versions, client's first version, client's versions in its preference order, ...)
        for server_versions, version, client_versions, suite, path in (
            ([v2, v1], v2, [v2, v1], CipherSuite.CHACHA20_POLY1305_SHA256, f"/v2/chacha?adid={GAID}"),
            ([v2, v1], v1, [v1], CipherSuite.AES_256_GCM_SHA384, f"/v1/aes256?imei={IMEI}"),
            ([v1, v2], v2, [v1, v2], CipherSuite.AES_128_GCM_SHA256, f"/v2-to-v1?msisdn={MSISDN}"),
        ):
            server_configuration = QuicConfiguration(
                is_client=False, alpn_protocols=H3_ALPN, supported_versions=server_versions
            )
            server_configuration.load_cert_chain(str(cert), str(key))
            server = await serve(SERVER_ADDRESS, 443, configuration=server_configuration, create_protocol=H3Server)
            try:
                configuration = QuicConfiguration(
                    is_client=True, alpn_protocols=H3_ALPN, server_name=HOSTS[1],
                    supported_versions=client_versions,
                )
                configuration.load_verify_locations(str(cert))
                configuration.secrets_log_file = secrets
                configuration.original_version = version
                configuration.cipher_suites = [suite]
                async with connect_from(CLIENT_ADDRESS, SERVER_ADDRESS, configuration) as protocol:
                    await protocol.request("GET", HOSTS[1], path, [])
            finally:
                server.close()
            await asyncio.sleep(0.1)


async def client(keys: Path, cert: Path) -> None:
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name=HOSTS[0])
    configuration.load_verify_locations(str(cert))
    with keys.open("w") as secrets:
        configuration.secrets_log_file = secrets
        async with connect_from(CLIENT_ADDRESS, SERVER_ADDRESS, configuration) as protocol:
            await protocol.request("GET", HOSTS[1], f"/v1/collect?adid={GAID}&ev=open", [])
            await protocol.request("GET", HOSTS[0], "/api/profile", [(b"cookie", f"sid=abc; email={EMAIL}".encode()),
                                                                      (b"x-device-imei", IMEI.encode())])
            await protocol.request("POST", HOSTS[1], "/v1/event", [(b"content-type", b"application/json")],
                                   f'{{"gaid":"{GAID}","msisdn":"{MSISDN}"}}'.encode())
            # RFC 9001 s6: a key update, initiated by the client once the handshake is confirmed.
            protocol._quic.request_key_update()
            await protocol.request("POST", HOSTS[0], "/api/register", [(b"content-type", b"application/x-www-form-urlencoded")],
                                   f"imei={IMEI}&email={EMAIL.replace('@', '%40')}".encode())


def main(out_dir: str, bulk_megabytes: int = 0, zero_rtt: bool = False, suites: bool = False) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cert, key = make_certificate(tmp)
        (tmp / "app.py").write_text(APP)
        stem = (
            f"h3_bulk{bulk_megabytes}m"
            if bulk_megabytes
            else "h3_0rtt"
            if zero_rtt
            else "h3_suites"
            if suites
            else "h3_keyupdate"
            if PORT == 443
            else f"h3_port{PORT}"
        )
        pcap = out / f"{stem}.pcapng"
        dumpcap = subprocess.Popen(
            ["dumpcap", "-q", "-i", "lo", "-f", f"udp port {PORT} and host {SERVER_ADDRESS}", "-w", str(tmp / "raw.pcapng")]
        )
        time.sleep(1.5)
        if zero_rtt or suites:
            try:
                time.sleep(0.5)
                exchange = zero_rtt_exchange if zero_rtt else suites_exchange
                asyncio.run(exchange(out / f"{stem}.keys", cert, key))
                time.sleep(0.5)
            finally:
                dumpcap.send_signal(signal.SIGINT)
                dumpcap.wait(10)
            subprocess.run(["editcap", "--discard-all-secrets", str(tmp / "raw.pcapng"), str(pcap)], check=True)
            os.chmod(pcap, 0o644)
            return
        server = subprocess.Popen(
            [sys.executable, "-m", "hypercorn", "--quic-bind", f"{SERVER_ADDRESS}:{PORT}", "--bind", f"{SERVER_ADDRESS}:8443",
             "--certfile", str(cert), "--keyfile", str(key), "app:app"],
            cwd=tmp,
        )
        try:
            time.sleep(2.0)
            if bulk_megabytes:
                asyncio.run(bulk_client(out / f"{stem}.keys", cert, bulk_megabytes))
            else:
                asyncio.run(client(out / f"{stem}.keys", cert))
            time.sleep(0.5)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(10)
            dumpcap.send_signal(signal.SIGINT)
            dumpcap.wait(10)
        # Drop the comment dumpcap writes (host name, OS): the file should name nothing of the machine.
        subprocess.run(["editcap", "--discard-all-secrets", str(tmp / "raw.pcapng"), str(pcap)], check=True)
        os.chmod(pcap, 0o644)


if __name__ == "__main__":
    # make_h3.py [OUT_DIR] [--bulk MEGABYTES]: the bulk capture is for bench/, not committed.
    arguments = sys.argv[1:]
    bulk = 0
    zero = "--zero-rtt" in arguments
    if zero:
        arguments.remove("--zero-rtt")
    if "--port" in arguments:
        at = arguments.index("--port")
        PORT = int(arguments[at + 1])
        del arguments[at : at + 2]
    suites = "--suites" in arguments
    if suites:
        arguments.remove("--suites")
    if "--bulk" in arguments:
        at = arguments.index("--bulk")
        bulk = int(arguments[at + 1])
        del arguments[at : at + 2]
    main(arguments[0] if arguments else os.path.dirname(os.path.abspath(__file__)), bulk, zero, suites)
