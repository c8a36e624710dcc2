"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys.

A note is a UTF-8 text ending in a newline, a blank line, then one line per signature::

    — <key name> <base64(4-byte key id ‖ 64-byte Ed25519 signature)>

(the dash is U+2014). The signature covers the text, its final newline included. The key id
is the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key), big-endian.

Key strings are those of Go's ``golang.org/x/mod/sumdb/note``:

- verifier (public): ``<name>+<8 hex key id>+<base64(0x01 ‖ public key)>``
- signer (secret): ``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 ‖ 32-byte seed)>``

Opening a note ignores signatures by unknown keys, refuses one by a known key that does not
verify, and needs at least one known valid signature. A cosignature is one more signature
line by another key (a witness) over the same text: :func:`add_signatures`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from transparency.errors import NoteError

ALG_ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # "— "
MAX_SIGNATURES = 100  # as Go's reader: a note with more is refused rather than parsed forever


def _b64decode(text: str) -> bytes:
    """Strict standard base64 (padding required, nothing else allowed)."""
    try:
        decoded = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise NoteError("not valid base64") from None
    if base64.b64encode(decoded).decode("ascii") != text:
        raise NoteError("not canonical base64")
    return decoded


def valid_name(name: str) -> bool:
    """A key name: non-empty, no white space, no '+' (so key strings split unambiguously)."""
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def key_id(name: str, key: bytes) -> int:
    """The 32-bit key id of ``key`` (algorithm byte ‖ public key) under ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8") + b"\n" + key).digest()[:4], "big")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A named Ed25519 public key that checks signatures."""

    name: str
    public_key: bytes  # 32 bytes

    @property
    def key_id(self) -> int:
        return key_id(self.name, bytes([ALG_ED25519]) + self.public_key)

    @property
    def key_string(self) -> str:
        encoded = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Signer:
    """A named Ed25519 private key (from its 32-byte seed) that signs notes."""

    name: str
    seed: bytes  # 32 bytes

    def _key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, _raw_public(self._key().public_key()))

    @property
    def key_id(self) -> int:
        return self.verifier.key_id

    @property
    def key_string(self) -> str:
        encoded = base64.b64encode(bytes([ALG_ED25519]) + self.seed).decode("ascii")
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{encoded}"

    def sign(self, message: bytes) -> bytes:
        return self._key().sign(message)


def generate_signer(name: str) -> Signer:
    """A new random key named ``name`` (for a log, its origin)."""
    if not valid_name(name):
        raise NoteError(f"a key name must be non-empty, without spaces or '+': {name!r}")
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    return Signer(name, seed)


def _split_key(text: str, parts: int, what: str) -> list[str]:
    fields = text.strip().split("+", parts - 1)  # the base64 key at the end may hold '+' itself
    if len(fields) != parts:
        raise NoteError(f"a {what} key string has {parts} fields separated by '+'")
    return fields


def _check_key_fields(name: str, hex_id: str, key: bytes, what: str) -> None:
    if not valid_name(name):
        raise NoteError(f"the {what} key's name is not a valid key name")
    if len(hex_id) != 8 or any(ch not in "0123456789abcdef" for ch in hex_id):
        raise NoteError(f"the {what} key's id must be 8 lowercase hex digits")
    if len(key) != 33 or key[0] != ALG_ED25519:
        raise NoteError(f"the {what} key is not an Ed25519 key (0x01 and 32 bytes)")


def parse_verifier(text: str) -> Verifier:
    """A verifier from its key string ``name+hexid+base64(0x01 ‖ key)``; refuses a wrong id."""
    name, hex_id, encoded = _split_key(text, 3, "verifier")
    try:
        key = _b64decode(encoded)
    except NoteError:
        raise NoteError("the verifier key is not valid base64") from None
    _check_key_fields(name, hex_id, key, "verifier")
    verifier = Verifier(name, key[1:])
    if verifier.key_id != int(hex_id, 16):
        raise NoteError("the verifier key's id does not match its name and key")
    return verifier


def parse_signer(text: str) -> Signer:
    """A signer from its key string ``PRIVATE+KEY+name+hexid+base64(0x01 ‖ seed)``."""
    private, key_word, name, hex_id, encoded = _split_key(text, 5, "signer")
    if (private, key_word) != ("PRIVATE", "KEY"):
        raise NoteError("a signer key string starts with PRIVATE+KEY+")
    try:
        key = _b64decode(encoded)
    except NoteError:
        raise NoteError("the signer key is not valid base64") from None
    _check_key_fields(name, hex_id, key, "signer")
    signer = Signer(name, key[1:])
    if signer.key_id != int(hex_id, 16):
        raise NoteError("the signer key's id does not match its name and key")
    return signer


@dataclass(frozen=True)
class Signature:
    """One signature line: the key's name and id, and the Ed25519 signature bytes."""

    name: str
    key_id: int
    signature: bytes

    @property
    def line(self) -> str:
        encoded = base64.b64encode(self.key_id.to_bytes(4, "big") + self.signature).decode("ascii")
        return f"{SIGNATURE_PREFIX}{self.name} {encoded}\n"


@dataclass(frozen=True)
class Note:
    """An opened note: its text, the signatures that verified, and those by unknown keys."""

    text: str
    signatures: tuple[Signature, ...]
    unverified: tuple[Signature, ...] = ()

    def signed_by(self, verifier: Verifier) -> bool:
        return any(s.name == verifier.name and s.key_id == verifier.key_id for s in self.signatures)


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("a note's text must end with a newline")
    for ch in text:
        if ch < " " and ch != "\n":
            raise NoteError("a note must not contain control characters other than newline")
        if "\ud800" <= ch <= "\udfff":
            raise NoteError("a note must be valid UTF-8")


def split(message: bytes | str) -> tuple[str, list[Signature]]:
    """A note's text and its signature lines, parsed but not verified; refuses malformed notes."""
    if isinstance(message, bytes):
        try:
            message = message.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("a note must be valid UTF-8") from None
    for ch in message:
        if (ch < " " and ch != "\n") or "\ud800" <= ch <= "\udfff":
            raise NoteError("a note must not contain control characters other than newline")
    cut = message.rfind("\n\n")
    if cut < 0:
        raise NoteError("a note needs a blank line between its text and its signatures")
    text, block = message[: cut + 1], message[cut + 2:]
    if not text or not block or not block.endswith("\n"):
        raise NoteError("a note needs a text and signature lines, each ending with a newline")
    signatures: list[Signature] = []
    for line in block[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("every line after the blank line must be a signature starting with '— '")
        name, space, encoded = line[len(SIGNATURE_PREFIX):].partition(" ")
        if not space or not valid_name(name) or not encoded:
            raise NoteError("a signature line is '— <key name> <base64>'")
        try:
            raw = _b64decode(encoded)
        except NoteError:
            raise NoteError(f"the signature by {name} is not valid base64") from None
        if len(raw) < 5:
            raise NoteError(f"the signature by {name} is too short")
        signatures.append(Signature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
        if len(signatures) > MAX_SIGNATURES:
            raise NoteError(f"a note with more than {MAX_SIGNATURES} signatures is refused")
    return text, signatures


def open_note(message: bytes | str, verifiers: Iterable[Verifier]) -> Note:
    """Verify a signed note against trusted keys: at least one must have signed it, validly.

    A signature by a key not in ``verifiers`` is kept as unverified; a signature by a trusted
    key (same name and id) that does not verify refuses the whole note.
    """
    text, signatures = split(message)
    known = {(v.name, v.key_id): v for v in verifiers}
    verified: list[Signature] = []
    unverified: list[Signature] = []
    for signature in signatures:
        verifier = known.get((signature.name, signature.key_id))
        if verifier is None:
            if signature not in unverified:
                unverified.append(signature)
            continue
        if any((s.name, s.key_id) == (signature.name, signature.key_id) for s in verified):
            continue
        if not verifier.verify(text.encode("utf-8"), signature.signature):
            raise NoteError(f"the signature by {signature.name} (key {signature.key_id:08x}) does not verify")
        verified.append(signature)
    if not verified:
        names = ", ".join(sorted({v.name for v in known.values()})) or "none given"
        raise NoteError(f"the note carries no valid signature by a trusted key ({names})")
    return Note(text, tuple(verified), tuple(unverified))


def sign(text: str, *signers: Signer) -> str:
    """A signed note: ``text`` (ending in a newline) signed by each signer in turn."""
    _check_text(text)
    if not signers:
        raise NoteError("a note needs at least one signer")
    return text + "\n" + "".join(_signature(text, signer).line for signer in signers)


def _signature(text: str, signer: Signer) -> Signature:
    if not valid_name(signer.name):
        raise NoteError(f"a key name must be non-empty, without spaces or '+': {signer.name!r}")
    return Signature(signer.name, signer.key_id, signer.sign(text.encode("utf-8")))


def add_signatures(message: bytes | str, *signers: Signer) -> str:
    """The note with more signature lines (a witness's cosignature) after those it has.

    The existing signatures are kept as they are, unverified here: the caller opens the note
    with the keys it trusts first. A signer whose key already signed adds nothing.
    """
    text, signatures = split(message)
    present = {(s.name, s.key_id) for s in signatures}
    for signer in signers:
        if (signer.name, signer.key_id) not in present:
            signatures.append(_signature(text, signer))
            present.add((signer.name, signer.key_id))
    return text + "\n" + "".join(s.line for s in signatures)
