"""Decryption of TLS (RFC 5246, RFC 8446) with the lab's own keys (NSS key log, pcapng DSB).

- ``context``: what a capture's decoders share: the key log, the bounded table of connections
  being decrypted, and the counts of connections that could not be read.
- ``kdf``: the TLS 1.2 PRF (RFC 5246 s5) and HKDF-Expand-Label (RFC 8446 s7.1), also used by QUIC.
- ``suites``: the cipher suites that can be decrypted, as a table.
- ``records``: one direction's record protection (AEAD, CBC + HMAC, TLS 1.3 inner type).
- ``session``: one connection: handshake messages in, keys chosen, application data out.
"""
