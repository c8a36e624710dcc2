"""The planet rules format, validated with pydantic: levels, nine themes with unlock
requirements, easter eggs, the daily quiz bank and reward amounts."""

from __future__ import annotations

from datetime import date
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    name: str
    name_en: str
    description: str = ""
    art: str
    order: int
    requirements: list[Requirement] = Field(min_length=1)


class Egg(_Strict):
    id: str = Field(pattern=r"^[a-z0-9-]{2,40}$")
    theme: str
    name: str
    condition: Requirement
    reward_growth: int = Field(ge=0, le=1000)


class Choice(_Strict):
    id: str
    text: str


class Question(_Strict):
    id: str
    question: str
    choices: list[Choice] = Field(min_length=2)
    answer: str
    explanation: str

    @model_validator(mode="after")
    def _answer_is_a_choice(self) -> Question:
        if self.answer not in {c.id for c in self.choices}:
            raise ValueError(f"answer {self.answer!r} is not one of the choices")
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
