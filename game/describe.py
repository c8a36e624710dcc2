"""Requirements in words, in Chinese and in English, generated from their data.

A designer writes `{ type = "activity_count", kind = "metro", at_least = 3 }`; players
read "乘坐地铁 3 次" or "Take the metro 3 times". `activity_amount` reads "回收 5 公斤" /
"Recycle 5 kg", `activity_days` "节电 10 天" / "Save electricity on 10 days". Pure: the caller says which language
("en" for English; anything else is Chinese, the programme's default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from game.model import (
    ActivityAmount,
    ActivityCount,
    ActivityDays,
    DateWindow,
    GrowthAtLeast,
    QuizCorrect,
    Requirement,
    Rules,
    Streak,
    ThemeUnlocked,
    in_language,
)


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n:,} times")


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


@dataclass(frozen=True)
class ActivityKindWords:
    """An activity kind's name, the sentence for doing it n times, and the short verb phrase
for an amount or a number of days ("回收" / "Recycle": "回收 5 公斤", "Recycle 5 kg"), in
both languages."""

    name: str
    name_en: str
    times: Callable[[int], str]
    times_en: Callable[[int], str]
    doing: str = ""
    doing_en: str = ""

    def name_in(self, language: str) -> str:
        return self.name_en if language == "en" else self.name


ACTIVITY_KINDS: dict[str, ActivityKindWords] = {
    "metro": ActivityKindWords("地铁", "metro", lambda n: f"乘坐地铁 {n:,} 次",
                               lambda n: f"Take the metro {_times(n)}", "乘坐地铁", "Take the metro"),
    "bus": ActivityKindWords("公交", "bus", lambda n: f"乘坐公交 {n:,} 次",
                             lambda n: f"Take the bus {_times(n)}", "乘坐公交", "Take the bus"),
    "bike_share": ActivityKindWords("共享单车", "shared bike", lambda n: f"骑共享单车 {n:,} 次",
                                    lambda n: f"Ride a shared bike {_times(n)}", "骑共享单车",
                                    "Ride a shared bike"),
    "cycling": ActivityKindWords("骑行", "cycling", lambda n: f"骑自行车出行 {n:,} 次",
                                 lambda n: f"Make {_plural(n, 'trip', 'trips')} by bike",
                                 "骑自行车出行", "Cycle"),
    "walking": ActivityKindWords("步行", "walking", lambda n: f"步行出行 {n:,} 次",
                                 lambda n: f"Make {_plural(n, 'trip', 'trips')} on foot",
                                 "步行出行", "Walk"),
    "steps": ActivityKindWords("步数", "steps", lambda n: f"同步 {n:,} 天的步数",
                               lambda n: f"Sync your steps on {_plural(n, 'day', 'days')}",
                               "同步步数", "Sync your steps"),
}


def _logged(name: str, name_en: str, one: str, many: str, doing: str, doing_en: str
            ) -> ActivityKindWords:
    """Words for a scene beyond travel: "记录…n 次" / "Log n <things>"."""
    return ActivityKindWords(name, name_en, lambda n: f"记录{name} {n:,} 次",
                             lambda n: f"Log {_plural(n, one, many)}", doing, doing_en)


ACTIVITY_KINDS.update({
    "household_electricity": _logged("家庭节电", "household electricity saving",
                                     "electricity saving", "electricity savings",
                                     "节电", "Save electricity"),
    "household_water": _logged("家庭节水", "household water saving", "water saving",
                               "water savings",
                               "节水", "Save water"),
    "household_gas": _logged("家庭节气", "household gas saving", "gas saving", "gas savings",
                             "节约燃气", "Save gas"),
    "rooftop_pv": _logged("屋顶光伏发电", "rooftop solar power", "solar power reading",
                          "solar power readings",
                          "屋顶光伏发电", "Generate solar power"),
    "recycling": _logged("回收可回收物", "recycling", "recycling drop-off", "recycling drop-offs",
                         "回收", "Recycle"),
    "e_waste": _logged("回收电子废弃物", "e-waste recycling", "e-waste drop-off",
                       "e-waste drop-offs",
                       "回收电子废弃物", "Recycle e-waste"),
    "clothes": _logged("回收旧衣物", "clothes recycling", "clothes drop-off", "clothes drop-offs",
                       "回收旧衣物", "Recycle clothes"),
    "appliances": _logged("回收家电", "appliance recycling", "appliance recycled",
                          "appliances recycled",
                          "回收家电", "Recycle appliances"),
    "e_statement": _logged("电子账单", "e-statement", "e-statement", "e-statements",
                           "使用电子账单", "Go paperless with e-statements"),
    "online_transfer": _logged("线上转账", "online transfer", "online transfer",
                               "online transfers",
                               "线上转账", "Transfer online"),
    "online_payment": _logged("线上支付", "online payment", "online payment", "online payments",
                              "线上支付", "Pay online"),
    "ev_charging": _logged("新能源汽车充电", "EV charging", "EV charge", "EV charges",
                           "为新能源汽车充电", "Charge an electric car"),
    "island_boat": _logged("乘船上岛", "island boat", "boat ticket to the island",
                           "boat tickets to the island",
                           "乘船上岛", "Take the boat to the island"),
    "clean_plate": _logged("光盘行动", "clean plate", "clean-plate meal", "clean-plate meals",
                           "光盘", "Clean your plate"),
    "garbage_sorting": _logged("垃圾分类打卡", "garbage sorting check-in",
                               "garbage sorting check-in", "garbage sorting check-ins",
                               "垃圾分类打卡", "Check in at a sorting station"),
    "reusable_cup": _logged("自带杯", "reusable cup", "reusable cup", "reusable cups",
                            "自带杯", "Bring your own cup"),
})


def activity_kind_name(kind: str, language: str) -> str:
    """The name of an activity kind (the kind itself when it has no words here yet)."""
    words = ACTIVITY_KINDS.get(kind)
    return words.name_in(language) if words else kind


def _activity_count(req: ActivityCount, language: str) -> str:
    words = ACTIVITY_KINDS.get(req.kind)
    english = language == "en"
    if words is None:  # a kind a newer methodology added: still a readable sentence
        return f"Log {req.kind} {_times(req.at_least)}" if english else f"完成「{req.kind}」{req.at_least:,} 次"
    return words.times_en(req.at_least) if english else words.times(req.at_least)


# A quantity unit in words: Chinese, English singular, English plural.
UNIT_WORDS: dict[str, tuple[str, str, str]] = {
    "kg": ("公斤", "kg", "kg"), "g": ("克", "g", "g"), "kWh": ("千瓦时", "kWh", "kWh"),
    "Wh": ("瓦时", "Wh", "Wh"), "m3": ("立方米", "m³", "m³"), "L": ("升", "L", "L"),
    "item": ("件", "item", "items"), "action": ("次", "time", "times"),
    "ticket": ("张", "ticket", "tickets"), "meal": ("餐", "meal", "meals"),
}


def _activity_amount(req: ActivityAmount, language: str) -> str:
    words = ACTIVITY_KINDS.get(req.kind)
    zh, one, many = UNIT_WORDS[req.unit]
    if language == "en":
        amount = _plural(req.at_least, one, many)
        if words is None or not words.doing_en:
            return f"Log {amount} of {words.name_en if words else req.kind}"
        return f"{words.doing_en} {amount}"
    if words is None or not words.doing:
        return f"「{words.name if words else req.kind}」累计 {req.at_least:,} {zh}"
    return f"{words.doing} {req.at_least:,} {zh}"


def _activity_days(req: ActivityDays, language: str) -> str:
    words = ACTIVITY_KINDS.get(req.kind)
    if language == "en":
        days = _plural(req.days, "day", "days")
        if words is None or not words.doing_en:
            return f"Log {words.name_en if words else req.kind} on {days}"
        return f"{words.doing_en} on {days}"
    if words is None or not words.doing:
        return f"「{words.name if words else req.kind}」{req.days:,} 天"
    return f"{words.doing} {req.days:,} 天"


def describe_requirement(req: Requirement, rules: Rules, language: str) -> str:
    """One requirement as a sentence a player reads, in `language`."""
    english = language == "en"
    if isinstance(req, GrowthAtLeast):
        return f"Reach {req.at_least:,} growth" if english else f"成长值达到 {req.at_least:,}"
    if isinstance(req, ActivityCount):
        return _activity_count(req, language)
    if isinstance(req, ActivityAmount):
        return _activity_amount(req, language)
    if isinstance(req, ActivityDays):
        return _activity_days(req, language)
    if isinstance(req, Streak):
        return (f"Be active {_plural(req.days, 'day', 'days')} in a row" if english
                else f"连续活跃 {req.days:,} 天")
    if isinstance(req, QuizCorrect):
        return (f"Answer {_plural(req.at_least, 'quiz question', 'quiz questions')} right" if english
                else f"答对 {req.at_least:,} 道问答题")
    if isinstance(req, ThemeUnlocked):
        theme = rules.theme(req.theme)
        name = in_language(theme, "name", language) if theme else req.theme
        return f"Unlock {name} first" if english else f"先解锁「{name}」"
    assert isinstance(req, DateWindow)
    start, end = req.start.isoformat(), req.end.isoformat()
    return f"Open from {start} to {end}" if english else f"{start} 至 {end} 期间开放"
