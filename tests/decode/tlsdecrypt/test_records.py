"""Record decryption against RFC 8448 s3's records (made by another implementation, not ours)."""

from __future__ import annotations

from scanner.decode.tlsdecrypt.records import RecordDecryptor
from scanner.decode.tlsdecrypt.suites import SUITES

H = bytes.fromhex
CLIENT_APP_SECRET = H("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5")
# {client} send application_data record: 50 bytes 00..31 under the client application keys.
CLIENT_APP_RECORD = H(
    "1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f2b9819a8a5b46b395bd54a9a20441e2b"
    "62974e1f5a6292a2977014bd1e3deae63aeebb21694915e4"
)


def test_rfc8448_client_application_record_decrypts_from_the_traffic_secret() -> None:
    reader = RecordDecryptor.tls13(SUITES[0x1301], CLIENT_APP_SECRET)
    inner_type, plain = reader.open(23, CLIENT_APP_RECORD[:5], CLIENT_APP_RECORD[5:]) or (0, b"")
    assert inner_type == 23
    assert plain == bytes(range(0x32))
    assert reader.seq == 1


def test_a_damaged_record_or_a_wrong_key_is_none_and_keeps_the_sequence_number() -> None:
    reader = RecordDecryptor.tls13(SUITES[0x1301], CLIENT_APP_SECRET)
    damaged = bytearray(CLIENT_APP_RECORD)
    damaged[20] ^= 1
    assert reader.open(23, bytes(damaged[:5]), bytes(damaged[5:])) is None
    assert reader.seq == 0
    wrong = RecordDecryptor.tls13(SUITES[0x1301], bytes(32))
    assert wrong.open(23, CLIENT_APP_RECORD[:5], CLIENT_APP_RECORD[5:]) is None
    assert reader.open(23, CLIENT_APP_RECORD[:5], b"") is None


def test_the_connection_table_drops_the_longest_idle_and_counts_it() -> None:
    from scanner.decode.protocols.base import Anomalies
    from scanner.decode.tlsdecrypt.context import ConnectionTable, DecryptionContext, decryption_warnings

    anomalies = Anomalies()
    table: ConnectionTable[str] = ConnectionTable("tls_decrypt", 2, anomalies)
    table.add("a", "A")
    table.add("b", "B")
    assert table.get("a") == "A"  # now "b" is the longest idle
    table.add("c", "C")
    assert (table.get("b"), table.get("a"), table.get("c"), len(table), table.evicted) == (None, "A", "C", 2, 1)
    assert anomalies.counts == {"tls_decrypt_table_full": 1}
    context = DecryptionContext(None, anomalies)
    context.tls = table  # type: ignore[assignment]
    context.unreadable("tls")
    counters = context.counters()
    assert counters == {"tls_connections_unreadable": 1, "tls_connections_evicted": 1}
    warnings = decryption_warnings(counters, ())
    assert len(warnings) == 2 and "dropped before their ServerHello" in warnings[1]
