"""The wire form of the engine's models: the same value always gives the same JSON.

A set's iteration order depends on how it was built, so a screen's groups and tags, an item's
classes and orientations, a targeting's sets and a daypart's weekdays went out in whatever order
the set had: a screen read back from its own JSON and written again gave other bytes about a third
of the time. A served manifest body is its screen's head joined to a shared tail, and a test that
compared it byte for byte with the manifest written again failed on a loaded run.
"""

from __future__ import annotations

import datetime as dt
import random

from schedules.model import ContentItem, Daypart, ItemKind, Orientation, Screen, ScreenClass, Targeting


def test_sets_go_out_sorted_so_a_round_trip_gives_the_same_bytes() -> None:
    rng = random.Random(11)
    tags = [f"building:{k}" for k in range(40)] + ["floor:B1", "zone:north"]
    for i in range(500):
        screen = Screen(
            id=f"s{i}",
            screen_class=ScreenClass.INDOOR_SMALL,
            groups=frozenset(rng.sample(["north", "south", "east", "west", "D", "g1"], rng.randint(1, 5))),
            tags=frozenset(rng.sample(tags, rng.randint(1, 6))),
        )
        wire = screen.model_dump_json()
        assert Screen.model_validate_json(wire).model_dump_json() == wire
        assert screen.model_dump(mode="json")["tags"] == sorted(screen.tags)


def test_every_set_field_is_written_in_order() -> None:
    item = ContentItem(id="a", kind=ItemKind.IMAGE, duration_s=5, orientations=frozenset(Orientation))
    assert item.model_dump(mode="json")["screen_classes"] == sorted(c.value for c in ScreenClass)
    assert item.model_dump(mode="json")["orientations"] == ["landscape", "portrait"]
    targeting = Targeting(screen_ids=frozenset({"z", "a", "m"}), groups=frozenset({"west", "east"}))
    assert targeting.model_dump(mode="json")["screen_ids"] == ["a", "m", "z"]
    assert targeting.model_dump(mode="json")["groups"] == ["east", "west"]
    part = Daypart(weekdays=frozenset({6, 0, 3}), start=dt.time(7), end=dt.time(9))
    assert part.model_dump(mode="json")["weekdays"] == [0, 3, 6]
    assert part.model_dump()["weekdays"] == frozenset({0, 3, 6})  # in Python it stays a set
