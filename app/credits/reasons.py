"""What a player reads about why an activity earned nothing: one sentence per refusal
reason (the calculator's and ingestion's codes), in the reader's language."""

from __future__ import annotations

from app.i18n.messages import N_, LazyMessage

REASON_TEXTS: dict[str, LazyMessage] = {
    "UNKNOWN_KIND": N_("No methodology in effect covers this kind of activity."),
    "INVALID_FIELD": N_("The record of this activity was incomplete or malformed."),
    "IMPLAUSIBLE_SPEED": N_("The trip's speed is not possible for this mode of travel."),
    "IMPLAUSIBLE_STEPS": N_("More steps than a person walks in a day were reported."),
    "TOO_SHORT": N_("The trip was too short to count."),
    "DAILY_CAP_REACHED": N_("Today's limit for this kind of activity was already reached."),
    "IN_FUTURE": N_("The activity's time is in the future."),
    "TOO_OLD": N_("The activity was reported too long after it happened."),
    "UNKNOWN_VARIETY": N_("This variety (for example this material) has no published factor."),
    "IMPLAUSIBLE_QUANTITY": N_("The quantity reported is beyond what is plausible."),
    "READING_BACKWARDS": N_("The meter reading went backwards."),
    "PERIOD_OVERLAP": N_("This billing period overlaps one already credited for the meter."),
    "INVALID_PERIOD": N_("The billing period is shorter or longer than the scene allows."),
    "IMPLAUSIBLE_CONSUMPTION": N_("The consumption reported is beyond what is plausible."),
    "NO_BASELINE": N_("There is no earlier period to compare this bill with yet."),
    "NO_FACTOR": N_("No emission factor was in effect for this period."),
    "NO_SAVING": N_("The consumption was not below the baseline: nothing was saved."),
    "NOT_VERIFIED": N_("The check-in was not verified."),
    "SCENE_NOT_ALLOWED": N_("This partner is not registered to report this kind of activity."),
    "UNKNOWN_SUBJECT": N_("The partner's record names nobody known here."),
    "LINK_REMOVED": N_("You removed your link with this partner: its records no longer count."),
}


def reason_text(reason: str | None) -> LazyMessage | None:
    """The sentence for `reason` (None when there is none); an unknown code (one added
    later by a partner-facing check) reads as a general refusal."""
    if reason is None:
        return None
    return REASON_TEXTS.get(reason, N_("This activity could not be credited."))
