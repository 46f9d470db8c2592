"""Case changes follow the documented path and carry reasons, documents and places."""

import datetime as dt
import itertools

import pytest

from content_server.kiosk.case_states import CaseChange, allowed_targets, check_change
from content_server.kiosk.errors import IllegalTransition, InvalidInput
from schedules.protocol.kiosk import CaseState as S

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def change(target: S, **kw: object) -> CaseChange:
    return CaseChange(target=target, clerk="clerk-li", at=NOW, **kw)  # type: ignore[arg-type]


def test_full_path_to_closed() -> None:
    path = [
        S.SUBMITTED,
        S.ACCEPTED,
        S.UNDER_REVIEW,
        S.APPROVED,
        S.IN_PRODUCTION,
        S.READY_FOR_PICKUP,
        S.CLOSED,
    ]
    for a, b in itertools.pairwise(path):
        note = "街道便民服务中心 2 号窗口" if b is S.READY_FOR_PICKUP else ""
        check_change(a, change(b, note_zh=note))


def test_skipping_review_is_illegal() -> None:
    with pytest.raises(IllegalTransition):
        check_change(S.SUBMITTED, change(S.APPROVED))
    assert allowed_targets(S.CLOSED) == frozenset()


def test_materials_needed_requires_documents_and_future_deadline() -> None:
    with pytest.raises(InvalidInput, match="missing_documents"):
        check_change(S.SUBMITTED, change(S.MATERIALS_NEEDED, deadline=dt.date(2026, 12, 5)))
    with pytest.raises(InvalidInput, match="deadline"):
        check_change(S.SUBMITTED, change(S.MATERIALS_NEEDED, missing_documents=("户口本",)))
    with pytest.raises(InvalidInput, match="past"):
        check_change(
            S.SUBMITTED,
            change(S.MATERIALS_NEEDED, missing_documents=("户口本",), deadline=dt.date(2026, 11, 1)),
        )
    check_change(
        S.SUBMITTED, change(S.MATERIALS_NEEDED, missing_documents=("户口本",), deadline=dt.date(2026, 12, 5))
    )


@pytest.mark.parametrize(
    ("state", "target"),
    [(S.UNDER_REVIEW, S.DENIED), (S.SUBMITTED, S.REJECTED), (S.APPROVED, S.READY_FOR_PICKUP)],
)
def test_denial_rejection_and_pickup_need_a_note(state: S, target: S) -> None:
    with pytest.raises(InvalidInput, match="note"):
        check_change(state, change(target))
    check_change(state, change(target, note_en="income above the limit"))


def test_change_must_be_attributed_and_aware() -> None:
    with pytest.raises(InvalidInput, match="clerk"):
        check_change(S.SUBMITTED, CaseChange(target=S.ACCEPTED, clerk="", at=NOW))
    with pytest.raises(InvalidInput, match="aware"):
        check_change(S.SUBMITTED, CaseChange(target=S.ACCEPTED, clerk="x", at=NOW.replace(tzinfo=None)))
