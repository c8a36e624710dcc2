"""`carbon-planet log …`: the transparency log's commands.

`verify` and `keygen` need no server nor database: they run the pure `transparency` package
on files a player or the regulator holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from transparency.checkpoint import log_keys
from transparency.errors import TransparencyError
from transparency.leaf import format_time
from transparency.note import Verifier, generate_signer, parse_verifier
from transparency.verify import (
    ConsistencyProof,
    InclusionProof,
    verify_consistency_proof,
    verify_inclusion_proof,
)

log_cli = typer.Typer(help="The transparency log: verify proofs offline, make keys, witness.",
                      no_args_is_help=True)


def _refuse(message: str) -> typer.Exit:
    typer.secho(f"REFUSED: {message}", fg="red", err=True)
    return typer.Exit(1)


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _refuse(f"cannot read the {what} {path}: {exc}") from None


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(_read(path, what))
    except ValueError:
        raise _refuse(f"the {what} {path} is not JSON") from None


def _verifiers(keys: list[str]) -> list[Verifier]:
    try:
        found = [parse_verifier(key) for key in keys]
        log_keys(found)
    except TransparencyError as exc:
        raise _refuse(f"the log key: {exc.reason}") from None
    return found


@log_cli.command("verify")
def log_verify(
    key: list[str] = typer.Option(..., "--key", help=(
        "The log's verifier key: name+keyid+base64. Twice (old and new) while the log changes keys.")),
    checkpoint: Path | None = typer.Option(None, "--checkpoint",
                                    help="The signed checkpoint (optional when the proof file carries it)."),
    proof: Path | None = typer.Option(None, "--proof",
                                      help="An inclusion proof (JSON): a leaf is in the checkpoint's tree."),
    consistency: Path | None = typer.Option(None, "--consistency",
                                     help="A consistency proof (JSON) from --old-checkpoint to --checkpoint."),
    old_checkpoint: Path | None = typer.Option(None, "--old-checkpoint", help="The older signed checkpoint."),
) -> None:
    """Check a proof offline against signed checkpoints; print the verdict, exit 0 (verified) or 1."""
    log_key = _verifiers(key)
    if (proof is None) == (consistency is None):
        raise _refuse("give either --proof, or --consistency with --old-checkpoint")
    try:
        if proof is not None:
            bundle = InclusionProof.from_json(_read_json(proof, "proof"))
            note = None if checkpoint is None else _read(checkpoint, "checkpoint")
            verdict = verify_inclusion_proof(bundle, note, log_key)
            typer.echo(f"VERIFIED: leaf {verdict.leaf_index} is in the log {verdict.checkpoint.origin} "
                       f"of {verdict.checkpoint.size} leaves (root {verdict.checkpoint.root_base64}), "
                       f"signed by {log_key[0].name}")
            if verdict.record is not None:
                record = verdict.record
                typer.echo(f"  transaction {record.transaction_id} ({record.type}) at "
                           f"{format_time(record.time)}")
                for posting in record.postings:
                    typer.echo(f"    {posting.owner} {posting.asset} {posting.amount:+d}")
            return
        if consistency is None or old_checkpoint is None or checkpoint is None:
            raise _refuse("--consistency needs --old-checkpoint and --checkpoint")
        bundle_c = ConsistencyProof.from_json(_read_json(consistency, "consistency proof"))
        result = verify_consistency_proof(_read(old_checkpoint, "old checkpoint"), _read(checkpoint, "checkpoint"),
                                          bundle_c, log_key)
    except TransparencyError as exc:
        raise _refuse(exc.reason) from None
    typer.echo(f"VERIFIED: the log {result.new.origin} of {result.new.size} leaves extends its checkpoint of "
               f"{result.old.size} leaves: nothing in it was changed or removed, signed by {log_key[0].name}")


@log_cli.command("keygen")
def log_keygen(name: str = typer.Option(..., "--name", help="The key's name: the log's origin (or a witness's name).")
               ) -> None:
    """Make a new Ed25519 key: print the signer key (secret) and the verifier key (to publish)."""
    try:
        signer = generate_signer(name)
    except TransparencyError as exc:
        raise _refuse(exc.reason) from None
    typer.echo(f"signer key (secret):    {signer.key_string}")
    typer.echo(f"verifier key (publish): {signer.verifier.key_string}")
