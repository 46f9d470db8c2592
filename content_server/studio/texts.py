"""Words the designed slides print themselves (labels, weekdays), Chinese first, English second."""

from __future__ import annotations

from schedules.bilingual import TextTable

SLIDE_TEXT = TextTable(
    {
        "design.notice": ("社区通知", "Community notice"),
        "design.offer": ("商家优惠", "Special offer"),
        "design.event": ("社区活动", "Community event"),
        "design.lost": ("寻物启事", "Lost"),
        "design.found": ("失物招领", "Found"),
        "design.lost_found": ("失物招领", "Lost and found"),
        "design.service": ("便民服务", "Community service"),
        "design.volunteer": ("志愿者招募", "Volunteers wanted"),
        "design.job": ("招聘启事", "We are hiring"),
        "design.data_panel": ("实时信息", "Live information"),
        "design.headlines": ("新闻速递", "Headlines"),
        "fact.date": ("日期", "Date"),
        "fact.time": ("时间", "Time"),
        "fact.place": ("地点", "Place"),
        "fact.where": ("地点", "Where"),
        "fact.when": ("日期", "When"),
        "fact.contact": ("联系", "Contact"),
        "fact.hours": ("时间", "Hours"),
        "fact.phone": ("电话", "Phone"),
        "fact.deadline": ("截止", "Apply by"),
        "fact.valid": ("有效期至", "Valid until"),
        "fact.organiser": ("主办", "Organiser"),
        "fact.merchant": ("商家", "From"),
        "fact.provider": ("服务机构", "Provider"),
        "fact.item": ("物品", "Item"),
        "qr.details": ("扫码了解详情", "Scan for details"),
        "qr.signup": ("扫码报名", "Scan to sign up"),
        "qr.offer": ("扫码领取优惠", "Scan to claim"),
        "qr.apply": ("扫码报名", "Scan to apply"),
        "price.was": ("原价 {price}", "was {price}"),
        "pdf.page": ("第 {number}/{count} 页", "Page {number} of {count}"),
        "data.updated": ("更新于 {time}", "Updated {time}"),
        "choice.lost": ("寻物（我丢了东西）", "Lost (I lost something)"),
        "choice.found": ("招领（我捡到东西）", "Found (I found something)"),
        "choice.volunteer": ("志愿者", "Volunteers"),
        "choice.job": ("招聘", "Job"),
        "weekday.0": ("星期一", "Mon"),
        "weekday.1": ("星期二", "Tue"),
        "weekday.2": ("星期三", "Wed"),
        "weekday.3": ("星期四", "Thu"),
        "weekday.4": ("星期五", "Fri"),
        "weekday.5": ("星期六", "Sat"),
        "weekday.6": ("星期日", "Sun"),
        "date.long": ("{year}年{month}月{day}日 {weekday}", "{weekday} {day} {month} {year}"),
        "date.badge_month": ("{month}月", "{month}"),
    }
)

# English month names: "date.*" entries take {month} as a number in Chinese and a name in English.
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
