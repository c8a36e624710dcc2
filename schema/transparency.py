"""The transparency log for players: a proof that one of their ledger transactions is in
the log (thin resolver over `app.transparency.proofs`)."""

from __future__ import annotations

import base64

import strawberry
from strawberry.types import Info

from app.errors import ServiceError
from app.transparency import proofs
from schema.errors import client_error
from schema.permissions import IsAuthenticated


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@strawberry.type(description=(
    "What a player needs to check offline that a transaction is in the log: the leaf, its "
    "inclusion proof and the signed checkpoint it leads to (`carbon-planet log verify`)."))
class LedgerProof:
    transaction_id: strawberry.ID
    leaf: str = strawberry.field(description=(
        "The leaf, base64: the transaction's canonical encoding as the ledger's rows give it now."))
    leaf_index: int
    tree_size: int = strawberry.field(description="The size of the tree the proof is against.")
    inclusion_proof: list[str] = strawberry.field(description="The audit path, base64 hashes, bottom up.")
    checkpoint: str = strawberry.field(description="The signed checkpoint note (C2SP tlog-checkpoint).")

    @classmethod
    def of(cls, proof: proofs.LedgerProof) -> LedgerProof:
        return cls(transaction_id=strawberry.ID(proof.transaction_id), leaf=_b64(proof.leaf),
                   leaf_index=proof.leaf_index, tree_size=proof.tree_size,
                   inclusion_proof=[_b64(h) for h in proof.inclusion_proof], checkpoint=proof.checkpoint)


@strawberry.type
class TransparencyQuery:
    @strawberry.field(permission_classes=[IsAuthenticated], description=(
        "The proof that one of your ledger transactions is in the transparency log, against the "
        "latest checkpoint. NOT_FOUND for a transaction that is not yours; NOT_AVAILABLE for one "
        "not in the log yet (try again in a few seconds)."))
    async def ledger_proof(self, info: Info, transaction_id: strawberry.ID) -> LedgerProof:
        player = await info.context.player()
        try:
            return LedgerProof.of(await proofs.ledger_proof(str(player.id), str(transaction_id)))
        except ServiceError as exc:
            error = client_error(exc)
            if exc.retry_after_seconds:
                error.extensions = {**(error.extensions or {}), "retryAfterSeconds": exc.retry_after_seconds}
            raise error from None
