"""C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): a log's signed tree head.

The body of the signed note is::

    <origin>
    <tree size, decimal, no leading zeros>
    <root hash, standard base64 of 32 bytes>
    [extension lines, each non-empty]

each line ending with a newline. The log signs it with the key named by the origin, so a
checkpoint of one log can never pass for another's.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from transparency.errors import CheckpointError, NoteError
from transparency.merkle import HASH_SIZE
from transparency.note import Note, Signer, Verifier, open_note, sign

MAX_SIZE = 2**64 - 1  # tree sizes are uint64, as in RFC 9162


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or any(ch < " " for ch in self.origin) or self.origin != self.origin.strip():
            raise CheckpointError("a checkpoint's origin is a non-empty line without surrounding spaces")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not 0 <= self.size <= MAX_SIZE:
            raise CheckpointError("a checkpoint's tree size is an integer from 0 to 2^64-1")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise CheckpointError(f"a checkpoint's root hash is {HASH_SIZE} bytes")
        for line in self.extensions:
            if not line or any(ch < " " for ch in line):
                raise CheckpointError("a checkpoint's extension lines are non-empty single lines")

    @property
    def root_base64(self) -> str:
        return base64.b64encode(self.root).decode("ascii")

    def body(self) -> str:
        """The note text of this checkpoint."""
        return "".join(f"{line}\n" for line in (self.origin, str(self.size), self.root_base64, *self.extensions))


def parse(body: str) -> Checkpoint:
    """A checkpoint from a note's text; strict: refuses leading zeros, bad base64, wrong lengths."""
    if not body.endswith("\n"):
        raise CheckpointError("a checkpoint's body ends with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("a checkpoint has an origin, a tree size and a root hash line")
    origin, size_text, root_text, *extensions = lines
    if not size_text or not size_text.isascii() or not size_text.isdigit():
        raise CheckpointError(f"the tree size is not a decimal number: {size_text!r}")
    if size_text != "0" and size_text.startswith("0"):
        raise CheckpointError(f"the tree size has leading zeros: {size_text!r}")
    try:
        root = base64.b64decode(root_text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise CheckpointError("the root hash is not valid base64") from None
    if base64.b64encode(root).decode("ascii") != root_text:
        raise CheckpointError("the root hash is not canonical base64")
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"the root hash is {len(root)} bytes, not {HASH_SIZE}")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """The checkpoint as a note signed by the log's key (whose name must be the origin)."""
    if signer.name != checkpoint.origin:
        raise CheckpointError(f"the log's key is named {signer.name!r}, not the origin {checkpoint.origin!r}")
    return sign(checkpoint.body(), signer)


@dataclass(frozen=True)
class OpenedCheckpoint:
    checkpoint: Checkpoint
    note: Note


LogKeys = Verifier | Sequence[Verifier]  # the log's key, or its keys while one replaces another


def log_keys(keys: LogKeys) -> list[Verifier]:
    """The log's keys as a list; all carry the log's name (its origin), at least one."""
    found = [keys] if isinstance(keys, Verifier) else list(keys)
    if not found:
        raise NoteError("no key of the log was given")
    if len({key.name for key in found}) != 1:
        raise NoteError("the log's keys must all be named by the log's origin")
    return found


def open_checkpoint(message: bytes | str, log_key: LogKeys, others: Iterable[Verifier] = ()) -> OpenedCheckpoint:
    """Verify a checkpoint note: signed by the log's key (any one of ``log_key`` when several are
    trusted during a key rotation), whose name is the checkpoint's origin.

    ``others`` (witness keys) are checked when their signatures are present; the caller
    decides how many cosignatures it needs from ``note.signatures``.
    """
    keys = log_keys(log_key)
    name = keys[0].name
    note = open_note(message, [*keys, *others])
    if not any(note.signed_by(key) for key in keys):
        raise NoteError(f"the checkpoint is not signed by the log's key {name}")
    checkpoint = parse(note.text)
    if checkpoint.origin != name:
        raise CheckpointError(f"the checkpoint's origin {checkpoint.origin!r} is not the log key's name {name!r}")
    return OpenedCheckpoint(checkpoint, note)
