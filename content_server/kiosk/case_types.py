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


CASE_TYPES: dict[str, CaseType] = {
    t.code: t
    for t in (
        CaseType("elderly_subsidy", LocalizedText(zh="高龄津贴申领", en="Elderly subsidy"), 20),
        CaseType("disability_certificate", LocalizedText(zh="残疾人证办理", en="Disability certificate"), 30),
        CaseType("residence_permit", LocalizedText(zh="居住证办理", en="Residence permit"), 15),
        CaseType("housing_assistance", LocalizedText(zh="住房保障申请", en="Housing assistance"), 30),
        CaseType("family_planning", LocalizedText(zh="生育登记服务", en="Family-planning certificate"), 10),
        CaseType("low_income", LocalizedText(zh="最低生活保障申请", en="Minimum living allowance"), 30),
        CaseType(
            "medical_insurance",
            LocalizedText(zh="城乡居民医保参保登记", en="Residents' medical insurance"),
            7,
        ),
    )
}

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
