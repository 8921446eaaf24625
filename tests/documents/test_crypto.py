"""The streaming encryption of stored contents (portal/crypto.py): round trips, and every kind of
damage — a flipped byte, truncation (also exactly at a segment boundary), reordered or foreign
segments, a wrong key, the wrong object (associated data) — is refused with DecryptionFailed."""
from __future__ import annotations

import io
import os

import pytest

from portal import crypto
from portal.crypto import HEADER_LEN, TAG_LEN, DecryptionFailed

SEG = 64  # small segments so that multi-segment cases stay small
KEY = bytes(range(32))
AAD = b"portal-object:archives/1/abc"


def encrypt(plain: bytes, key: bytes = KEY, aad: bytes = AAD, segment: int = SEG, read_size: int = 37) -> bytes:
    reader = crypto.EncryptingReader(io.BytesIO(plain), len(plain), key, aad, segment=segment)
    out = bytearray()
    while chunk := reader.read(read_size):
        out += chunk
    assert len(out) == reader.size == crypto.encrypted_size(len(plain), segment)
    return bytes(out)


def decrypt(sealed: bytes, key: bytes = KEY, aad: bytes = AAD, chunk: int = 50) -> bytes:
    chunks = [sealed[i:i + chunk] for i in range(0, len(sealed), chunk)]
    return b"".join(crypto.decrypt_stream(chunks, key, aad))


def segments(sealed: bytes, segment: int = SEG) -> tuple[bytes, list[bytes]]:
    """(header, sealed segments) of a ciphertext."""
    body = sealed[HEADER_LEN:]
    size = segment + TAG_LEN
    return sealed[:HEADER_LEN], [body[i:i + size] for i in range(0, len(body), size)]


@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG, 3 * SEG - 5, 3 * SEG + 7])
def test_round_trip(size):
    plain = os.urandom(size)
    sealed = encrypt(plain)
    assert plain == decrypt(sealed)
    if size >= 16:
        assert plain not in sealed
    # any chunking of the stored stream gives the same result
    assert decrypt(sealed, chunk=1) == plain == decrypt(sealed, chunk=len(sealed) or 1)


def test_default_segment_round_trip_of_a_few_megabytes():
    plain = os.urandom(crypto.SEGMENT * 2 + 12345)
    sealed = encrypt(plain, segment=crypto.SEGMENT, read_size=256 * 1024)
    assert decrypt(sealed, chunk=256 * 1024) == plain


def test_digests_see_the_plaintext_as_it_passes():
    plain = os.urandom(3 * SEG + 3)
    digests = crypto.fixity_digests()
    reader = crypto.EncryptingReader(io.BytesIO(plain), len(plain), KEY, AAD, digests.values(), segment=SEG)
    reader.read()
    import hashlib
    assert digests["sha256"].hexdigest() == hashlib.sha256(plain).hexdigest()
    assert len(digests["sm3"].hexdigest()) == 64


def test_each_encryption_differs():
    plain = b"same contract" * 10
    assert encrypt(plain) != encrypt(plain)


@pytest.mark.parametrize("keep_segments", [0, 1, 2])
def test_truncation_at_a_segment_boundary_is_detected(keep_segments):
    sealed = encrypt(os.urandom(3 * SEG))
    header, parts = segments(sealed)
    assert len(parts) == 3
    cut = header + b"".join(parts[:keep_segments])
    with pytest.raises(DecryptionFailed):
        decrypt(cut)


@pytest.mark.parametrize("cut", [1, 5, TAG_LEN, SEG])
def test_truncation_inside_a_segment_is_detected(cut):
    sealed = encrypt(os.urandom(3 * SEG + 10))
    with pytest.raises(DecryptionFailed):
        decrypt(sealed[:-cut])


def test_truncated_header_and_empty_object_are_detected():
    sealed = encrypt(b"x")
    for broken in (b"", sealed[:HEADER_LEN - 1], sealed[:HEADER_LEN]):
        with pytest.raises(DecryptionFailed):
            decrypt(broken)


def test_extension_is_detected():
    sealed = encrypt(os.urandom(2 * SEG))
    with pytest.raises(DecryptionFailed):
        decrypt(sealed + b"\x00")
    header, parts = segments(sealed)
    with pytest.raises(DecryptionFailed):  # a segment repeated at the end
        decrypt(header + b"".join(parts) + parts[0])


def test_reordered_segments_are_detected():
    sealed = encrypt(os.urandom(3 * SEG))
    header, parts = segments(sealed)
    with pytest.raises(DecryptionFailed):
        decrypt(header + parts[1] + parts[0] + parts[2])
    with pytest.raises(DecryptionFailed):  # the last segment moved forward
        decrypt(header + parts[0] + parts[2] + parts[1])


def test_segment_from_another_object_is_detected():
    plain = os.urandom(2 * SEG)
    header, parts = segments(encrypt(plain))
    _other_header, other_parts = segments(encrypt(plain))
    with pytest.raises(DecryptionFailed):
        decrypt(header + parts[0] + other_parts[1])


@pytest.mark.parametrize("position", ["magic", "prefix", "segment size", "first segment", "tag", "last byte"])
def test_a_flipped_byte_anywhere_is_detected(position):
    sealed = bytearray(encrypt(os.urandom(2 * SEG + 9)))
    index = {"magic": 0, "prefix": 9, "segment size": HEADER_LEN - 1, "first segment": HEADER_LEN + 3,
             "tag": HEADER_LEN + SEG + 2, "last byte": len(sealed) - 1}[position]
    sealed[index] ^= 0x01
    with pytest.raises(DecryptionFailed):
        decrypt(bytes(sealed))


def test_nothing_of_an_altered_segment_is_released():
    plain = os.urandom(3 * SEG)
    sealed = bytearray(encrypt(plain))
    sealed[HEADER_LEN + (SEG + TAG_LEN) + 5] ^= 0x80  # inside the second segment
    released = []
    with pytest.raises(DecryptionFailed):
        for piece in crypto.decrypt_stream([bytes(sealed)], KEY, AAD):
            released.append(piece)
    assert b"".join(released) == plain[:SEG]  # the first (intact) segment only


def test_wrong_key_is_detected():
    sealed = encrypt(b"secret contract")
    with pytest.raises(DecryptionFailed):
        decrypt(sealed, key=bytes(32))


def test_wrong_associated_data_is_detected():
    """The object key is bound in: a copy moved under another key does not open."""
    sealed = encrypt(b"secret contract")
    with pytest.raises(DecryptionFailed):
        decrypt(sealed, aad=b"portal-object:archives/2/abc")


def test_implausible_segment_size_in_the_header_is_refused():
    sealed = bytearray(encrypt(b"abc"))
    sealed[HEADER_LEN - 4:HEADER_LEN] = (0xFFFFFFFF).to_bytes(4, "big")
    with pytest.raises(DecryptionFailed, match="segment size"):
        decrypt(bytes(sealed))
    sealed[HEADER_LEN - 4:HEADER_LEN] = (0).to_bytes(4, "big")
    with pytest.raises(DecryptionFailed):
        decrypt(bytes(sealed))


def test_source_shorter_than_announced_fails_loudly():
    reader = crypto.EncryptingReader(io.BytesIO(b"short"), 100, KEY, AAD, segment=SEG)
    with pytest.raises(OSError, match="ended early"):
        reader.read()


def test_key_wrapping_and_sealed_values():
    master, other = os.urandom(32), os.urandom(32)
    data_key = crypto.new_data_key()
    wrapped = crypto.wrap(master, data_key)
    assert crypto.unwrap(master, wrapped) == data_key
    with pytest.raises(DecryptionFailed):
        crypto.unwrap(other, wrapped)
    assert crypto.key_id(master) != crypto.key_id(other)

    sealed = crypto.seal(data_key, b"thumbnail png", b"thumb:a:1")
    assert crypto.open_sealed(data_key, sealed, b"thumb:a:1") == b"thumbnail png"
    for key, blob, aad in ((data_key, sealed, b"thumb:a:2"), (other, sealed, b"thumb:a:1"),
                           (data_key, sealed[:-1], b"thumb:a:1"), (data_key, sealed[:5], b"thumb:a:1")):
        with pytest.raises(DecryptionFailed):
            crypto.open_sealed(key, blob, aad)


def test_master_key_is_made_once_and_kept_private(tmp_path):
    key = crypto.load_master_key(None, str(tmp_path))
    assert len(key) == 32 and crypto.load_master_key(None, str(tmp_path)) == key
    assert (tmp_path / "master_key").stat().st_mode & 0o077 == 0
    import base64
    assert crypto.load_master_key(base64.b64encode(b"k" * 32).decode(), str(tmp_path)) == b"k" * 32
    with pytest.raises(ValueError):
        crypto.load_master_key(base64.b64encode(b"short").decode(), str(tmp_path))


def test_master_key_made_by_many_threads_at_once_is_one_key(tmp_path):
    import threading

    barrier = threading.Barrier(8)
    keys, errors = [], []

    def load():
        barrier.wait()
        try:
            keys.append(crypto.load_master_key(None, str(tmp_path)))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(set(keys)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["master_key"]
