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
    GrowthAtLeast | ActivityCount | Streak | QuizCorrect | ThemeUnlocked | DateWindow,
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
