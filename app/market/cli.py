"""`carbon-planet market …`: add a buyer, sell or retire certified grams, the inventory."""

from __future__ import annotations

import typer

market_cli = typer.Typer(help="The carbon-inclusive market: buyers, selling and retiring "
                              "certified grams, the inventory.", no_args_is_help=True)
ACTOR = "cli"


def _fail(exc: Exception) -> typer.Exit:
    typer.secho(f"refused: {exc}", fg="red", err=True)
    return typer.Exit(1)


@market_cli.command("add-buyer")
def add_buyer(
    name: str = typer.Option(..., help="The company, event or organisation."),
    kind: str = typer.Option("COMPANY", help="COMPANY, EVENT, ORGANISATION or INDIVIDUAL."),
    contact: str = typer.Option(None, help="Whom to reach (optional)."),
    key: str = typer.Option(..., help="Idempotency key: the same key again is the same buyer."),
) -> None:
    """Create a buyer; prints its id first."""
    from app.cli_database import with_database
    from app.errors import ServiceError
    from app.market.models import BuyerKind
    from app.market.service import create_buyer

    if kind.upper() not in BuyerKind.__members__:
        raise typer.BadParameter(f"one of {', '.join(BuyerKind.__members__)}", param_hint="--kind")
    try:
        buyer = with_database(lambda: create_buyer(ACTOR, name, BuyerKind(kind.upper()), contact,
                                                   key))
    except ServiceError as exc:
        raise _fail(exc) from None
    typer.echo(f"{buyer.id}  {buyer.name} ({buyer.kind})")


def _sell(mode_name: str, buyer: str, grams: int, price: int, key: str, note: str | None) -> None:
    from app.cli_database import with_database
    from app.clock import utcnow
    from app.errors import ServiceError
    from app.market.models import SaleMode
    from app.market.service import sell
    from app.merchants.statements import yuan
    from app.settings import get_settings

    share = get_settings().market_shop_share_percent
    try:
        found = with_database(lambda: sell(ACTOR, SaleMode(mode_name), buyer, grams, price, key,
                                           utcnow(), share, note))
    except ServiceError as exc:
        raise _fail(exc) from None
    s = found.sale
    typer.echo(f"certificate {s.number}  {s.mode}  {found.buyer.name}: {s.grams:,} g at "
               f"¥{yuan(s.price_fen_per_tonne)}/t = ¥{yuan(s.total_fen)} "
               f"(shop fund {s.shop_share_percent}%: ¥{yuan(s.shop_fund_fen)})")
    for r in found.ranges:
        typer.echo(f"  {r.first_printed} .. {r.last_printed}  {r.grams:,} g  "
                   f"{r.methodology_id} v{r.methodology_version} {r.period}")
    typer.echo(f"  digest {s.digest}")


@market_cli.command("sell")
def sell_command(
    buyer: str = typer.Option(..., help="The buyer's id (from add-buyer)."),
    grams: int = typer.Option(..., help="Certified grams to sell."),
    price: int = typer.Option(..., help="Price in fen per tonne (4000 = ¥40/t)."),
    key: str = typer.Option(..., help="Idempotency key: the same key again is the same sale."),
    note: str = typer.Option(None, help="A note printed on the certificate."),
) -> None:
    """Sell the next serials in order to a buyer, who then holds them; prints the certificate."""
    _sell("SALE", buyer, grams, price, key, note)


@market_cli.command("retire")
def retire_command(
    buyer: str = typer.Option(..., help="The buyer's id (from add-buyer)."),
    grams: int = typer.Option(..., help="Certified grams to retire."),
    price: int = typer.Option(0, help="Price in fen per tonne (0: free)."),
    key: str = typer.Option(..., help="Idempotency key: the same key again is the same sale."),
    note: str = typer.Option(None, help="What the retirement offsets."),
) -> None:
    """Retire the next serials in order for a buyer (cancelled for good); prints the certificate."""
    _sell("RETIREMENT", buyer, grams, price, key, note)


@market_cli.command("inventory")
def inventory_command() -> None:
    """Certified grams and where they went, and the revenue booked."""
    from app.cli_database import with_database
    from app.market.service import inventory
    from app.merchants.statements import yuan
    from app.settings import get_settings

    found = with_database(lambda: inventory(get_settings().market_shop_share_percent))
    for label, grams in (("certified", found.certified_grams), ("adjusted", -found.adjusted_grams),
                         ("sold", -found.sold_grams), ("retired", -found.retired_grams),
                         ("available", found.available_grams)):
        typer.echo(f"{label:>10} {grams:>16,} g")
    typer.echo(f"{'revenue':>10} ¥{yuan(found.revenue_fen)}, of which the shop fund "
               f"¥{yuan(found.shop_fund_fen)} (share now {found.shop_share_percent}%)")
