"""Filled-in fields for every authored design, as a clerk or a merchant would type them."""

from __future__ import annotations

from PIL import Image, ImageDraw

from content_server.studio.designs import Language, TemplateContent

SAMPLES: dict[str, dict[str, str]] = {
    "notice": {
        "title.zh": "关于小区停水的通知",
        "title.en": "Water supply interruption",
        "body.zh": "因市政管网维修，12月20日（星期六）上午8:00至下午4:00，"
        "1至5号楼将暂停供水。请各位居民提前储水，给您带来不便敬请谅解。",
        "body.en": "Because of mains repairs, buildings 1 to 5 will have no water on Saturday 20 December "
        "from 8:00 to 16:00. Please store water in advance. We apologise for the inconvenience.",
        "issuer.zh": "幸福里社区居委会",
        "issuer.en": "Xingfuli Residents' Committee",
        "date": "2026-12-15",
        "url": "https://xingfuli.example.org/notices/water",
    },
    "offer": {
        "product.zh": "手工全麦面包",
        "product.en": "Hand-made wholemeal bread",
        "details.zh": "每天早上七点新鲜出炉，凭本广告享八折。",
        "details.en": "Fresh from the oven at 7 every morning; 20% off with this ad.",
        "price": "15.9",
        "original_price": "19.9",
        "valid_until": "2026-12-31",
        "merchant.zh": "麦香坊烘焙",
        "merchant.en": "Maixiang Bakery",
        "url": "https://bakery.example.com/offer?id=42",
    },
    "event": {
        "title.zh": "冬至包饺子邻里活动",
        "title.en": "Winter solstice dumpling party",
        "date": "2026-12-21",
        "time.zh": "下午2:00–4:30",
        "time.en": "2:00–4:30 pm",
        "place.zh": "社区活动中心二楼",
        "place.en": "Community centre, 2nd floor",
        "body.zh": "欢迎全家参加，面粉和馅料由社区准备。",
        "body.en": "Families welcome; flour and fillings provided.",
        "organiser.zh": "幸福里社区",
        "organiser.en": "Xingfuli Community",
        "url": "https://xingfuli.example.org/e/dumplings",
    },
    "lost_found": {
        "kind": "found",
        "item.zh": "黑色双肩包一个",
        "item.en": "A black backpack",
        "where.zh": "3号楼电梯间",
        "where.en": "Building 3 lift lobby",
        "when": "2026-12-10",
        "details.zh": "包内有课本和一个蓝色水杯。",
        "details.en": "Contains school books and a blue bottle.",
        "contact.zh": "物业服务中心（1号楼一层）",
        "contact.en": "Property office, building 1, ground floor",
    },
    "service": {
        "service.zh": "上门家电维修",
        "service.en": "Home appliance repair",
        "highlights.zh": "空调、洗衣机、冰箱维修\n老人家庭优先上门\n维修后保修三个月",
        "highlights.en": "Air conditioners, washers, fridges\nElderly residents first\n"
        "Three months' warranty",
        "hours.zh": "每天 9:00–18:00",
        "hours.en": "Daily 9:00–18:00",
        "phone": "021-5555 0123",
        "provider.zh": "安家维修服务部",
        "provider.en": "Anjia Repairs",
    },
    "volunteer": {
        "kind": "volunteer",
        "role.zh": "社区助老志愿者",
        "role.en": "Volunteers for our elderly residents",
        "duties.zh": "每周陪伴独居老人一次\n协助代购生活用品\n年满18岁，有耐心",
        "duties.en": "Visit an elderly resident once a week\nHelp with shopping\n18 or over, patient",
        "time.zh": "每周六上午",
        "time.en": "Saturday mornings",
        "deadline": "2027-01-10",
        "contact.zh": "社区服务站 王老师",
        "contact.en": "Ms Wang, community service desk",
        "url": "https://xingfuli.example.org/volunteer",
    },
}

PHOTO_DESIGNS = ("offer", "event", "lost_found")


def content(design: str, language: Language = "both", **changes: str) -> TemplateContent:
    fields = dict(SAMPLES[design])
    for key, value in changes.items():
        fields[key.replace("__", ".")] = value
    return TemplateContent(design=design, language=language, fields=fields)


def product_photo() -> Image.Image:
    """A stand-in product photo: warm ground and round loaves, made here so tests need no files."""
    img = Image.new("RGB", (800, 600), (200, 150, 90))
    draw = ImageDraw.Draw(img)
    for i in range(0, 800, 40):
        draw.ellipse([i, 200 + (i % 120), i + 120, 320 + (i % 120)], fill=(120 + i % 100, 80, 40))
    return img
