"""Database work from a synchronous `carbon-planet` command: open Tortoise with the
settings' database, run one coroutine, close the connections.

Its own module so that the root command and its sub-command modules (merchants,
payouts) share it without importing each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tortoise import Tortoise

from app import database
from app.settings import get_settings
from app.transparency import queue as log_queue

T = TypeVar("T")


def with_database(work: Callable[[], Awaitable[T]]) -> T:
    async def run() -> T:
        log_queue.set_enabled(get_settings().transparency_log)
        await Tortoise.init(config=database.tortoise_config(get_settings()))
        try:
            return await work()
        finally:
            await Tortoise.close_connections()

    return asyncio.run(run())
