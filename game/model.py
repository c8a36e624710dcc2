"""The planet rules format, validated with pydantic: levels, nine themes with unlock
requirements, easter eggs, the daily quiz bank and reward amounts.

Everything a player reads is written twice: Chinese under the plain key (`name`), English
under the same key with `_en` (`name_en`). Both are required and neither may be blank;
`in_language` picks one. (Requirement sentences are not written: `game.describe` makes
them from the requirement's data.)
"""

from __future__ import annotations

from datetime import date
from functools import cached_property
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from game.problems import N_
from methodology.model import QUANTITY_UNITS, QuantityUnit


class RuleValueError(ValueError):
    """A value the rules refuse, with its reason as a message the service translates."""

    def __init__(self, text: str, **params: object) -> None:
        super().__init__(text % params)
        self.text, self.params = text, params


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise RuleValueError(N_("is blank: write the text a player reads"))
    return value


Text = Annotated[str, AfterValidator(_not_blank)]
"""Text a player reads; each such field `x` (Chinese) has its `x_en` (English)."""

# The fields that hold text a player reads, each with its English twin `<field>_en`.
TEXT_FIELDS = frozenset({"name", "description", "question", "explanation", "text"})


def in_language(item: BaseModel, field: str, language: str) -> str:
    """`item.<field>` in `language`: the `_en` twin for "en", the Chinese text otherwise."""
    return getattr(item, f"{field}_en" if language == "en" else field)


class GrowthAtLeast(_Strict):
    type: Literal["growth"]
    at_least: int = Field(ge=0)


class ActivityCount(_Strict):
    type: Literal["activity_count"]
    kind: str
    at_least: int = Field(ge=1)


class ActivityAmount(_Strict):
    """So much of a scene in total ("recycle 5 kg"): the quantities its methodology credited,
    summed. `unit` is one the scene's quantity converts to exactly (kg or g for a scene
    weighed in g)."""

    type: Literal["activity_amount"]
    kind: str
    at_least: int = Field(ge=1)
    unit: QuantityUnit


class ActivityDays(_Strict):
    """A scene on so many distinct local days ("10 days of electricity saving")."""

    type: Literal["activity_days"]
    kind: str
    days: int = Field(ge=1)


KindRequirement = ActivityCount | ActivityAmount | ActivityDays
"""The requirements that name an activity kind."""


def _small_units() -> dict[str, tuple[str, int]]:
    """Each quantity unit -> (the smallest unit of its dimension, how many of those make
    one): kg -> (g, 1000), kWh -> (Wh, 1000), m3 -> (L, 1000), item -> (item, 1)."""
    smallest: dict[str, tuple[str, int]] = {}
    for unit, (per, scale) in QUANTITY_UNITS.items():
        if scale > smallest.get(per, ("", 0))[1]:
            smallest[per] = (unit, scale)
    return {unit: (smallest[per][0], smallest[per][1] // scale)
            for unit, (per, scale) in QUANTITY_UNITS.items()}


SMALL_UNITS = _small_units()


def in_small_units(quantity: int, unit: str) -> tuple[str, int]:
    """(unit, quantity) in the smallest unit of its dimension: 5 kg -> ("g", 5000). The
    engine keeps every amount so, as integers, whatever unit a scene or requirement uses."""
    small, times = SMALL_UNITS[unit]
    return small, quantity * times


def units_fit(unit: str, scene_unit: str) -> bool:
    """Whether an amount in `unit` can be compared with a scene measured in `scene_unit`."""
    return SMALL_UNITS[unit][0] == SMALL_UNITS[scene_unit][0]


class KnownScenes(set[str]):
    """The activity kinds some methodology credits (a set, as validation has always taken),
    with the quantity unit of those credited by quantity (`units`; a kind credited per trip,
    per event or by steps has none, so no amount of it can be required)."""

    def __init__(self, units: dict[str, str | None]) -> None:
        super().__init__(units)
        self.units = dict(units)


def known_scenes(methodologies) -> KnownScenes:
    """The kinds of `methodologies` (methodology.Methodology) with their quantity units."""
    units: dict[str, str | None] = {}
    for m in methodologies:
        for kind in m.kinds:
            scene = m.quantity.get(kind) or m.baseline.get(kind)
            units[kind] = scene.quantity_unit if scene is not None else units.get(kind)
    return KnownScenes(units)


class Streak(_Strict):
    type: Literal["streak"]
    days: int = Field(ge=1)


class QuizCorrect(_Strict):
    type: Literal["quiz_correct"]
    at_least: int = Field(ge=1)


class ThemeUnlocked(_Strict):
    type: Literal["theme"]
    theme: str


class DateWindow(_Strict):
    type: Literal["date_window"]
    start: date
    end: date


Requirement = Annotated[
    GrowthAtLeast | ActivityCount | ActivityAmount | ActivityDays | Streak | QuizCorrect
    | ThemeUnlocked | DateWindow,
    Field(discriminator="type"),
]


class Theme(_Strict):
    id: str = Field(pattern=r"^[a-z0-9-]{2,40}$")
    name: Text
    name_en: Text
    description: Text
    description_en: Text
    art: str
    order: int
    requirements: list[Requirement] = Field(min_length=1)


class Egg(_Strict):
    id: str = Field(pattern=r"^[a-z0-9-]{2,40}$")
    theme: str
    name: Text
    name_en: Text
    description: Text
    description_en: Text
    condition: Requirement
    reward_growth: int = Field(ge=0, le=1000)


class Choice(_Strict):
    id: str
    text: Text
    text_en: Text


class Question(_Strict):
    id: str
    question: Text
    question_en: Text
    choices: list[Choice] = Field(min_length=2)
    answer: str
    explanation: Text
    explanation_en: Text

    @model_validator(mode="after")
    def _answer_is_a_choice(self) -> Question:
        if self.answer not in {c.id for c in self.choices}:
            raise RuleValueError(N_("answer %(answer)s is not one of the choices"),
                                 answer=repr(self.answer))
        return self


class Quiz(_Strict):
    correct_growth: int = Field(ge=0, le=1000)
    questions: list[Question] = Field(min_length=1)


class Rules(_Strict):
    levels: list[int] = Field(min_length=1, description="growth at which each level starts")
    themes: list[Theme] = Field(min_length=1)
    eggs: list[Egg] = Field(default_factory=list)
    quiz: Quiz

    @cached_property
    def themes_in_order(self) -> tuple[Theme, ...]:
        """Themes by `order`: the order the engine checks them in."""
        return tuple(sorted(self.themes, key=lambda t: t.order))

    def theme(self, theme_id: str) -> Theme | None:
        return next((t for t in self.themes if t.id == theme_id), None)
