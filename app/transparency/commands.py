"""`carbon-planet log sequence | checkpoint | witness`: the operator's and the witness's
commands, added to the `log` group (app.log_cli) by app.cli."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

import httpx
import typer

from app.cli_database import with_database
from app.settings import get_settings
from transparency.checkpoint import open_checkpoint
from transparency.errors import TransparencyError
from transparency.note import parse_signer, parse_verifier
from transparency.witness import Outcome, WitnessState, observe

EXIT_REFUSED = 1
EXIT_SPLIT_VIEW = 2


def log_sequence() -> None:
    """Sequence every queued ledger transaction into the log now (the server does it every
    CARBON_TRANSPARENCY_SEQUENCE_SECONDS)."""
    from app.transparency.sequencer import sequence_all

    settings = get_settings()
    count = with_database(lambda: sequence_all(settings.transparency_sequence_batch))
    typer.echo(f"{count} transactions sequenced")


def log_checkpoint() -> None:
    """Sign and store a checkpoint of the log now, if it grew since the last one; print it."""
    from app.transparency.keys import log_signer
    from app.transparency.sequencer import publish_checkpoint

    settings = get_settings()
    published = with_database(lambda: publish_checkpoint(log_signer(settings)))
    if published is None:
        typer.echo("the log did not grow since its last checkpoint: nothing signed")
        return
    typer.echo(published.note, nl=False)


def http_client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url.rstrip("/"), timeout=10)


def _fetch(client: httpx.Client, path: str, params: dict[str, int] | None = None) -> httpx.Response:
    try:
        response = client.get(path, params=params)
    except httpx.HTTPError as exc:
        typer.secho(f"REFUSED: cannot reach the log: {exc}", fg="red", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    if response.status_code != 200:
        typer.secho(f"REFUSED: {path} answered {response.status_code}: {response.text[:300]}", fg="red", err=True)
        raise typer.Exit(EXIT_REFUSED)
    return response


def _proof(response: httpx.Response) -> list[bytes]:
    try:
        return [base64.b64decode(h, validate=True) for h in response.json()["proof"]]
    except (ValueError, KeyError, TypeError, binascii.Error):
        typer.secho("REFUSED: the consistency proof is not JSON with base64 hashes", fg="red", err=True)
        raise typer.Exit(EXIT_REFUSED) from None


def log_witness(
    url: str = typer.Option(..., "--url", help="The log server's base URL (it serves /log/checkpoint)."),
    key: str = typer.Option(..., "--key", help="The log's verifier key: name+keyid+base64."),
    state: Path = typer.Option(..., "--state", help="The witness's state file (created on first use)."),
    witness_key: str = typer.Option(..., "--witness-key", envvar="CARBON_WITNESS_KEY",
                                    help="This witness's signer key (`log keygen`), to cosign with."),
    out: Path | None = typer.Option(None, "--out", help="Write the cosigned checkpoint here (else print it)."),
) -> None:
    """Fetch the log's checkpoint and a consistency proof from the one kept in --state;
    cosign only a consistent successor. Exit 0 cosigned, 1 refused, 2 SPLIT VIEW (alarm)."""
    try:
        log_key, witness = parse_verifier(key), parse_signer(witness_key)
        kept = WitnessState.from_json(state.read_text(encoding="utf-8")) if state.exists() else None
    except (TransparencyError, OSError) as exc:
        typer.secho(f"REFUSED: {getattr(exc, 'reason', exc)}", fg="red", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    with http_client(url) as client:
        offered = _fetch(client, "/log/checkpoint").text
        proof: list[bytes] = []
        try:
            size = open_checkpoint(offered, log_key).checkpoint.size
        except TransparencyError:
            size = None  # refused below, with the reason
        if kept is not None and size is not None and size > kept.size > 0:
            proof = _proof(_fetch(client, "/log/proof/consistency", {"from": kept.size, "to": size}))
    result = observe(kept, offered, proof, log_key, witness)
    if result.outcome is Outcome.SPLIT_VIEW:
        assert result.alarm is not None
        typer.secho(f"ALARM {result.reason}", fg="red", err=True)
        typer.secho("the checkpoint kept:\n" + result.alarm.kept, err=True)
        typer.secho("the checkpoint offered:\n" + result.alarm.offered, err=True)
        raise typer.Exit(EXIT_SPLIT_VIEW)
    if result.outcome is Outcome.REFUSED:
        typer.secho(f"REFUSED: {result.reason}", fg="red", err=True)
        raise typer.Exit(EXIT_REFUSED)
    assert result.state is not None and result.cosigned is not None
    state.parent.mkdir(parents=True, exist_ok=True)
    draft = state.with_name(state.name + ".tmp")
    draft.write_text(result.state.to_json(), encoding="utf-8")
    draft.replace(state)  # the new state whole, or the old one
    if out is not None:
        out.write_text(result.cosigned, encoding="utf-8")
    else:
        typer.echo(result.cosigned, nl=False)
    typer.echo(f"COSIGNED: {result.reason}", err=True)


def register(group: typer.Typer) -> None:
    group.command("sequence")(log_sequence)
    group.command("checkpoint")(log_checkpoint)
    group.command("witness")(log_witness)
