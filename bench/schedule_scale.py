"""Benchmark: 24-hour timelines for a city of screens, and one availability check at full load.

10,000 screens (three classes, 200 building groups, random floor/district/entrance tags),
1,000 active campaigns and 300 announcements. Every screen gets its compact 24-hour timeline
from a cold engine (caches cleared), once for the first 5,000 screens and once for all 10,000;
the scaling exponent is log2(t(10,000) / t(5,000)). Then one new campaign's availability is
checked against the full load: ``availability_ms`` on a warm engine, and
``availability_new_catalogue_ms`` the way the server checks a booking (a new catalogue holding
the request, so a new engine, with the process's memoised conversions warm). A few timelines are also
expanded into slots, as a player would, to show what the compact form saves.

Times are CPU seconds of this process (``time.process_time``): "one core", and steady on a
machine shared with other work. Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schedules import engine as engine_mod
from schedules.availability import check_availability
from schedules.model import (
    Announcement,
    Campaign,
    Catalogue,
    ContentItem,
    Daypart,
    ItemKind,
    OperatingHours,
    Orientation,
    Priority,
    Screen,
    ScreenClass,
    Targeting,
    TimeRange,
)
from schedules.timeline import timeline
from schedules.wallclock import clear_caches

UTC = dt.UTC
DAY = dt.date(2026, 11, 25)
START = dt.datetime(2026, 11, 24, 16, tzinfo=UTC)  # local midnight in Shanghai
FLOORS = ["B2", "B1", *[str(i) for i in range(1, 31)]]
DISTRICTS = [f"d{i}" for i in range(12)]


def make_screens(rng: random.Random, n: int) -> list[Screen]:
    hours_options = [
        OperatingHours(),
        OperatingHours(
            always_on=False, weekly={d: (TimeRange(start=dt.time(6), end=dt.time(23)),) for d in range(7)}
        ),
        OperatingHours(
            always_on=False, weekly={d: (TimeRange(start=dt.time(7), end=dt.time(22)),) for d in range(7)}
        ),
    ]
    screens = []
    for i in range(n):
        cls = rng.choices(list(ScreenClass), weights=[2, 6, 2])[0]
        group = rng.randrange(200)
        portrait = cls is ScreenClass.INDOOR_SMALL and rng.random() < 0.4
        tags = {f"building:{group}", f"floor:{rng.choice(FLOORS)}", f"district:{DISTRICTS[group % 12]}"}
        if rng.random() < 0.3:
            tags.add(f"entrance:{rng.choice(['north', 'south', 'east', 'west'])}")
        screens.append(
            Screen(
                id=f"scr-{i:05d}",
                screen_class=cls,
                orientation=Orientation.PORTRAIT if portrait else Orientation.LANDSCAPE,
                groups=frozenset({f"g{group}"}),
                tags=frozenset(tags),
                timezone="Asia/Shanghai" if rng.random() < 0.97 else "Asia/Urumqi",
                hours=hours_options[0 if cls is ScreenClass.OUTDOOR_LARGE else rng.randrange(1, 3)],
            )
        )
    return screens


def make_catalogue(rng: random.Random) -> Catalogue:
    items: dict[str, ContentItem] = {}

    def new_item(prefix: str, kind: ItemKind | None = None, **kw: object) -> str:
        iid = f"{prefix}-{len(items)}"
        kind = kind or rng.choice([ItemKind.IMAGE, ItemKind.IMAGE, ItemKind.VIDEO])
        dur = rng.choice([6, 8, 10, 12, 15]) if kind is not ItemKind.VIDEO else rng.choice([10, 15, 20, 30])
        items[iid] = ContentItem(id=iid, kind=kind, duration_s=dur, **kw)  # type: ignore[arg-type]
        return iid

    filler = tuple(new_item("filler", ItemKind.IMAGE) for _ in range(6))
    campaigns = []
    for j in range(1000):
        roll = rng.random()
        if roll < 0.45:
            targeting = Targeting(
                groups=frozenset(f"g{rng.randrange(200)}" for _ in range(rng.randint(1, 3)))
            )
        elif roll < 0.65:
            targeting = Targeting(tag_expr=f"district:{rng.choice(DISTRICTS)} AND NOT floor:B1")
        elif roll < 0.85:
            a, b = rng.randrange(200), rng.randrange(200)
            targeting = Targeting(tag_expr=f"(building:{a} OR building:{b}) AND NOT (floor:B1 OR floor:B2)")
        elif roll < 0.95:
            targeting = Targeting(screen_ids=frozenset(f"scr-{rng.randrange(10_000):05d}" for _ in range(20)))
        else:
            targeting = Targeting(
                screen_classes=frozenset({rng.choice(list(ScreenClass))}),
                tag_expr=f"district:{rng.choice(DISTRICTS)}",
            )
        dayparts: tuple[Daypart, ...] = ()
        if rng.random() < 0.3:
            dayparts = (
                Daypart(weekdays=frozenset(range(5)), start=dt.time(7), end=dt.time(9)),
                Daypart(weekdays=frozenset(range(5)), start=dt.time(17), end=dt.time(20)),
            )
        share = round(rng.uniform(0.5, 2.5), 1) if rng.random() < 0.7 else None
        campaigns.append(
            Campaign(
                id=f"cmp-{j:04d}",
                advertiser_id=f"adv-{rng.randrange(400)}",
                category=rng.choice(["", "", "food", "bank", "telecom", "auto"]),
                item_ids=tuple(new_item("ad") for _ in range(rng.randint(1, 3))),
                flight_start=DAY - dt.timedelta(days=rng.randrange(30)),
                flight_end=DAY + dt.timedelta(days=rng.randrange(1, 60)),
                dayparts=dayparts,
                rrule="FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA" if rng.random() < 0.1 else None,
                targeting=targeting,
                share_percent=share,
                plays_per_hour=None if share else rng.randint(4, 20),
                frequency_cap_per_hour=rng.choice([None, None, 6, 10]),
            )
        )
    anns = []
    for k in range(300):
        roll = rng.random()
        if roll < 0.4:
            targeting = Targeting(groups=frozenset({f"g{rng.randrange(200)}"}))
        elif roll < 0.7:
            targeting = Targeting(tag_expr=f"building:{rng.randrange(200)} AND NOT floor:B2")
        elif roll < 0.95:
            targeting = Targeting(tag_expr=f"district:{rng.choice(DISTRICTS)}")
        else:
            targeting = Targeting()
        priority = (
            Priority.EMERGENCY if k < 3 else rng.choices([Priority.NORMAL, Priority.IMPORTANT], [85, 15])[0]
        )
        start = (
            START + dt.timedelta(hours=rng.randrange(24), minutes=rng.randrange(60))
            if k < 3
            else START - dt.timedelta(days=rng.randrange(10))
        )
        anns.append(
            Announcement(
                id=f"ann-{k:03d}",
                item_ids=(new_item("notice", ItemKind.TEXT, text={"en": "notice", "zh": "通知"}),),
                priority=priority,
                valid_from=start,
                valid_until=start + dt.timedelta(minutes=30) if k < 3 else None,
                targeting=Targeting(groups=frozenset({f"g{rng.randrange(200)}"})) if k < 3 else targeting,
                ticker_text={"en": f"notice {k}"},
            )
        )
    return Catalogue(
        items=items, campaigns=tuple(campaigns), announcements=tuple(anns), filler_item_ids=filler
    )


def run_timelines(screens: list[Screen], catalogue: Catalogue) -> tuple[float, int]:
    clear_caches()
    engine_mod.clear_engines()
    gc.collect()
    t0 = time.process_time()  # CPU time of this process: "one core", whatever else runs
    segments = 0
    end = START + dt.timedelta(days=1)
    for s in screens:
        segments += len(timeline(s, catalogue, START, end).segments)
    return time.process_time() - t0, segments


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--screens", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs per size")
    args = ap.parse_args()
    rng = random.Random(20261125)
    screens = make_screens(rng, args.screens)
    catalogue = make_catalogue(rng)
    half = screens[: args.screens // 2]
    t_half = min(run_timelines(half, catalogue)[0] for _ in range(args.repeat))
    runs = [run_timelines(screens, catalogue) for _ in range(args.repeat)]
    t_full, segments = min(runs)
    exponent = math.log2(t_full / t_half)

    request = Campaign(
        id="new-campaign",
        advertiser_id="adv-new",
        category="food",
        item_ids=("ad-100",),
        flight_start=DAY,
        flight_end=DAY + dt.timedelta(days=27),
        dayparts=(Daypart(weekdays=frozenset(range(5)), start=dt.time(7), end=dt.time(9)),),
        targeting=Targeting(groups=frozenset({"g1", "g2", "g3"})),
        share_percent=5,
    )
    t0 = time.process_time()
    check_availability(screens, catalogue, request)  # warms the engine, as a running server has it
    cold_ms = (time.process_time() - t0) * 1000
    t0 = time.process_time()
    avail = check_availability(screens, catalogue, request)
    availability_ms = (time.process_time() - t0) * 1000
    # what the server does per booking check: a new catalogue object holding the request, so a
    # new engine, with the process's memoised conversions warm (median of 3)
    server_runs = []
    for _ in range(3):
        with_request = catalogue.model_copy(update={"campaigns": (*catalogue.campaigns, request)})
        t0 = time.process_time()
        check_availability(screens, with_request, request)
        server_runs.append((time.process_time() - t0) * 1000)
    server_ms = sorted(server_runs)[1]

    end = START + dt.timedelta(days=1)
    t0 = time.process_time()
    slots = sum(1 for s in screens[:20] for _ in timeline(s, catalogue, START, end).slots())
    expand_s = time.process_time() - t0
    print(
        f"{args.screens} screens: {t_full:.3f} s (5k: {t_half:.3f} s), {segments} segments; "
        f"availability {availability_ms:.1f} ms, {server_ms:.1f} ms on a new catalogue (the server's "
        f"path), {cold_ms:.1f} ms with every cache cold "
        f"(fits={avail.fits}, max share {avail.max_share_percent}%, "
        f"{len(avail.conflicts)} conflicts on {avail.screens} screens); "
        f"expanding 20 screens: {slots} slots in {expand_s:.3f} s",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "bench": "schedule_scale",
                "screens": args.screens,
                "campaigns": len(catalogue.campaigns),
                "seconds": round(t_full, 3),
                "per_screen_ms": round(t_full * 1000 / args.screens, 4),
                "scaling_exponent": round(exponent, 3),
                "availability_ms": round(availability_ms, 2),
                "availability_new_catalogue_ms": round(server_ms, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
