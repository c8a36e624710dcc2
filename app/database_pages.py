"""The first page of many owners' lists at once: a list of merchants, each showing its
latest payments, reads every merchant's page in two statements instead of one per merchant.

Each row is numbered within its owner with `ROW_NUMBER() OVER (PARTITION BY owner ORDER
BY …)`, which SQLite (3.25+) and PostgreSQL both run; the rows numbered up to the page
size are then loaded as models, in the list's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from tortoise.expressions import RawSQL
from tortoise.models import Model
from tortoise.queryset import QuerySet

M = TypeVar("M", bound=Model)


def _order_sql(model: type[Model], ordering: Sequence[str]) -> str:
    table = model._meta.db_table
    columns = model._meta.fields_db_projection
    return ", ".join(
        f'"{table}"."{columns[name.lstrip("-")]}" {"DESC" if name.startswith("-") else "ASC"}'
        for name in ordering)


async def first_rows_per_owner(query: QuerySet[M], owners: int, owner_sql: str,
                               ordering: Sequence[str], limit: int,
                               related: Sequence[str] = ()) -> list[M]:
    """Up to `limit` rows of `query` for each owner, all owners' rows in `ordering`.

    `query` selects the rows of the `owners` owners wanted (keyset filter included); for
    a single owner it runs as it is, with a LIMIT, which the owner's index answers without
    numbering all its rows. `owner_sql` is
    the SQL of the column that tells owners apart, as the query names it (a joined table
    is named `"<table>__<relation>"`); `ordering` uses Tortoise's names ("-created_at");
    `related` is loaded with the rows (select_related)."""
    if owners == 1:
        single = query.order_by(*ordering).limit(limit)
        return await (single.select_related(*related) if related else single)
    model = query.model
    pk = model._meta.db_pk_column
    rank = RawSQL(f"ROW_NUMBER() OVER (PARTITION BY {owner_sql} "
                  f"ORDER BY {_order_sql(model, ordering)})")
    ranked: Any = query.annotate(owner_rank=rank).values(pk, "owner_rank")
    ranked.sql()  # builds the statement on the connection the query runs on
    inner, params = ranked.query.get_parameterized_sql()
    rows = await ranked._db.execute_query_dict(
        f'SELECT "{pk}" FROM ({inner}) AS "ranked" WHERE "owner_rank" <= {int(limit)}', params)
    if not rows:
        return []
    found = model.filter(pk__in=[row[pk] for row in rows]).order_by(*ordering)
    return await (found.select_related(*related) if related else found)
