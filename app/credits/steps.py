"""`syncSteps`: the phone's step count for a day; the day's highest report counts, and only
its increase over the last credited report is credited (within the methodology's caps).

Idempotent: the same or a lower report credits nothing, and each increase posts to the
ledger under a key naming the player, the day and the new total.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from tortoise.transactions import in_transaction

from app.accounts.models import Player
from app.clock import utcnow
from app.credits.crediting import CreditService, add_to_daily, credit_entry, provenance, totals
from app.credits.daily import lock_daily
from app.credits.models import Activity
from app.errors import invalid
from app.i18n.messages import N_
from game.engine import Effect
from methodology import ActivityInput, Reason, calculate

KIND = "steps"
MAX_REPORT = 300_000  # beyond any human day; larger is a malformed report


class StepSync(CreditService):
    def _check(self, day: date, steps: int) -> datetime:
        if not 0 <= steps <= MAX_REPORT:
            raise invalid("steps", N_("steps is between 0 and %(max)s.", max=MAX_REPORT))
        today = utcnow().astimezone(self.zone).date()
        if day > today:
            raise invalid("date", N_("That day has not begun yet."))
        if day < today - timedelta(days=self.settings.activity_max_age_days):
            raise invalid("date", N_("Steps older than %(days)s days are not credited.",
                                      days=self.settings.activity_max_age_days))
        return datetime.combine(day, time.min, tzinfo=self.zone)

    async def sync(self, player: Player, day: date, steps: int) -> Activity:
        start_of_day = self._check(day, steps)
        methodology = self.registry.for_kind(KIND, start_of_day)
        if methodology is None:
            raise invalid("date", N_("No methodology credits steps on that day."))
        async with in_transaction():
            daily = await lock_daily(str(player.id), day, KIND)
            activity = await Activity.get_or_none(id=daily.activity_id) if daily.activity_id else None
            if activity is None:
                activity = await Activity.create(
                    player=player, kind=KIND, source="phone", occurred_at=start_of_day,
                    local_date=day, steps=0, status="accepted",
                    methodology_id=methodology.id, methodology_version=methodology.version,
                )
                daily.activity_id = activity.id
            if activity.status == "withdrawn":
                # an operator withdrew the day's steps (a shaken phone): the day earns no more
                return activity
            if steps <= daily.steps:
                await daily.save(update_fields=["activity_id"])
                return activity
            calc = calculate(methodology, ActivityInput(kind=KIND, steps=steps - daily.steps),
                             totals(daily))
            if calc.rejection is not None and calc.rejection.reason != Reason.DAILY_CAP_REACHED:
                if calc.rejection.reason == Reason.IMPLAUSIBLE_STEPS and methodology.steps:
                    raise invalid("steps", N_("More than %(max)s steps in a day cannot be "
                                              "credited.", max=methodology.steps.max_steps_per_day))
                # the methodology's own words (English) for a refusal a phone cannot cause
                raise invalid("steps", N_("These steps cannot be credited: %(why)s.",
                                          why=calc.rejection.message))
            first_steps_today = daily.steps == 0
            daily.steps = steps
            activity.steps = steps
            effects: list[Effect] = []
            if calc.rejection is None:  # else the cap took it all: keep the report, credit nothing
                for name in ("reduction_grams", "points", "growth", "energy"):
                    setattr(activity, name, getattr(activity, name) + getattr(calc, name))
                activity.provenance = provenance(calc)
                activity.methodology_id = calc.methodology_id
                activity.methodology_version = calc.methodology_version
                # the key names the new total, so each increase is credited once
                entry = credit_entry(str(player.id), activity.id, add_to_daily(daily, calc),
                                     key=f"steps:{player.id}:{day.isoformat()}:{steps}")
                await daily.save(update_fields=["reduction_grams", "points", "growth", "energy",
                                                "steps", "activity_id"])
                await activity.save()
                [effects], txs = await self.play_then_post(
                    [(str(player.id), KIND, calc.growth, day, int(first_steps_today))],
                    [entry] if entry is not None else [])
                credited_at = txs[0].created_at if txs else utcnow()
            else:
                await daily.save(update_fields=["steps", "activity_id"])
                await activity.save()
        if calc.rejection is None:
            await self.game.after_commit(player, calc.reduction_grams, credited_at, effects)
        return activity
