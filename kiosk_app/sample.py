"""Sample bilingual catalogue and case for the fake API: demos, benchmarks and tests share them."""

from __future__ import annotations

import datetime as dt

from kiosk_app.api import text
from schedules.protocol.kiosk import (
    CaseEvent,
    CaseState,
    CaseStatus,
    ServiceCatalogue,
    ServiceCategory,
    ServiceOffer,
    TimeSlot,
)

T0 = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)  # 10:00 in Beijing


def sample_catalogue(now: dt.datetime = T0) -> ServiceCatalogue:
    day = now + dt.timedelta(days=1)

    def slots(prefix: str, remaining: tuple[int, ...]) -> tuple[TimeSlot, ...]:
        return tuple(
            TimeSlot(id=f"{prefix}-{i}", start=day + dt.timedelta(hours=i),
                     end=day + dt.timedelta(hours=i, minutes=45), capacity=4, remaining=r)
            for i, r in enumerate(remaining)
        )

    return ServiceCatalogue(
        version='"v1"',
        generated_at=now,
        categories=(
            ServiceCategory(id="elderly_care", name=text("养老服务", "Elderly care")),
            ServiceCategory(id="housekeeping", name=text("家政保洁", "Housekeeping")),
            ServiceCategory(id="repairs", name=text("家电维修", "Repairs")),
            ServiceCategory(id="health", name=text("健康义诊", "Health checks")),
        ),
        services=(
            ServiceOffer(id="meal", category_id="elderly_care",
                         provider_name=text("幸福食堂", "Happy Canteen"),
                         name=text("老年助餐（午餐）", "Seniors' lunch"),
                         description=text("荤素搭配，少油少盐，可送餐上门。",
                                          "Balanced, low-salt lunch; delivery available."),
                         price_minor=1200, duration_minutes=60, rating=4.7, slots=slots("meal", (3, 0, 2)),
                         at_home=False),
            ServiceOffer(id="bath", category_id="elderly_care", provider_name=text("安心护理", "Safe Care"),
                         name=text("上门助浴", "Home bathing help"),
                         description=text("专业护理员上门协助洗浴。",
                                          "A trained carer helps with bathing at home."),
                         price_minor=8800, duration_minutes=90, slots=slots("bath", (1,))),
            ServiceOffer(id="clean", category_id="housekeeping", provider_name=text("洁美家政", "CleanHome"),
                         name=text("日常保洁 2 小时", "2-hour cleaning"),
                         description=text("厨房、卫生间、客厅清洁。", "Kitchen, bathroom and living room."),
                         price_minor=9900, duration_minutes=120, rating=4.2, slots=slots("clean", (2, 2))),
            ServiceOffer(id="bp", category_id="health", provider_name=text("社区卫生站", "Health station"),
                         name=text("免费测血压", "Free blood pressure check"),
                         description=text("社区医生为您测量血压。",
                                          "A community doctor checks your blood pressure."),
                         price_minor=0, duration_minutes=15, slots=slots("bp", (10,)), at_home=False),
        ),
    )


def sample_case(now: dt.datetime = T0) -> CaseStatus:
    return CaseStatus(
        case_number="GA20261101",
        case_type=text("居住证办理", "Residence permit"),
        applicant_masked="张*三",
        id_masked="110***********123X",
        phone_masked="138****5678",
        state=CaseState.MATERIALS_NEEDED,
        timeline=(
            CaseEvent(state=CaseState.SUBMITTED, at=now - dt.timedelta(days=5)),
            CaseEvent(state=CaseState.ACCEPTED, at=now - dt.timedelta(days=4)),
            CaseEvent(state=CaseState.MATERIALS_NEEDED, at=now - dt.timedelta(days=1),
                      note=text("请补充租房合同", "Please bring your tenancy agreement"),
                      missing_documents=("租房合同",), deadline=(now + dt.timedelta(days=7)).date()),
        ),
        next_step=text("携带租房合同到社区服务中心 2 号窗口", "Bring the tenancy agreement to window 2"),
        due_by=(now + dt.timedelta(days=20)).date(),
        as_of=now,
    )
