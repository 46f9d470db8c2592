"""Government-affairs case types with their legal time limits, and what residents are told next.

Time limits are calendar days from submission, per the community service centre's published
commitments (地方承诺时限); the clerk sees them as the case's ``due_by``.
"""

from __future__ import annotations

from dataclasses import dataclass

from schedules.protocol.kiosk import CaseState, LocalizedText


@dataclass(frozen=True)
class CaseType:
    code: str
    name: LocalizedText
    time_limit_days: int
    bring: tuple[LocalizedText, ...] = ()  # what the resident brings to collect the result


def _t(zh: str, en: str) -> LocalizedText:
    return LocalizedText(zh=zh, en=en)


ID_CARD = _t("本人身份证原件", "Your ID card (original)")
SLIP = _t("本回执", "This receipt slip")
HOUSEHOLD = _t("户口簿", "Household register (hukou)")
PHOTO = _t("近期一寸免冠照片两张", "Two recent passport photos")

CASE_TYPES: dict[str, CaseType] = {
    t.code: t
    for t in (
        CaseType("elderly_subsidy", _t("高龄津贴申领", "Elderly subsidy"), 20,
                 (ID_CARD, SLIP, _t("本人银行卡", "Your bank card"))),
        CaseType("disability_certificate", _t("残疾人证办理", "Disability certificate"), 30,
                 (ID_CARD, SLIP, HOUSEHOLD, PHOTO)),
        CaseType("residence_permit", _t("居住证办理", "Residence permit"), 15, (ID_CARD, SLIP)),
        CaseType("housing_assistance", _t("住房保障申请", "Housing assistance"), 30,
                 (ID_CARD, SLIP, HOUSEHOLD)),
        CaseType("family_planning", _t("生育登记服务", "Family-planning certificate"), 10,
                 (ID_CARD, SLIP, _t("结婚证", "Marriage certificate"))),
        CaseType("low_income", _t("最低生活保障申请", "Minimum living allowance"), 30,
                 (ID_CARD, SLIP, HOUSEHOLD)),
        CaseType("medical_insurance", _t("城乡居民医保参保登记", "Residents' medical insurance"), 7,
                 (ID_CARD, SLIP)),
    )
}  # fmt: skip

NEXT_STEP: dict[CaseState, LocalizedText] = {
    CaseState.SUBMITTED: LocalizedText(zh="等待窗口受理", en="Waiting to be accepted at the counter"),
    CaseState.ACCEPTED: LocalizedText(zh="已受理，等待审核", en="Accepted, waiting for review"),
    CaseState.MATERIALS_NEEDED: LocalizedText(
        zh="请在期限前补齐材料", en="Bring the missing documents by the deadline"
    ),
    CaseState.UNDER_REVIEW: LocalizedText(zh="审核中，请耐心等待", en="Under review"),
    CaseState.APPROVED: LocalizedText(
        zh="已批准，等待制证或领取通知", en="Approved; wait for the pickup notice"
    ),
    CaseState.IN_PRODUCTION: LocalizedText(zh="证件制作中", en="Certificate being produced"),
    CaseState.READY_FOR_PICKUP: LocalizedText(
        zh="请携带身份证到指定地点领取", en="Bring your ID card to collect it"
    ),
    CaseState.REJECTED: LocalizedText(zh="未予受理，详见原因", en="Not accepted; see the reason"),
    CaseState.DENIED: LocalizedText(zh="未获批准，详见原因", en="Not approved; see the reason"),
    CaseState.CLOSED: LocalizedText(zh="办结", en="Closed"),
}
