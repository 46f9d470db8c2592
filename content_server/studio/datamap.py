"""A small mapping from a JSON document onto a template's fields, with ready-made examples.

A mapping is text with placeholders: ``"{current.temperature_2m|round}°C"``. A path is dotted keys
and ``[n]`` indices; ``[*]`` repeats the whole line once per list element (parcel lists). Filters
turn codes into words in the line's own language (``wmo`` weather codes, ``aqi`` levels) and keep
personal data off public screens (``last4``: only the last four digits of a phone number).
``time`` shows a clock time on the community's clock (an instant with an offset, or a Unix time).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from content_server.studio.designs import TemplateContent
from content_server.studio.errors import DataProblem

_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.\[\]*]+)(?:\|([a-z0-9_]+))?\}")
_STEP = re.compile(r"([A-Za-z0-9_]+)|\[(\d+|\*)\]")
MAX_REPEAT = 8

# WMO weather interpretation codes, as Open-Meteo reports them.
WMO: dict[int, tuple[str, str]] = {
    0: ("晴", "Clear"),
    1: ("大部晴朗", "Mainly clear"),
    2: ("多云", "Partly cloudy"),
    3: ("阴", "Overcast"),
    45: ("雾", "Fog"),
    48: ("冻雾", "Rime fog"),
    51: ("小毛毛雨", "Light drizzle"),
    53: ("毛毛雨", "Drizzle"),
    55: ("大毛毛雨", "Dense drizzle"),
    56: ("冻毛毛雨", "Freezing drizzle"),
    57: ("冻毛毛雨", "Freezing drizzle"),
    61: ("小雨", "Light rain"),
    63: ("中雨", "Rain"),
    65: ("大雨", "Heavy rain"),
    66: ("冻雨", "Freezing rain"),
    67: ("冻雨", "Freezing rain"),
    71: ("小雪", "Light snow"),
    73: ("中雪", "Snow"),
    75: ("大雪", "Heavy snow"),
    77: ("米雪", "Snow grains"),
    80: ("阵雨", "Showers"),
    81: ("阵雨", "Showers"),
    82: ("强阵雨", "Violent showers"),
    85: ("阵雪", "Snow showers"),
    86: ("强阵雪", "Heavy snow showers"),
    95: ("雷阵雨", "Thunderstorm"),
    96: ("雷阵雨伴冰雹", "Thunderstorm with hail"),
    99: ("强雷阵雨伴冰雹", "Thunderstorm with heavy hail"),
}
# US AQI bands (upper bound inclusive)
AQI: tuple[tuple[int, str, str], ...] = (
    (50, "优", "Good"),
    (100, "良", "Moderate"),
    (150, "轻度污染", "Unhealthy for sensitive groups"),
    (200, "中度污染", "Unhealthy"),
    (300, "重度污染", "Very unhealthy"),
    (10_000, "严重污染", "Hazardous"),
)


def _lookup(data: Any, path: str) -> Any:
    value = data
    for key, index in _STEP.findall(path):
        if key:
            if not isinstance(value, dict) or key not in value:
                raise DataProblem(f"the data has no {path!r}")
            value = value[key]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                raise DataProblem(f"the data has no {path!r}")
            value = value[int(index)]
    return value


@dataclass(frozen=True)
class Shown:
    """Where a line is shown: its language and the community's time zone."""

    lang: str
    tz: dt.tzinfo


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataProblem(f"{value!r} is not a number")
    return float(value)


def _wmo(value: Any, shown: Shown) -> str:
    zh, en = WMO.get(int(_number(value)), ("", ""))
    return zh if shown.lang == "zh" else en


def _aqi(value: Any, shown: Shown) -> str:
    v = _number(value)
    for top, zh, en in AQI:
        if v <= top:
            return zh if shown.lang == "zh" else en
    return ""


def _time(value: Any, shown: Shown) -> str:
    """``HH:MM`` of an ISO 8601 time or a Unix time, as feeds send them. An instant (an offset, a
    ``Z``, a Unix time) is shown on the community's clock: a locker API's ``08:30Z`` is 16:30 in
    Shanghai. A time without an offset is the feed's own local time, shown as written."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) >= 1e11 else value  # JavaScript's milliseconds
        t = dt.datetime.fromtimestamp(seconds, dt.UTC)
    else:
        t = dt.datetime.fromisoformat(str(value))
    return (t.astimezone(shown.tz) if t.tzinfo is not None else t).strftime("%H:%M")


def _last4(value: Any, shown: Shown) -> str:
    digits = re.sub(r"\D", "", str(value))
    return digits[-4:]


FILTERS: dict[str, Callable[[Any, Shown], str]] = {
    "round": lambda v, shown: str(round(_number(v))),
    "int": lambda v, shown: str(int(_number(v))),
    "upper": lambda v, shown: str(v).upper(),
    "wmo": _wmo,
    "aqi": _aqi,
    "time": _time,
    "last4": _last4,
}


def _fill(template: str, data: Any, shown: Shown) -> str:
    def one(match: re.Match[str]) -> str:
        value = _lookup(data, match.group(1))
        name = match.group(2)
        if name is None:
            if isinstance(value, dict | list):
                raise DataProblem(f"{match.group(1)!r} is not a single value")
            return str(value)
        if name not in FILTERS:
            raise DataProblem(f"unknown filter {name!r}")
        try:
            return FILTERS[name](value, shown)
        except (TypeError, ValueError, OverflowError, OSError) as exc:
            raise DataProblem(f"{match.group(1)!r} cannot be shown with {name!r}") from exc

    return _PLACEHOLDER.sub(one, template)


def _expand(line: str, data: Any, shown: Shown) -> list[str]:
    """A line with ``[*]`` repeats for every element of that list (at most MAX_REPEAT)."""
    if "[*]" not in line:
        return [_fill(line, data, shown)]
    match = next(m for m in _PLACEHOLDER.finditer(line) if "[*]" in m.group(1))
    list_path = match.group(1).split("[*]", 1)[0]
    items = _lookup(data, list_path)
    if not isinstance(items, list):
        raise DataProblem(f"{list_path!r} is not a list")
    return [
        _fill(line.replace(f"{list_path}[*]", f"{list_path}[{i}]"), data, shown)
        for i in range(min(len(items), MAX_REPEAT))
    ]


class FieldMap(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    zh: str = ""
    en: str = ""


class JsonMapping(BaseModel):
    """Which template, and each of its fields as text with placeholders (per language where it has two)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    design: str
    palette: str = ""
    fields: dict[str, FieldMap | str] = Field(default_factory=dict)


def apply_mapping(mapping: JsonMapping, data: Any, tz: dt.tzinfo) -> TemplateContent:
    """The template content ``data`` gives through ``mapping`` for screens in ``tz`` (the
    community's zone); :class:`DataProblem` if it does not fit."""
    out: dict[str, str] = {}
    for name, spec in mapping.fields.items():
        if isinstance(spec, str):
            shown = Shown("zh", tz)
            out[name] = "\n".join(line for raw in spec.split("\n") for line in _expand(raw, data, shown))
            continue
        for lang, template in (("zh", spec.zh), ("en", spec.en)):
            if template:
                out[f"{name}.{lang}"] = "\n".join(
                    line for raw in template.split("\n") for line in _expand(raw, data, Shown(lang, tz))
                )
    return TemplateContent(design=mapping.design, palette=mapping.palette, fields=out)


PRESETS: dict[str, JsonMapping] = {
    "open_meteo_weather": JsonMapping(
        design="data_panel",
        palette="night",
        fields={
            "title": FieldMap(zh="今日天气", en="Weather today"),
            "value": FieldMap(zh="{current.temperature_2m|round}°C"),
            "caption": FieldMap(zh="{current.weather_code|wmo}", en="{current.weather_code|wmo}"),
            "rows": FieldMap(
                zh="最高 {daily.temperature_2m_max[0]|round}°C  最低 {daily.temperature_2m_min[0]|round}°C\n"
                "湿度 {current.relative_humidity_2m|round}%  风速 {current.wind_speed_10m|round} km/h",
                en="High {daily.temperature_2m_max[0]|round}°C  Low {daily.temperature_2m_min[0]|round}°C\n"
                "Humidity {current.relative_humidity_2m|round}%  Wind {current.wind_speed_10m|round} km/h",
            ),
            "source": FieldMap(zh="Open-Meteo · {current.time|time}", en="Open-Meteo · {current.time|time}"),
        },
    ),
    "open_meteo_air_quality": JsonMapping(
        design="data_panel",
        palette="fresh_green",
        fields={
            "title": FieldMap(zh="空气质量", en="Air quality"),
            "value": FieldMap(zh="AQI {current.us_aqi|round}"),
            "caption": FieldMap(zh="{current.us_aqi|aqi}", en="{current.us_aqi|aqi}"),
            "rows": FieldMap(
                zh="PM2.5 {current.pm2_5|round} μg/m³\nPM10 {current.pm10|round} μg/m³",
                en="PM2.5 {current.pm2_5|round} μg/m³\nPM10 {current.pm10|round} μg/m³",
            ),
            "source": FieldMap(zh="更新于 {current.time|time}", en="Updated {current.time|time}"),
        },
    ),
    "queue_numbers": JsonMapping(
        design="data_panel",
        palette="civic_blue",
        fields={
            "title": FieldMap(zh="{station} 叫号", en="Now serving"),
            "value": FieldMap(zh="{now_serving}"),
            "caption": FieldMap(zh="请到 {window} 号窗口", en="Please go to window {window}"),
            "rows": FieldMap(zh="等候人数 {waiting}", en="{waiting} waiting"),
        },
    ),
    "parcel_locker": JsonMapping(
        design="data_panel",
        palette="warm_amber",
        fields={
            "title": FieldMap(zh="{locker} 待取快递", en="Parcels waiting"),
            "value": FieldMap(zh="{count}"),
            "caption": FieldMap(zh="件待取，请凭取件码取件", en="parcels to collect with your pickup code"),
            "rows": FieldMap(
                zh="手机尾号 {parcels[*].phone|last4}", en="Phone ending {parcels[*].phone|last4}"
            ),
        },
    ),
}
