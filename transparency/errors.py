"""The typed refusals of the transparency package: each carries a one-sentence ``reason``."""

from __future__ import annotations


class TransparencyError(ValueError):
    """Something offered to the verifier was refused; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProofError(TransparencyError):
    """A Merkle proof, tree size or hash was refused."""


class NoteError(TransparencyError):
    """A signed note or a key string was malformed, or no trusted signature verified."""


class CheckpointError(TransparencyError):
    """A checkpoint body did not follow the C2SP tlog-checkpoint format."""


class LeafError(TransparencyError):
    """A leaf record or its encoding was refused."""
