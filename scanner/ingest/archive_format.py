"""How HAR and mitmproxy flow files are recognised: by their first bytes, like capture formats.

A leaf module (it imports nothing of privscan) so that the input expansion (sources.py) can
recognise archives in directories without importing the archive readers.
"""

from __future__ import annotations

import re

HAR = "har"
MITMPROXY = "mitmproxy"

SNIFF_BYTES = 4096  # what recognition looks at (a HAR's '{"log":' may follow white space)
_HAR_HEAD = re.compile(rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"log"\s*:')
# A tnetstring (mitmproxy's serialisation): "<length>:" then a dict whose first key is a string
# ("<length>:<key>;"), the key in lower case ASCII (mitmproxy's field names).
_MITMPROXY_HEAD = re.compile(rb"\A[1-9][0-9]{0,11}:[1-9][0-9]{0,2}:[a-z_]{1,40};")


def archive_format(head: bytes) -> str | None:
    """``"har"``, ``"mitmproxy"`` or None, from the first bytes of a (decompressed) file."""
    if _HAR_HEAD.match(head):
        return HAR
    if _MITMPROXY_HEAD.match(head):
        return MITMPROXY
    return None
