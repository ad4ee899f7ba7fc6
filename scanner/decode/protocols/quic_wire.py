"""QUIC wire format shared by the QUIC decoder's parts: variable-length integers, packet numbers, frames.

Follows RFC 9000 (s16 variable-length integers, Appendix A.3 packet-number
decoding, s19 frames; RFC 9221 DATAGRAM frames).  The frame walk reads CRYPTO
and STREAM frames and steps over every other frame a client may send; a frame
it cannot step over ends the walk, and the caller counts it as an anomaly.
Version-independent: QUIC v2 (RFC 9369) changes none of it.
"""

from __future__ import annotations

import re


class QuicFormatError(Exception):
    """Raised inside the parser only; the decoder counts it as an anomaly."""


def varint(buf: bytes, offset: int) -> tuple[int, int]:
    """A variable-length integer (RFC 9000 s16) at ``offset``, and the offset after it."""
    first = buf[offset]
    size = 1 << (first >> 6)
    if size == 1:
        return first, offset + 1
    end = offset + size
    if end > len(buf):
        raise QuicFormatError("varint runs past the end")
    return int.from_bytes(buf[offset:end], "big") & ((1 << (8 * size - 2)) - 1), end


def decode_packet_number(truncated: int, pn_len: int, largest: int) -> int:
    """RFC 9000 Appendix A.3: the full packet number nearest to the next one expected."""
    expected = largest + 1
    win = 1 << (8 * pn_len)
    half = win // 2
    candidate = (expected & ~(win - 1)) | truncated
    if candidate <= expected - half and candidate < (1 << 62) - win:
        return candidate + win
    if candidate > expected + half and candidate >= win:
        return candidate - win
    return candidate


NOT_PADDING = re.compile(b"[^\x00]")

# Frames that may follow one another in a packet, and how many varints they carry
# after the type (RFC 9000 s19), for the ones we do not read but must step over.
_VARINT_FRAMES = {
    0x01: 0,  # PING
    0x04: 3,  # RESET_STREAM
    0x05: 2,  # STOP_SENDING
    0x10: 1,  # MAX_DATA
    0x11: 2,  # MAX_STREAM_DATA
    0x12: 1,  # MAX_STREAMS (bidi)
    0x13: 1,  # MAX_STREAMS (uni)
    0x14: 1,  # DATA_BLOCKED
    0x15: 2,  # STREAM_DATA_BLOCKED
    0x16: 1,  # STREAMS_BLOCKED (bidi)
    0x17: 1,  # STREAMS_BLOCKED (uni)
    0x19: 1,  # RETIRE_CONNECTION_ID
    0x1E: 0,  # HANDSHAKE_DONE
}
FRAME_PADDING, FRAME_ACK, FRAME_ACK_ECN, FRAME_CRYPTO = 0x00, 0x02, 0x03, 0x06
FRAME_NEW_TOKEN, FRAME_NEW_CONNECTION_ID = 0x07, 0x18
FRAME_PATH_CHALLENGE, FRAME_PATH_RESPONSE = 0x1A, 0x1B
FRAME_CONNECTION_CLOSE, FRAME_CONNECTION_CLOSE_APP = 0x1C, 0x1D
FRAME_DATAGRAM, FRAME_DATAGRAM_LEN = 0x30, 0x31  # RFC 9221


StreamFrame = tuple[int, int, bytes, bool]  # (stream id, offset, data, FIN)


def crypto_frames(plain: bytes) -> tuple[list[tuple[int, bytes]], bool]:
    """The (offset, data) of every CRYPTO frame in a decrypted packet payload.

    Returns the frames read and whether the whole payload was understood.  A
    frame we cannot step over ends the walk: what came before it stands.
    """
    crypto, _, clean = read_frames(plain, False)
    return crypto, clean


# Set on the list of STREAM frames read_frames returns when the packet closed the connection.
class StreamFrames(list[StreamFrame]):
    closed = False


def read_frames(plain: bytes, streams: bool = True) -> tuple[list[tuple[int, bytes]], StreamFrames, bool]:
    """The CRYPTO frames and (with ``streams``) the STREAM frames of a decrypted payload (RFC 9000 s19),
    and whether the whole payload was understood; ``closed`` on the STREAM frames' list says the
    packet carried a CONNECTION_CLOSE."""
    frames: list[tuple[int, bytes]] = []
    stream_frames = StreamFrames()
    i, n = 0, len(plain)
    try:
        while i < n:
            ftype = plain[i]
            if ftype == FRAME_PADDING:
                # Padding is most of an Initial: skip the run in C, not byte by byte.
                match = NOT_PADDING.search(plain, i)
                i = match.start() if match else n
                continue
            if ftype < 0x40:
                i += 1
            else:
                ftype, i = varint(plain, i)
            if ftype == FRAME_CRYPTO:
                offset, i = varint(plain, i)
                length, i = varint(plain, i)
                if i + length > n:
                    raise QuicFormatError("CRYPTO frame runs past the end")
                frames.append((offset, plain[i : i + length]))
                i += length
            elif ftype in _VARINT_FRAMES:
                for _ in range(_VARINT_FRAMES[ftype]):
                    _, i = varint(plain, i)
            elif ftype in (FRAME_ACK, FRAME_ACK_ECN):
                _, i = varint(plain, i)  # largest acknowledged
                _, i = varint(plain, i)  # ack delay
                ranges, i = varint(plain, i)
                _, i = varint(plain, i)  # first range
                for _ in range(2 * ranges + (3 if ftype == FRAME_ACK_ECN else 0)):
                    _, i = varint(plain, i)  # gap/length pairs, then the ECN counts
            elif ftype in (FRAME_CONNECTION_CLOSE, FRAME_CONNECTION_CLOSE_APP):
                stream_frames.closed = True
                return frames, stream_frames, True  # nothing after a close matters
            elif ftype == FRAME_NEW_TOKEN:
                length, i = varint(plain, i)
                i += length
            elif 0x08 <= ftype <= 0x0F:  # STREAM, with OFF (0x04), LEN (0x02) and FIN (0x01) bits
                stream_id, i = varint(plain, i)
                offset = 0
                if ftype & 0x04:
                    offset, i = varint(plain, i)
                if ftype & 0x02:
                    length, i = varint(plain, i)
                    if i + length > n:
                        raise QuicFormatError("STREAM frame runs past the end")
                else:
                    length = n - i  # no Length: the data runs to the end of the packet
                if streams:
                    stream_frames.append((stream_id, offset, plain[i : i + length], bool(ftype & 0x01)))
                i += length
            elif ftype == FRAME_NEW_CONNECTION_ID:
                _, i = varint(plain, i)
                _, i = varint(plain, i)
                i += 1 + plain[i] + 16  # length, connection id, stateless reset token
            elif ftype in (FRAME_PATH_CHALLENGE, FRAME_PATH_RESPONSE):
                i += 8
            elif ftype == FRAME_DATAGRAM:
                return frames, stream_frames, True
            elif ftype == FRAME_DATAGRAM_LEN:
                length, i = varint(plain, i)
                i += length
            else:
                return frames, stream_frames, False
    except (IndexError, QuicFormatError):
        return frames, stream_frames, False
    return frames, stream_frames, i == n
