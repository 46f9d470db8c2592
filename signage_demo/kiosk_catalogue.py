"""Demo data: a realistic bilingual service catalogue with bookable slots, and a few demo cases.

``seed_demo_catalogue(session, now)`` is used by the demo launcher and by tests. It is
idempotent: run twice, it adds nothing the second time (it keys on the category table).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from content_server.kiosk.case_states import CaseChange
from content_server.kiosk.models import ProviderRow, ServiceCategoryRow, ServiceRow, SlotRow
from content_server.kiosk.services import cases
from schedules.protocol.kiosk import CaseState

LOCAL = ZoneInfo("Asia/Shanghai")
SEED_CLERK = "seed-clerk"

# (id, zh, en, at home: the kiosk requires the resident's building and room for its services)
CATEGORIES = (
    ("elderly_care", "居家养老", "Elderly care at home", True),
    ("housekeeping", "家政服务", "Housekeeping", True),
    ("repairs", "维修", "Repairs", True),
    ("property", "物业服务", "Property services", False),  # permits, cards, fees: at the office
    ("merchants", "周边商家", "Nearby merchants", False),  # at the shop (a delivery may still give one)
    ("health", "健康服务", "Health", False),
    ("gov_guides", "政务指南", "Government service guides", False),
)

PROVIDERS = {
    "care": ("幸福里居家养老服务站", "Xingfuli Home Care Station", "02160000001"),
    "clean": ("洁家家政", "Jiejia Housekeeping", "02160000002"),
    "fix": ("邻里维修队", "Neighbourhood Repair Team", "02160000003"),
    "property": ("阳光物业服务中心", "Sunshine Property Office", "02160000004"),
    "noodle": ("老街坊面馆", "Old Neighbours Noodle House", "02160000005"),
    "barber": ("老王理发店", "Wang's Barbershop", "02160000006"),
    "pharmacy": ("康宁大药房", "Kangning Pharmacy", "02160000007"),
    "clinic": ("社区卫生服务中心", "Community Health Centre", "02160000008"),
    "centre": ("街道党群服务中心", "Sub-district Service Centre", "02160000009"),
}

# (provider, category, zh, en, description zh, description en, price fen, minutes, capacity per slot, hours)
SERVICES = (
    (
        "care",
        "elderly_care",
        "助餐送餐上门",
        "Meal delivery",
        "两荤一素一汤，送到家门口。",
        "Two meat dishes, one vegetable and soup, delivered to your door.",
        1500,
        30,
        20,
        (11, 17),
    ),
    (
        "care",
        "elderly_care",
        "助浴服务",
        "Bathing help",
        "两名护理员上门协助洗浴，含防滑设备。",
        "Two carers help with bathing at home, anti-slip equipment included.",
        8000,
        60,
        2,
        (9, 14),
    ),
    (
        "clinic",
        "elderly_care",
        "上门健康检查",
        "Health check visit",
        "测量血压、血糖，用药指导。",
        "Blood pressure, blood sugar and advice on medicines, at home.",
        3000,
        45,
        4,
        (9, 15),
    ),
    (
        "care",
        "elderly_care",
        "陪伴聊天",
        "Companionship",
        "志愿者陪伴聊天、读报、散步。",
        "A volunteer visits to chat, read the paper or go for a walk.",
        0,
        60,
        3,
        (10, 15),
    ),
    (
        "clean",
        "housekeeping",
        "日常保洁（2小时）",
        "Home cleaning (2 hours)",
        "厨房、卫生间、地面清洁。",
        "Kitchen, bathroom and floors.",
        9000,
        120,
        3,
        (9, 14),
    ),
    (
        "clean",
        "housekeeping",
        "油烟机深度清洗",
        "Range hood deep clean",
        "拆洗油烟机，含清洁剂。",
        "Range hood taken apart and degreased.",
        12000,
        90,
        2,
        (9, 15),
    ),
    (
        "fix",
        "repairs",
        "水电维修上门",
        "Plumbing and electrics visit",
        "漏水、跳闸、换灯具，材料另计。",
        "Leaks, tripped breakers, lights; parts charged separately.",
        5000,
        60,
        3,
        (9, 17),
    ),
    (
        "fix",
        "repairs",
        "家电维修检测",
        "Appliance check",
        "洗衣机、空调、冰箱故障检测。",
        "Washing machine, air conditioner or fridge diagnosis.",
        4000,
        60,
        2,
        (13, 17),
    ),
    (
        "property",
        "property",
        "临时停车缴费（月）",
        "Parking permit (month)",
        "小区地面临时停车月卡。",
        "Monthly permit for surface parking in the estate.",
        15000,
        15,
        10,
        (9, 17),
    ),
    (
        "property",
        "property",
        "门禁卡补办",
        "Replacement access card",
        "携带身份证到物业中心领取。",
        "Collect it at the property office with your ID card.",
        2000,
        15,
        10,
        (9, 17),
    ),
    (
        "property",
        "property",
        "物业费缴纳（季度）",
        "Property fee (quarter)",
        "按建筑面积计费的示例：80平方米。",
        "Example for an 80 m² flat.",
        48000,
        15,
        30,
        (9, 17),
    ),
    (
        "noodle",
        "merchants",
        "老人套餐预订",
        "Seniors' set meal",
        "软烂面条配小菜，60岁以上优惠。",
        "Soft noodles with side dishes, discounted for over-60s.",
        1200,
        30,
        15,
        (11, 13),
    ),
    (
        "barber",
        "merchants",
        "老年理发",
        "Seniors' haircut",
        "剪发、修面，行动不便可上门。",
        "Haircut and shave; home visits for those who cannot walk far.",
        1500,
        30,
        2,
        (9, 17),
    ),
    (
        "pharmacy",
        "merchants",
        "慢病药品代配送",
        "Chronic medicine delivery",
        "凭处方配送常用慢病药品。",
        "Regular prescription medicines delivered.",
        500,
        30,
        8,
        (10, 17),
    ),
    (
        "clinic",
        "health",
        "家庭医生签约咨询",
        "Family doctor sign-up",
        "了解家庭医生签约服务。",
        "Talk to a family doctor about signing up.",
        0,
        20,
        6,
        (9, 11),
    ),
    (
        "centre",
        "gov_guides",
        "高龄津贴办理指导",
        "Elderly subsidy guidance",
        "工作人员一对一讲解所需材料。",
        "A clerk explains the documents you need, one to one.",
        0,
        20,
        4,
        (9, 11),
    ),
    (
        "centre",
        "gov_guides",
        "居住证办理预约",
        "Residence permit appointment",
        "预约窗口办理，节省排队时间。",
        "Book a counter appointment instead of queueing.",
        0,
        20,
        4,
        (14, 16),
    ),
)

DEMO_CASES: tuple[tuple[str, str, str, str, list[tuple[CaseState, dict[str, Any]]]], ...] = (
    (
        "elderly_subsidy",
        "张小三",
        "11010519491231002X",
        "13812345678",
        [(CaseState.ACCEPTED, {}), (CaseState.UNDER_REVIEW, {})],
    ),
    (
        "residence_permit",
        "李四",
        "320106198505123415",
        "13987654321",
        [
            (CaseState.ACCEPTED, {}),
            (CaseState.UNDER_REVIEW, {}),
            (CaseState.APPROVED, {}),
            (CaseState.IN_PRODUCTION, {}),
            (
                CaseState.READY_FOR_PICKUP,
                {"note_zh": "街道党群服务中心 2 号窗口", "note_en": "Service centre, counter 2"},
            ),
        ],
    ),
    (
        "disability_certificate",
        "欧阳小明",
        "44030419900307123X",
        "13700001111",
        [(CaseState.MATERIALS_NEEDED, {"missing_documents": ("二级以上医院诊断证明", "近期一寸照片 2 张")})],
    ),
)


@dataclass(frozen=True)
class SeedSummary:
    categories: int
    services: int
    slots: int
    case_numbers: tuple[str, ...]


def _slot_times(now: dt.datetime, days: int, hours: tuple[int, int]) -> list[tuple[dt.datetime, dt.datetime]]:
    today = now.astimezone(LOCAL).date()
    out = []
    for d in range(days):
        day = today + dt.timedelta(days=d)
        for hour in range(hours[0], hours[1]):
            start = dt.datetime(day.year, day.month, day.day, hour, tzinfo=LOCAL)
            if start > now:
                out.append((start.astimezone(dt.UTC), (start + dt.timedelta(hours=1)).astimezone(dt.UTC)))
    return out


def seed_demo_catalogue(session: Session, now: dt.datetime, days: int = 7) -> SeedSummary:
    """Categories, providers (without portal accounts), services with hourly slots, demo cases."""
    if session.scalar(select(ServiceCategoryRow).limit(1)) is not None:
        return SeedSummary(0, 0, 0, ())
    for position, (cid, zh, en, at_home) in enumerate(CATEGORIES):
        session.add(
            ServiceCategoryRow(id=cid, name_zh=zh, name_en=en, icon="", position=position, at_home=at_home)
        )
    providers = {}
    for key, (zh, en, phone) in PROVIDERS.items():
        providers[key] = ProviderRow(name_zh=zh, name_en=en, phone=phone, created_at=now)
        session.add(providers[key])
    session.flush()
    slots = 0
    for prov, cat, zh, en, dzh, den, price, minutes, capacity, hours in SERVICES:
        service = ServiceRow(
            provider_id=providers[prov].id,
            category_id=cat,
            name_zh=zh,
            name_en=en,
            description_zh=dzh,
            description_en=den,
            price_minor=price,
            currency="CNY",
            duration_minutes=minutes,
            active=True,
            updated_at=now,
        )
        session.add(service)
        session.flush()
        for start, end in _slot_times(now, days, hours):
            session.add(SlotRow(service_id=service.id, start=start, end=end, capacity=capacity, booked=0))
            slots += 1
    session.commit()
    numbers = []
    for case_type, name, id_number, phone, steps in DEMO_CASES:
        at = now - dt.timedelta(days=3)
        case = cases.create_case(
            session, SEED_CLERK, cases.NewCase(case_type, name, id_number, phone), at, LOCAL
        )
        for target, extra in steps:
            at += dt.timedelta(hours=5)
            deadline = (now + dt.timedelta(days=10)).date() if target is CaseState.MATERIALS_NEEDED else None
            cases.change_case(
                session,
                case.case_number,
                CaseChange(target=target, clerk=SEED_CLERK, at=at, deadline=deadline, tz=LOCAL, **extra),
            )
        numbers.append(case.case_number)
    return SeedSummary(len(CATEGORIES), len(SERVICES), slots, tuple(numbers))
