"""Encryption of stored contents: a data key per archive, wrapped by the master key.

* The **master key** (32 bytes) comes from ``PORTAL_MASTER_KEY`` (base64) or, in the embedded
  setup, from ``<instance>/master_key`` made on first start. It never reaches the store or the
  database; keep a copy apart from the backups.
* Each archive has a random 256-bit **data key**, stored only wrapped (AES key wrap, RFC 3394)
  in ``archive_key``. Destroying that row (retention issue) makes every copy of the archive's
  objects — all versions, backups, replicas — unreadable.
* Contents are encrypted in a streaming AEAD format (the STREAM construction of Hoang, Reyhanitabar,
  Rogaway and Vizár, as used by Tink's streaming AEAD): 1 MiB segments, each sealed with AES-256-GCM
  under a nonce made of a random per-object prefix, the segment counter and a last-segment flag.
  Every segment is authenticated before its plaintext is released; reordering, truncation and
  extension are detected. The object key is bound in as associated data.

Format: ``MAGIC (8) | nonce prefix (7) | segment size (4, big endian) | sealed segments``.
"""
from __future__ import annotations

import base64
import hashlib
import os
import secrets
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

MAGIC = b"CAPSTRM1"
PREFIX_LEN = 7
HEADER_LEN = len(MAGIC) + PREFIX_LEN + 4
TAG_LEN = 16
SEGMENT = 1024 * 1024
MAX_SEGMENT = 64 * 1024 * 1024  # a header claiming more is taken for damage (and bounds memory)


class DecryptionFailed(Exception):
    """The ciphertext was altered, truncated, or sealed under another key."""


# --- master key -------------------------------------------------------------------------------

def load_master_key(configured: str | None, instance_path: str) -> bytes:
    """The configured master key, or the instance's own (created once, mode 0600)."""
    if configured:
        key = base64.b64decode(configured)
        if len(key) != 32:
            raise ValueError("PORTAL_MASTER_KEY must be 32 bytes, base64-encoded")
        return key
    path = Path(instance_path) / "master_key"
    if not path.exists():
        # Written whole to a file of its own, then linked into place: a second thread or worker
        # starting at the same moment either wins the link or reads the winner's complete key.
        tmp = path.with_name(f".master_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(base64.b64encode(secrets.token_bytes(32)).decode())
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    key = base64.b64decode(path.read_text().strip())
    if len(key) != 32:
        raise ValueError(f"{path} does not hold a 32-byte base64 key")
    return key


def key_id(master: bytes) -> str:
    """A short public name of a master key (to tell which key wrapped a data key)."""
    return hashlib.sha256(b"portal-master-key-id" + master).hexdigest()[:16]


def new_data_key() -> bytes:
    return secrets.token_bytes(32)


def wrap(master: bytes, data_key: bytes) -> bytes:
    return aes_key_wrap(master, data_key)


def unwrap(master: bytes, wrapped: bytes) -> bytes:
    try:
        return aes_key_unwrap(master, wrapped)
    except InvalidUnwrap as exc:
        raise DecryptionFailed("the data key was not wrapped by this master key") from exc


# --- small values (thumbnails) ----------------------------------------------------------------

def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < 12 + TAG_LEN:
        raise DecryptionFailed("sealed value truncated")
    try:
        return AESGCM(key).decrypt(sealed[:12], sealed[12:], aad)
    except InvalidTag as exc:
        raise DecryptionFailed("sealed value altered") from exc


# --- streams ----------------------------------------------------------------------------------

def encrypted_size(plain_size: int, segment: int = SEGMENT) -> int:
    segments = max(1, -(-plain_size // segment))
    return HEADER_LEN + plain_size + segments * TAG_LEN


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", counter) + (b"\x01" if last else b"\x00")


class EncryptingReader:
    """A file-like ``read(n)`` over the ciphertext of ``source`` (which has ``plain_size`` bytes).

    Memory: one segment of plaintext and one of ciphertext, whatever the file size. ``digests``
    are updated with the plaintext as it passes (e.g. SHA-256 and SM3 for fixity).
    """

    def __init__(self, source, plain_size: int, key: bytes, aad: bytes, digests=(),
                 segment: int = SEGMENT):
        if not 0 < segment <= MAX_SEGMENT:
            raise ValueError(f"segment size must be 1 … {MAX_SEGMENT} bytes")
        self.source = source
        self.remaining = plain_size
        self.aead = AESGCM(key)
        self.aad = aad
        self.segment = segment
        self.prefix = secrets.token_bytes(PREFIX_LEN)
        self.counter = 0
        self.digests = list(digests)
        self.buffer = bytearray(MAGIC + self.prefix + struct.pack(">I", segment))
        self.done = False
        self.size = encrypted_size(plain_size, segment)

    def _next_segment(self) -> None:
        want = min(self.segment, self.remaining)
        chunk = self.source.read(want) if want else b""
        while len(chunk) < want:
            more = self.source.read(want - len(chunk))
            if not more:
                raise OSError(f"source ended early ({self.remaining - len(chunk)} bytes missing)")
            chunk += more
        self.remaining -= len(chunk)
        for digest in self.digests:
            digest.update(chunk)
        last = self.remaining == 0
        self.buffer += self.aead.encrypt(_nonce(self.prefix, self.counter, last), chunk, self.aad)
        self.counter += 1
        self.done = last

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self.size
        while len(self.buffer) < n and not self.done:
            self._next_segment()
        with memoryview(self.buffer) as view:
            out = bytes(view[:n])  # one copy; ``bytes(self.buffer[:n])`` made two (10 MiB each per S3 part)
        del self.buffer[:n]
        return out


def decrypt_stream(chunks: Iterable[bytes], key: bytes, aad: bytes) -> Iterator[bytes]:
    """Yield plaintext segments of a ciphertext stream, each only after it is authenticated."""
    buffer = bytearray()
    iterator = iter(chunks)
    header = None
    aead = AESGCM(key)
    counter = 0
    exhausted = False
    while True:
        while not exhausted and (header is None or len(buffer) <= header[1] + TAG_LEN):
            try:
                buffer += next(iterator)
            except StopIteration:
                exhausted = True
            if header is None and len(buffer) >= HEADER_LEN:
                if bytes(buffer[:len(MAGIC)]) != MAGIC:
                    raise DecryptionFailed("not an encrypted portal object")
                prefix = bytes(buffer[len(MAGIC):len(MAGIC) + PREFIX_LEN])
                segment = struct.unpack(">I", buffer[len(MAGIC) + PREFIX_LEN:HEADER_LEN])[0]
                if not 0 < segment <= MAX_SEGMENT:
                    raise DecryptionFailed(f"implausible segment size {segment} in the header")
                header = (prefix, segment)
                del buffer[:HEADER_LEN]
        if header is None:
            raise DecryptionFailed("object shorter than its header")
        prefix, segment = header
        sealed_len = segment + TAG_LEN
        last = exhausted and len(buffer) <= sealed_len
        take = len(buffer) if last else sealed_len
        sealed = bytes(buffer[:take])
        del buffer[:take]
        try:
            plain = aead.decrypt(_nonce(prefix, counter, last), sealed, aad)
        except InvalidTag as exc:
            raise DecryptionFailed(f"segment {counter} altered, truncated or under another key") from exc
        counter += 1
        if plain:
            yield plain
        if last:
            return


# --- fixity digests ---------------------------------------------------------------------------

def fixity_digests() -> dict[str, object]:
    """SHA-256 and SM3 (GB/T 32905-2016) side by side."""
    return {"sha256": hashlib.sha256(), "sm3": _new_sm3()}


def _hashlib_sm3_works() -> bool:
    try:
        return hashlib.new("sm3", b"abc").hexdigest() == \
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"  # GB/T 32905 example
    except ValueError:
        return False


def _new_sm3():
    # hashlib's SM3 (Python's OpenSSL, when it offers SM3) releases the GIL while it hashes large
    # chunks, so other threads — the S3 upload threads, other requests — run meanwhile; the
    # ``cryptography`` one holds it (SM3 runs at ~230 MB/s, the slowest step of a 200 MB upload).
    return hashlib.new("sm3") if _HASHLIB_SM3 else _Sm3()


class _Sm3:
    def __init__(self):
        self._hash = hashes.Hash(hashes.SM3())

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def hexdigest(self) -> str:
        return self._hash.finalize().hex()


_HASHLIB_SM3 = _hashlib_sm3_works()
