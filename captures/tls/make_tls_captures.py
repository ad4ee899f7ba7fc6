#!/usr/bin/env python3
"""Record real TLS traffic for the decryption tests: real stacks on 127.0.0.1, recorded by dumpcap.

Nothing here encrypts by hand.  OpenSSL's own ``s_client``/``s_server`` (OpenSSL 3.0), curl
(OpenSSL + nghttp2) and Python's ``ssl`` module (OpenSSL) make every TLS connection, each client
writing its secrets to the key log as a lab's test devices would (``-keylogfile``,
``SSLKEYLOGFILE``, ``SSLContext.keylog_filename``).  ``dumpcap -i lo`` records the loopback
interface.  What the scenarios cover (the host name in SNI and Host says which one a request
belongs to, under lab.test):

- TLS 1.2 CBC suites: AES-128-CBC-SHA with encrypt-then-MAC (OpenSSL's default, RFC 7366) and
  without it (``-no_etm``), AES-256-CBC-SHA384, AES-128-CBC-SHA256 (RSA key transport); TLS 1.0
  with AES-128-CBC-SHA (chained IVs, the MD5/SHA-1 PRF); extended master secret is on throughout;
- TLS 1.2 ChaCha20-Poly1305, AES-128-CCM, AES-128-CCM_8; TLS 1.3 AES-128-CCM and CCM_8;
- resumption: TLS 1.2 by session id (``-no_ticket``) and by ticket, TLS 1.3 by PSK, each a
  first connection and a resumed one (``-sess_out`` / ``-sess_in``);
- a TLS 1.3 KeyUpdate between two requests on one connection (s_client's ``k`` command);
- TLS 1.3 0-RTT: a resumed connection sends a request as early data, then one more after the
  handshake;
- a HelloRetryRequest (the server accepts only P-256, the client's key share is X25519);
- HTTP/2: curl sending several requests (streams 1, 3, 5: GET, POST with a gzip'd JSON body,
  GET) on one connection over TLS 1.3 and over TLS 1.2, to a minimal HTTP/2 responder;
- WebSocket over TLS 1.3: an Upgrade, then a masked JSON text message, a fragmented text message
  with a ping between its fragments, a binary message and a permessage-deflate message.

Every request carries the same made-up identifiers (the GAID and e-mail below) so that the
tests can check what detection finds.  Run as root (dumpcap on lo) from the repository root:

    python3 captures/tls/make_tls_captures.py

It writes ``tls_own.pcapng`` (the capture, no secrets), ``tls_own.keys`` (the key log),
``tls_own.dsb.pcapng`` (the capture with the key log in a Decryption Secrets Block, by
``editcap --inject-secrets``) and ``tls_own.truth.json`` (every request the clients sent:
scenario, host, method, path, transport).  The run is not byte-reproducible (keys and randoms
are fresh each time); the committed files are one recorded run.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).resolve().parent
GAID = "5f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
EMAIL = "lab-kid@example.org"
# 9420-9449: no tshark dissector claims these ports (9418 is git's, which would hide the TLS from
# tshark and spoil the engines' comparison).
BASE_PORT = 9420
TRUTH: list[dict[str, object]] = []


def run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(list(args), check=True, capture_output=True, **kwargs)  # type: ignore[call-overload,no-any-return]


def request_bytes(method: str, host: str, path: str, body: bytes = b"", extra: str = "") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: lab-device/1.0\r\n{extra}"
    if body:
        head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def note(scenario: str, host: str, method: str, path: str, transport: str) -> None:
    TRUTH.append({"scenario": scenario, "host": host, "method": method, "path": path, "transport": transport})


# --------------------------------------------------------------------------- OpenSSL s_server / s_client


class SServer:
    """``openssl s_server`` without -www: it reads what clients send and answers nothing, which
    keeps each connection open for as many requests (and key updates) as the client sends."""

    def __init__(self, port: int, cert: Path, key: Path, *options: str) -> None:
        self.proc = subprocess.Popen(
            ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(cert), "-key", str(key), *options],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(port)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=5)


def s_client(port: int, host: str, keylog: Path, writes: list[bytes], *options: str) -> None:
    """One connection: each item of ``writes`` is written on its own (``k`` alone is the key update
    command), with pauses so that s_client reads each apart; end of input closes the connection."""
    proc = subprocess.Popen(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", host, "-keylogfile", str(keylog), *options],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None
    time.sleep(0.5)  # the handshake
    try:
        for chunk in writes:
            proc.stdin.write(chunk)
            proc.stdin.flush()
            time.sleep(0.4)
        proc.stdin.close()
    except BrokenPipeError:
        raise RuntimeError(f"s_client to {host} ended early: the handshake failed ({' '.join(options)})") from None
    proc.wait(timeout=10)


def http1_scenarios(port: int, cert: Path, key: Path, keylog: Path) -> int:
    """Every HTTP/1.1 scenario, each on a server of its own."""
    query = f"/v1/event?adid={GAID}&ts=1"
    form = f"email={EMAIL}&event=open".encode()

    def one(scenario: str, server_options: tuple[str, ...], client_options: tuple[str, ...], transport: str) -> None:
        nonlocal port
        host = f"{scenario}.lab.test"
        server = SServer(port, cert, key, *server_options)
        try:
            s_client(port, host, keylog, [request_bytes("GET", host, query), request_bytes("POST", host, "/v1/form", form)], *client_options)
        finally:
            server.stop()
        note(scenario, host, "GET", query, transport)
        note(scenario, host, "POST", "/v1/form", transport)
        port += 1

    tls12 = ("-tls1_2",)
    one("cbc-sha-etm", (), (*tls12, "-cipher", "ECDHE-RSA-AES128-SHA"), "h1/tls1.2/ECDHE-RSA-AES128-SHA")
    one("cbc-sha-mte", (), (*tls12, "-cipher", "ECDHE-RSA-AES128-SHA", "-no_etm"), "h1/tls1.2/ECDHE-RSA-AES128-SHA")
    one("cbc-sha384", (), (*tls12, "-cipher", "ECDHE-RSA-AES256-SHA384"), "h1/tls1.2/ECDHE-RSA-AES256-SHA384")
    one("cbc-sha256-rsa", ("-cipher", "ALL"), (*tls12, "-cipher", "AES128-SHA256"), "h1/tls1.2/AES128-SHA256")
    one("chacha-12", (), (*tls12, "-cipher", "ECDHE-RSA-CHACHA20-POLY1305"), "h1/tls1.2/ECDHE-RSA-CHACHA20-POLY1305")
    every = ("-cipher", "ALL")  # RSA key transport is not in this OpenSSL's default list
    one("ccm-12", every, (*tls12, "-cipher", "AES128-CCM"), "h1/tls1.2/AES128-CCM")
    one("ccm8-12", every, (*tls12, "-cipher", "AES128-CCM8"), "h1/tls1.2/AES128-CCM8")
    legacy = ("-tls1", "-cipher", "AES128-SHA:@SECLEVEL=0")
    one("tls10-cbc", legacy, legacy, "h1/tls1.0/AES128-SHA")
    ccm13 = "TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256"
    one("ccm-13", ("-ciphersuites", ccm13), ("-ciphersuites", "TLS_AES_128_CCM_SHA256"), "h1/tls1.3/TLS_AES_128_CCM_SHA256")
    one("ccm8-13", ("-ciphersuites", ccm13), ("-ciphersuites", "TLS_AES_128_CCM_8_SHA256"), "h1/tls1.3/TLS_AES_128_CCM_8_SHA256")
    one("hrr", ("-groups", "P-256"), ("-groups", "X25519:P-256"), "h1/tls1.3/TLS_AES_256_GCM_SHA384")

    # A key update between two requests (RFC 8446 s4.6.3): s_client's "k" command.
    host = "keyupdate.lab.test"
    server = SServer(port, cert, key)
    try:
        s_client(port, host, keylog, [request_bytes("GET", host, query), b"k\n", request_bytes("POST", host, "/v1/form", form),
                                      b"k\n", request_bytes("GET", host, "/v1/after-second-update?adid=" + GAID)])
    finally:
        server.stop()
    note("keyupdate", host, "GET", query, "h1/tls1.3/TLS_AES_256_GCM_SHA384")
    note("keyupdate", host, "POST", "/v1/form", "h1/tls1.3/TLS_AES_256_GCM_SHA384")
    note("keyupdate", host, "GET", "/v1/after-second-update?adid=" + GAID, "h1/tls1.3/TLS_AES_256_GCM_SHA384")
    port += 1

    # 0-RTT (RFC 8446 s2.3): a first connection gets a ticket that allows early data, the second
    # sends its request in the ClientHello's flight, under CLIENT_EARLY_TRAFFIC_SECRET.
    host = "early-data.lab.test"
    with tempfile.TemporaryDirectory() as tmp:
        session = Path(tmp) / "early.pem"
        early = Path(tmp) / "early.txt"
        early.write_bytes(request_bytes("GET", host, "/v1/early?adid=" + GAID))
        server = SServer(port, cert, key, "-early_data")
        try:
            s_client(port, host, keylog, [request_bytes("GET", host, query)], "-sess_out", str(session))
            s_client(port, host, keylog, [request_bytes("POST", host, "/v1/form", form)], "-sess_in", str(session),
                     "-early_data", str(early))
        finally:
            server.stop()
    note("early-data", host, "GET", query, "h1/tls1.3/TLS_AES_256_GCM_SHA384")
    note("early-data", host, "GET", "/v1/early?adid=" + GAID, "h1/tls1.3/TLS_AES_256_GCM_SHA384/early")
    note("early-data", host, "POST", "/v1/form", "h1/tls1.3/TLS_AES_256_GCM_SHA384/resumed")
    port += 1

    # Resumption: a first connection saves its session, a second one resumes it.
    with tempfile.TemporaryDirectory() as tmp:
        for scenario, options, transport in (
            ("resume-id-12", ("-tls1_2", "-no_ticket"), "h1/tls1.2/ECDHE-RSA-AES256-GCM-SHA384"),
            ("resume-ticket-12", ("-tls1_2",), "h1/tls1.2/ECDHE-RSA-AES256-GCM-SHA384"),
            ("resume-psk-13", (), "h1/tls1.3/TLS_AES_256_GCM_SHA384"),
        ):
            host = f"{scenario}.lab.test"
            session = Path(tmp) / f"{scenario}.pem"
            server = SServer(port, cert, key, *(("-no_ticket",) if "no_ticket" in " ".join(options) else ()))
            try:
                s_client(port, host, keylog, [request_bytes("GET", host, query)], *options, "-sess_out", str(session))
                s_client(port, host, keylog, [request_bytes("GET", host, "/v1/resumed?adid=" + GAID)], *options, "-sess_in", str(session))
            finally:
                server.stop()
            note(scenario, host, "GET", query, transport)
            note(scenario, host, "GET", "/v1/resumed?adid=" + GAID, transport + "/resumed")
            port += 1
    return port


# --------------------------------------------------------------------------- Python ssl servers


def wait_port(port: int) -> None:
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def serve(port: int, context: ssl.SSLContext, handler: Callable[[ssl.SSLSocket], None], connections: int) -> threading.Thread:
    listener = socket.create_server(("127.0.0.1", port))

    def loop() -> None:
        with listener:
            for _ in range(connections):
                raw, _ = listener.accept()
                try:
                    with context.wrap_socket(raw, server_side=True) as tls:
                        handler(tls)
                except (OSError, ssl.SSLError):
                    pass

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def h2_responder(tls: ssl.SSLSocket) -> None:
    """Just enough HTTP/2 (RFC 9113) for curl: SETTINGS, SETTINGS ACK, PING ACK, and a bare
    ``:status: 200`` (HPACK static index 8, one byte 0x88) closing each stream the client ends."""
    frame = struct.Struct("!HBBBI")

    def send(ftype: int, flags: int, stream: int, payload: bytes = b"") -> None:
        tls.sendall(frame.pack(len(payload) >> 8, len(payload) & 0xFF, ftype, flags, stream) + payload)

    send(4, 0, 0)  # our SETTINGS
    buf = b""
    tls.settimeout(5)
    while True:
        try:
            data = tls.recv(65536)
        except (OSError, ssl.SSLError):
            return
        if not data:
            return
        buf += data
        if buf.startswith(b"PRI * HTTP/2.0"):
            buf = buf[24:]
        while len(buf) >= 9:
            hi, lo, ftype, flags, stream = frame.unpack_from(buf)
            length = (hi << 8) | lo
            if len(buf) < 9 + length:
                break
            payload, buf = buf[9 : 9 + length], buf[9 + length :]
            stream &= 0x7FFFFFFF
            if ftype == 4 and not flags & 1:
                send(4, 1, 0)
            elif ftype == 6 and not flags & 1:
                send(6, 1, 0, payload)
            elif ftype in (0, 1) and flags & 1:
                send(1, 0x05, stream, b"\x88")
            elif ftype == 7:
                return


def ws_responder(tls: ssl.SSLSocket) -> None:
    """Answer the Upgrade with 101 (RFC 6455 s4.2.2) and read frames until the client closes."""
    import base64
    import hashlib

    tls.settimeout(5)
    head = b""
    while b"\r\n\r\n" not in head:
        data = tls.recv(4096)
        if not data:
            return
        head += data
    key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n") if line.lower().startswith(b"sec-websocket-key"))
    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    tls.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    while True:
        try:
            if not tls.recv(65536):
                return
        except (OSError, ssl.SSLError):
            return


def ws_frame(opcode: int, payload: bytes, fin: bool = True, rsv1: bool = False) -> bytes:
    """A client frame, masked with a fresh key (RFC 6455 s5.3)."""
    key = os.urandom(4)
    n = len(payload)
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    head = bytes((b0, 0x80 | n)) if n < 126 else bytes((b0, 0x80 | 126)) + n.to_bytes(2, "big")
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def python_scenarios(port: int, cert: Path, key: Path, keylog: Path) -> int:
    h2_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    h2_context.load_cert_chain(cert, key)
    h2_context.set_alpn_protocols(["h2"])
    for scenario, tls_option, transport in (("h2-13", "--tlsv1.3", "h2/tls1.3"), ("h2-12", "--tls-max", "h2/tls1.2")):
        host = f"{scenario}.lab.test"
        thread = serve(port, h2_context, h2_responder, 1)
        body = Path(tempfile.mkstemp()[1])
        body.write_bytes(gzip.compress(json.dumps({"user": {"email": EMAIL}, "ts": 1}).encode(), mtime=0))
        common = ["-sk", "--http2", "-m", "5", "--resolve", f"{host}:{port}:127.0.0.1", "-o", "/dev/null"]
        if tls_option == "--tls-max":
            common += ["--tls-max", "1.2"]
        else:
            common += ["--tlsv1.3"]
        base = f"https://{host}:{port}"
        run("curl", *common, f"{base}/v2/a?adid={GAID}",
            "--next", *common, "-H", "Content-Type: application/json", "-H", "Content-Encoding: gzip",
            "--data-binary", f"@{body}", f"{base}/v2/b",
            "--next", *common, "-H", f"X-User-Email: {EMAIL}", f"{base}/v2/c",
            env={**os.environ, "SSLKEYLOGFILE": str(keylog)})
        body.unlink()
        thread.join(timeout=10)
        note(scenario, host, "GET", f"/v2/a?adid={GAID}", transport)
        note(scenario, host, "POST", "/v2/b", transport)
        note(scenario, host, "GET", "/v2/c", transport)
        port += 1

    ws_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ws_context.load_cert_chain(cert, key)
    thread = serve(port, ws_context, ws_responder, 1)
    host = "ws.lab.test"
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    client.keylog_filename = str(keylog)
    with socket.create_connection(("127.0.0.1", port)) as raw, client.wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(b"GET /socket?v=1 HTTP/1.1\r\nHost: " + host.encode() + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                    b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
        tls.recv(4096)
        tls.sendall(ws_frame(1, json.dumps({"type": "hello", "adid": GAID}).encode()))
        time.sleep(0.1)
        text = json.dumps({"type": "profile", "email": EMAIL}).encode()
        tls.sendall(ws_frame(1, text[:10], fin=False))
        tls.sendall(ws_frame(9, b"ping"))
        tls.sendall(ws_frame(0, text[10:]))
        time.sleep(0.1)
        tls.sendall(ws_frame(2, b"\x00\x01binary" + GAID.encode()))
        compressor = zlib.compressobj(wbits=-15)
        deflated = compressor.compress(json.dumps({"type": "deflated", "email": EMAIL}).encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)
        tls.sendall(ws_frame(1, deflated[:-4], rsv1=True))
        time.sleep(0.1)
        tls.sendall(ws_frame(8, b"\x03\xe8"))
        time.sleep(0.2)
    thread.join(timeout=10)
    for message in ("hello", "profile", "binary", "deflated"):
        note("websocket", host, "WS", message, "ws/tls1.3")
    note("websocket", host, "GET", "/socket?v=1", "h1/tls1.3/TLS_AES_256_GCM_SHA384")
    return port + 1


# --------------------------------------------------------------------------- main


def main() -> int:
    for tool in ("openssl", "curl", "dumpcap", "editcap"):
        if shutil.which(tool) is None:
            print(f"{tool} is needed", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cert, key = tmp / "cert.pem", tmp / "key.pem"
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "3650",
            "-subj", "/CN=lab.test", "-addext", "subjectAltName=DNS:*.lab.test")
        keylog = tmp / "keys"
        keylog.touch()
        capture = tmp / "capture.pcapng"
        dumpcap = subprocess.Popen(
            ["dumpcap", "-q", "-i", "lo", "-f", f"tcp portrange {BASE_PORT}-{BASE_PORT + 99}", "-w", str(capture)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(2)
        try:
            port = http1_scenarios(BASE_PORT, cert, key, keylog)
            python_scenarios(port, cert, key, keylog)
            time.sleep(1)
        finally:
            dumpcap.terminate()
            dumpcap.wait(timeout=10)
        shutil.copyfile(capture, OUT / "tls_own.pcapng")
        shutil.copyfile(keylog, OUT / "tls_own.keys")
        run("editcap", "--inject-secrets", f"tls,{keylog}", str(capture), str(OUT / "tls_own.dsb.pcapng"))
    truth = {
        "made_by": "captures/tls/make_tls_captures.py",
        "identifiers": {"gaid": GAID, "email": EMAIL},
        "requests": TRUTH,
    }
    (OUT / "tls_own.truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    print(f"{len(TRUTH)} requests recorded in {OUT / 'tls_own.pcapng'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
