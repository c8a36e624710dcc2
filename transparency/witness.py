"""A witness's decisions (pure): cosign a log's consistent successor checkpoint, or raise the alarm.

The witness keeps the last checkpoint it cosigned (:class:`WitnessState`, a small JSON the
caller stores). Shown a newer checkpoint of the same log with a consistency proof, it
cosigns only when the log's signature verifies and the new tree extends the kept one. Two
validly signed checkpoints that cannot both be true (two roots for one size, or a larger
tree the proof does not connect) are a **split view**: proof that the log showed different
histories to different people. The result carries both signed notes as evidence and the
state does not move. An older checkpoint (a rollback) is refused. With no state yet, the
first checkpoint is trusted as it is (trust on first use).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from transparency.checkpoint import Checkpoint, LogKeys, open_checkpoint
from transparency.errors import TransparencyError
from transparency.merkle import HASH_SIZE
from transparency.note import Signer, add_signatures
from transparency.verify import check_consistency

STATE_VERSION = 1


class WitnessStateError(TransparencyError):
    """The stored witness state is not one this module wrote."""


@dataclass(frozen=True)
class WitnessState:
    """The last checkpoint the witness cosigned: its tree, and the signed note as received."""

    origin: str
    size: int
    root: bytes
    checkpoint: str

    def to_json(self) -> str:
        return json.dumps({"v": STATE_VERSION, "origin": self.origin, "size": self.size,
                           "root": base64.b64encode(self.root).decode("ascii"), "checkpoint": self.checkpoint},
                          sort_keys=True, ensure_ascii=False, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> WitnessState:
        try:
            data = json.loads(text)
        except ValueError:
            raise WitnessStateError("the witness state is not JSON") from None
        if not isinstance(data, dict) or set(data) != {"v", "origin", "size", "root", "checkpoint"}:
            raise WitnessStateError("the witness state has the fields v, origin, size, root, checkpoint")
        if data["v"] != STATE_VERSION:
            raise WitnessStateError(f"unknown witness state version {data['v']!r}")
        size = data["size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise WitnessStateError("the witness state's size is a non-negative integer")
        if not isinstance(data["origin"], str) or not isinstance(data["checkpoint"], str):
            raise WitnessStateError("the witness state's origin and checkpoint are strings")
        try:
            root = base64.b64decode(str(data["root"]).encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise WitnessStateError("the witness state's root is not base64") from None
        if len(root) != HASH_SIZE:
            raise WitnessStateError(f"the witness state's root is not {HASH_SIZE} bytes")
        return cls(data["origin"], size, root, data["checkpoint"])

    @classmethod
    def of(cls, checkpoint: Checkpoint, note: str) -> WitnessState:
        return cls(checkpoint.origin, checkpoint.size, checkpoint.root, note)


class Outcome(StrEnum):
    COSIGNED = "cosigned"  # consistent successor (or the same tree again): cosigned, state advanced
    REFUSED = "refused"  # not the log's, malformed, another log, or older than the kept one
    SPLIT_VIEW = "split_view"  # two signed checkpoints that cannot both be true: alarm


@dataclass(frozen=True)
class SplitView:
    """The evidence of a split view: both signed notes, the proof offered, and why they conflict."""

    reason: str
    kept: str
    offered: str
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class WitnessResult:
    outcome: Outcome
    reason: str
    state: WitnessState | None  # what to store now (unchanged unless cosigned)
    cosigned: str | None = None  # the offered note with the witness's signature added
    alarm: SplitView | None = None


def observe(state: WitnessState | None, offered: str, proof: Sequence[bytes], log_key: LogKeys,
            witness: Signer) -> WitnessResult:
    """Decide on the checkpoint note ``offered`` with its consistency proof from the kept one."""
    try:
        checkpoint = open_checkpoint(offered, log_key).checkpoint
    except TransparencyError as exc:
        return WitnessResult(Outcome.REFUSED, f"not a checkpoint signed by the log: {exc.reason}", state)

    def cosign(reason: str) -> WitnessResult:
        return WitnessResult(Outcome.COSIGNED, reason, WitnessState.of(checkpoint, offered),
                             add_signatures(offered, witness))

    if state is None:
        return cosign(f"first checkpoint seen, size {checkpoint.size}: trusted on first use")
    if checkpoint.origin != state.origin:
        return WitnessResult(Outcome.REFUSED, f"the checkpoint is of the log {checkpoint.origin!r}, "
                                              f"this witness follows {state.origin!r}", state)
    if checkpoint.size < state.size:
        return WitnessResult(Outcome.REFUSED, f"rollback: size {checkpoint.size} is older than the kept "
                                              f"size {state.size}", state)
    if checkpoint.size == state.size and checkpoint.root != state.root:
        return _split(state, offered, proof, f"two different roots signed for the same size {state.size}")
    kept = Checkpoint(state.origin, state.size, state.root)
    try:
        check_consistency(kept, checkpoint, proof)
    except TransparencyError as exc:
        return _split(state, offered, proof, f"size {checkpoint.size} is not shown to extend the kept size "
                                             f"{state.size}: {exc.reason}")
    if checkpoint.size == state.size:
        return cosign(f"same tree as kept, size {state.size}")
    return cosign(f"consistent successor: size {state.size} → {checkpoint.size}")


def _split(state: WitnessState, offered: str, proof: Sequence[bytes], reason: str) -> WitnessResult:
    alarm = SplitView(reason, state.checkpoint, offered, tuple(proof))
    return WitnessResult(Outcome.SPLIT_VIEW, f"SPLIT VIEW: {reason}", state, alarm=alarm)
