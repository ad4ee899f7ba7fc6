"""Record the project's own HAR and mitmproxy flow files with mitmproxy itself.

Not run by the tests: the tests read the committed files.  It needs a separate virtual
environment with the recording tools (mitmproxy does not install beside privscan's dependencies:
it pins older cryptography, brotli and zstandard), and curl:

    python3 -m venv /tmp/mitmtools && /tmp/mitmtools/bin/pip install mitmproxy hypercorn websockets
    /tmp/mitmtools/bin/python captures/inputs/make_archives.py captures/inputs

mitmdump runs as an HTTP(S) proxy on 127.0.12.4:8080, writing ``mitmproxy.flows`` (``-w``) and
``mitmproxy.har`` (``--set hardump=``); hypercorn answers on 127.0.12.3 (HTTPS on 8443 with a
certificate made here for the example host names, plain HTTP on 8080); curl, bound to
127.0.12.5 (the device), sends five requests through the proxy: identifiers in a query, a
cookie and a header, a JSON body, a form body, and one plain-HTTP request; then a WebSocket
client (python-websockets, from the same address) sends a text and a binary message.  The identifiers are
made up (a GAID-shaped UUID, an IMEI that passes Luhn, a drama-range phone number, an
example.org e-mail address).
"""

from __future__ import annotations

import datetime
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SERVER, PROXY, DEVICE = "127.0.12.3", "127.0.12.4", "127.0.12.5"
HOSTS = ["api.kidsapp.example", "tracker.adnetwork.example"]
GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"
IMEI = "356938035643809"
MSISDN = "4917139200042"
EMAIL = "emma@example.org"

APP = '''
async def app(scope, receive, send):
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return
            await send({"type": "websocket.send", "text": "ok"})
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


# The example host names resolve nowhere: the proxy connects to the local server instead (its
# server_connect hook), and the flows keep the names the client asked for.
ROUTE = f'''
def server_connect(data):
    data.server.address = ("{SERVER}", data.server.address[1])
'''


def curl(confdir: Path, *args: str) -> None:
    subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "--interface", DEVICE, "-x", f"http://{PROXY}:8080",
         "--cacert", str(confdir / "mitmproxy-ca-cert.pem"), "-A", "KidsApp/2.1 (curl)", *args],
        check=True,
    )


def websocket(confdir: Path) -> None:
    """A WebSocket through the proxy: a text message with identifiers, and a binary one."""
    import ssl

    from websockets.sync.client import connect

    context = ssl.create_default_context(cafile=str(confdir / "mitmproxy-ca-cert.pem"))
    with connect(
        f"wss://{HOSTS[1]}:8443/v1/stream", ssl=context, proxy=f"http://{PROXY}:8080",
        source_address=(DEVICE, 0), user_agent_header="KidsApp/2.1 (websockets)",
    ) as ws:
        ws.send(f'{{"event":"open","gaid":"{GAID}"}}')
        ws.recv()
        ws.send(f"imei={IMEI}".encode())
        ws.recv()


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mitmdump = shutil.which("mitmdump", path=os.path.dirname(sys.executable)) or "mitmdump"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cert, key = make_certificate(tmp)
        (tmp / "app.py").write_text(APP)
        (tmp / "route.py").write_text(ROUTE)
        confdir = tmp / "mitmproxy"
        server = subprocess.Popen(
            [sys.executable, "-m", "hypercorn", "--bind", f"{SERVER}:8443", "--insecure-bind", f"{SERVER}:8080",
             "--certfile", str(cert), "--keyfile", str(key), "app:app"],
            cwd=tmp,
        )
        proxy = subprocess.Popen(
            [mitmdump, "-q", "--listen-host", PROXY, "--listen-port", "8080", "--set", f"confdir={confdir}",
             "-s", str(tmp / "route.py"),
             "--set", "ssl_insecure=true", "-w", str(out / "mitmproxy.flows"), "--set", f"hardump={out / 'mitmproxy.har'}"],
        )
        try:
            time.sleep(4.0)
            https = f"https://{HOSTS[1]}:8443"
            curl(confdir, f"{https}/v1/collect?adid={GAID}&ev=open")
            curl(confdir, "-H", f"Cookie: sid=abc; email={EMAIL}", "-H", f"X-Device-IMEI: {IMEI}",
                 f"https://{HOSTS[0]}:8443/api/profile")
            curl(confdir, "-H", "Content-Type: application/json", "--data", f'{{"gaid":"{GAID}","msisdn":"{MSISDN}"}}',
                 f"{https}/v1/event")
            curl(confdir, "--data-urlencode", f"imei={IMEI}", "--data-urlencode", f"email={EMAIL}",
                 f"https://{HOSTS[0]}:8443/api/register")
            curl(confdir, f"http://{HOSTS[1]}:8080/pixel.gif?msisdn={MSISDN}")
            websocket(confdir)
            time.sleep(1.0)
        finally:
            proxy.send_signal(signal.SIGINT)  # mitmdump writes the HAR when it exits
            proxy.wait(20)
            server.send_signal(signal.SIGTERM)
            server.wait(10)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
