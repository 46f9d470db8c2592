"""The portal's one translation table (Chinese first, English second) and its lookup.

Every word a portal page shows comes from :data:`MESSAGES`: templates call ``t("key")`` and
scripts read their strings from ``data-`` attributes the templates fill. A test renders every
template and fails on a key missing here or text written straight into a template.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

LANGUAGES: tuple[str, ...] = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

# key -> (Chinese, English)
MESSAGES: dict[str, tuple[str, str]] = {
    # app frame
    "app.name": ("社区信息屏管理平台", "Community Signage Portal"),
    "app.footer": ("社区数字标牌与自助终端系统", "Community signage and kiosk suite"),
    "a11y.skip": ("跳到主要内容", "Skip to main content"),
    "a11y.main_nav": ("主导航", "Main navigation"),
    "lang.switch": ("English", "中文"),
    "nav.home": ("返回首页", "Back to the start page"),
    "nav.media": ("素材库", "Media library"),
    "nav.campaigns": ("广告投放", "Campaigns"),
    "nav.approvals": ("审核", "Approvals"),
    "nav.screens": ("屏幕", "Screens"),
    "nav.announcements": ("公告", "Announcements"),
    "nav.emergency": ("紧急广播", "Emergency broadcast"),
    "nav.bundles": ("离线包", "USB bundles"),
    "nav.cases": ("政务办件", "Cases"),
    "nav.services": ("我的服务", "My services"),
    "nav.bookings": ("预约订单", "Bookings"),
    "nav.logout": ("退出登录", "Log out"),
    "action.save": ("保存", "Save"),
    "action.cancel": ("取消", "Cancel"),
    # fields
    "field.username": ("用户名", "Username"),
    "field.password": ("密码", "Password"),
    "field.business_name": ("商户/机构名称", "Business name"),
    "field.name": ("名称", "Name"),
    "field.title": ("标题", "Title"),
    "field.title_optional": ("标题（可选）", "Title (optional)"),
    "field.state": ("状态", "State"),
    "unit.seconds": ("{n} 秒", "{n} s"),
    # log-in, sign-up
    "login.title": ("登录", "Log in"),
    "login.submit": ("登录", "Log in"),
    "login.no_account": ("还没有账号？", "No account yet?"),
    "login.failed": ("用户名或密码错误。", "Wrong username or password."),
    "login.rate_limited": (
        "登录失败次数过多，请稍后再试。",
        "Too many failed log-ins; please try again later.",
    ),
    "signup.title": ("注册账号", "Sign up"),
    "signup.intro": (
        "商户可在此注册投放广告，服务商可注册发布社区服务。账号需经社区运营人员审核后方可使用。",
        "Merchants sign up here to book ads, service providers to list services. "
        "An operator approves each account before it can be used.",
    ),
    "signup.kind": ("账号类型", "Account type"),
    "signup.username_help": (
        "3–64 位字母、数字、点、下划线或短横线。",
        "3–64 letters, digits, dots, underscores or dashes.",
    ),
    "signup.password_help": ("密码至少 10 个字符。", "Use a password of at least 10 characters."),
    "signup.submit": ("提交注册", "Sign up"),
    "signup.pending": (
        "注册成功。运营人员审核通过后即可登录使用。",
        "Thank you for signing up. You can use the portal once an operator has approved your account.",
    ),
    "signup.bad_role": ("请选择商户或服务商。", "Choose merchant or service provider."),
    "signup.need_name": ("请填写商户/机构名称。", "Enter your business name."),
    "signup.taken": ("该用户名已被使用。", "That username is taken."),
    "role.advertiser": ("广告商户", "Advertiser (merchant)"),
    "role.provider": ("服务商", "Service provider"),
    "role.operator": ("运营人员", "Operator"),
    "role.clerk": ("政务工作人员", "Clerk"),
    # notices after a redirect
    "notice.logged_out": ("您已退出登录。", "You have logged out."),
    "notice.uploaded": ("上传完成。", "Upload finished."),
    "notice.campaign_submitted": ("投放申请已提交，等待审核。", "Campaign submitted for approval."),
    "notice.campaign_paused": ("投放已暂停。", "Campaign paused."),
    "notice.campaign_approved": ("已批准该投放。", "Campaign approved."),
    "notice.campaign_rejected": ("已驳回该投放。", "Campaign rejected."),
    "notice.account_approved": ("账号已通过审核。", "Account approved."),
    "notice.filler_saved": ("默认内容已更新。", "Default slides updated."),
    "notice.screen_claimed": ("屏幕已绑定。", "Screen paired."),
    "notice.screen_saved": ("屏幕设置已保存。", "Screen settings saved."),
    "notice.screenshot_requested": (
        "已请求截图，屏幕下次心跳时上传。",
        "Screenshot requested; the screen sends it at its next heartbeat.",
    ),
    "notice.announcement_published": ("公告已发布。", "Announcement published."),
    "notice.announcement_ended": ("公告已结束。", "Announcement ended."),
    "notice.emergency_sent": ("紧急广播已发出。", "Emergency broadcast sent."),
    "notice.emergency_ended": ("紧急广播已结束。", "Emergency broadcast ended."),
    "notice.case_created": ("办件已登记。", "Case created."),
    "notice.case_updated": ("办件状态已更新。", "Case updated."),
    "notice.booking_updated": ("预约已更新。", "Booking updated."),
    # errors
    "error.title": ("无法完成操作", "That did not work"),
    "error.title_401": ("请先登录", "Please log in"),
    "error.title_403": ("无权访问", "Not allowed"),
    "error.title_404": ("页面不存在", "Not found"),
    "error.not_found": ("找不到该页面或记录。", "There is no such page or record."),
    "error.forbidden": ("您的账号无权访问此页面。", "Your account may not open this page."),
    "error.awaiting_approval": (
        "您的账号正在等待运营人员审核，审核通过后即可使用。",
        "Your account is waiting for an operator's approval.",
    ),
    "error.csrf": (
        "表单已过期或来源不明，请刷新页面后重试。",
        "This form has expired or did not come from this site; reload the page and try again.",
    ),
    "error.invalid_form": ("表单内容有误。", "Some fields are not valid."),
    "error.fields": ("请检查这些字段：{fields}", "Please check these fields: {fields}"),
    "error.internal": (
        "服务器出错，请稍后再试。",
        "Something went wrong on the server; please try again later.",
    ),
    "error.bad_date": ("日期格式不正确。", "A date is not valid."),
    "error.bad_time": ("时间格式不正确。", "A time is not valid."),
    "error.bad_number": ("数字不正确：{field}", "Not a valid number: {field}"),
    # media
    "media.title": ("素材库", "Media library"),
    "media.upload": ("上传图片或视频", "Upload images or videos"),
    "media.files": ("选择文件", "Files"),
    "media.help": (
        "支持 PNG、JPEG、WebP 图片和 MP4/WebM 视频，单个文件不超过 {max_mb} MB。",
        "PNG, JPEG or WebP images and MP4/WebM videos, up to {max_mb} MB each.",
    ),
    "media.progress": ("上传进度", "Upload progress"),
    "media.upload_button": ("上传", "Upload"),
    "media.choose_first": ("请先选择文件。", "Choose a file first."),
    "media.uploading": ("正在上传 {name}：{percent}%", "Uploading {name}: {percent}%"),
    "media.uploaded_one": ("{name} 已上传，正在处理。", "{name} uploaded."),
    "media.refused": ("{name} 未被接受：{reason}", "{name} was refused: {reason}"),
    "media.network_error": (
        "{name} 上传中断，请检查网络后重试。",
        "The upload of {name} was interrupted; try again.",
    ),
    "media.library": ("我的素材", "My media"),
    "media.preview": ("预览", "Preview"),
    "media.kind": ("类型", "Type"),
    "media.resolution": ("分辨率", "Resolution"),
    "media.duration": ("时长", "Duration"),
    "media.size": ("大小", "Size"),
    "media.empty": ("还没有素材，请先上传。", "No media yet: upload some first."),
    "media.filler": ("默认内容", "Default slide"),
    "media.is_filler": ("默认内容", "Default slide"),
    "media.set_filler": ("设为默认内容", "Use as default slide"),
    "media.unset_filler": ("取消默认", "Stop using as default"),
    "kind.image": ("图片", "Image"),
    "kind.video": ("视频", "Video"),
    "kind.text": ("文字", "Text"),
    # campaigns
    "campaigns.title": ("广告投放", "Campaigns"),
    "campaigns.new": ("新建投放", "New campaign"),
    "campaigns.empty": ("还没有投放。", "No campaigns yet."),
    "campaign.flight": ("投放日期", "Flight dates"),
    "campaign.flight_start": ("开始日期", "First day"),
    "campaign.flight_end": ("结束日期", "Last day"),
    "campaign.share": ("播放占比（%）", "Share of voice (%)"),
    "campaign.per_hour": ("每小时 {n} 次", "{n} plays per hour"),
    "campaign.reason": ("审核意见", "Reason"),
    "campaign.category": ("行业类别", "Category"),
    "campaign.category_help": (
        "同类别的广告不会相邻播放。",
        "Ads of the same category never play back to back.",
    ),
    "campaign.media": ("选择素材", "Media"),
    "campaign.no_media": (
        "素材库是空的，请先上传素材。",
        "Your media library is empty; upload something first.",
    ),
    "campaign.where": ("投放屏幕", "Screens"),
    "campaign.where_help": (
        "不选即为全部屏幕；所选条件须同时满足。",
        "Leave empty for every screen; all chosen criteria must hold.",
    ),
    "campaign.groups": ("屏幕分组", "Screen groups"),
    "campaign.buildings": ("楼栋", "Buildings"),
    "campaign.when": ("投放时间", "When"),
    "campaign.daypart": ("时段", "Daypart"),
    "campaign.daypart_help": ("不填时段即全天播放。", "Leave the times empty to play all day."),
    "campaign.from": ("从", "From"),
    "campaign.until": ("到", "Until"),
    "campaign.cap": ("每屏每小时最多播放次数（可选）", "Max plays per screen per hour (optional)"),
    "campaign.availability": ("档期与预估", "Availability and forecast"),
    "campaign.submit": ("提交审核", "Submit for approval"),
    "campaign.pause": ("暂停投放", "Pause"),
    "campaign.any_screen": ("全部屏幕", "Every screen"),
    "campaign.not_yours": ("所选素材不存在。", "A chosen media file does not exist."),
    "campaign.need_media": ("请至少选择一个素材。", "Choose at least one media file."),
    "campaign.need_name": ("请填写名称。", "Enter a name."),
    "campaign.dates_order": ("结束日期不能早于开始日期。", "The last day cannot be before the first day."),
    "campaign.need_times": (
        "时段需要同时填写开始和结束时间。",
        "A daypart needs both a start and an end time.",
    ),
    "availability.hint": (
        "填写表单后，这里会立即显示档期是否充足。",
        "Fill in the form to see at once whether it fits.",
    ),
    "availability.checking": ("正在检查档期…", "Checking availability…"),
    "availability.failed": ("暂时无法检查档期。", "Could not check availability right now."),
    "availability.fits": (
        "档期充足：{screens} 块屏幕，预计每天播放约 {plays} 次。",
        "It fits: {screens} screens, about {plays} plays per day.",
    ),
    "availability.no_fit": (
        "档期不足：目前最多可订 {max}% 的播放占比。",
        "It does not fit: the largest share available is {max}%.",
    ),
    "availability.zero": (
        "无法投放：这些屏幕已无空余档期，或所选素材不适合这些屏幕（例如视频短于户外屏要求的最短播放时长）。",
        "It cannot play: no airtime is left on these screens, or the chosen media does not suit them "
        "(e.g. a video shorter than an outdoor screen's minimum dwell time).",
    ),
    "availability.no_screens": ("没有符合条件的屏幕。", "No screen matches these criteria."),
    "preview.title": ("效果预览", "Preview"),
    "preview.outdoor": ("户外大屏（横屏）", "Outdoor screen (landscape)"),
    "preview.lobby": ("楼宇大堂屏（竖屏）", "Lobby screen (portrait)"),
    "report.title": ("播放证明报表", "Proof of play"),
    "report.chart_caption": ("每天播放次数，按屏幕类型分色。", "Plays per day, coloured by screen class."),
    "report.chart_title": ("每日播放次数", "Plays per day"),
    "report.day": ("日期", "Day"),
    "report.screen_class": ("屏幕类型", "Screen class"),
    "report.plays": ("播放次数", "Plays"),
    "report.seconds": ("播放时长（秒）", "Seconds on air"),
    "report.empty": ("还没有播放记录。", "No plays recorded yet."),
    "report.csv": ("下载 CSV", "Download CSV"),
    # states and enums
    "state.pending": ("待审核", "Pending"),
    "state.approved": ("已批准", "Approved"),
    "state.rejected": ("已驳回", "Rejected"),
    "state.paused": ("已暂停", "Paused"),
    "state.ended": ("已结束", "Ended"),
    "state.active": ("生效中", "Active"),
    "state.online": ("在线", "Online"),
    "state.offline": ("离线", "Offline"),
    "state.never": ("未上线", "Never seen"),
    "state.in_sync": ("已同步", "In sync"),
    "state.syncing": ("同步中", "Syncing"),
    "state.behind": ("未同步", "Behind"),
    "state.failing": ("同步失败", "Failing"),
    "state.frozen": ("画面冻结", "Frozen"),
    "state.unknown": ("未知", "Unknown"),
    "class.outdoor_large": ("户外大屏", "Outdoor large"),
    "class.indoor_small": ("楼宇小屏", "Indoor small"),
    "class.kiosk": ("自助终端", "Kiosk"),
    "orientation.landscape": ("横屏", "Landscape"),
    "orientation.portrait": ("竖屏", "Portrait"),
    "priority.normal": ("普通", "Normal"),
    "priority.important": ("重要", "Important"),
    "priority.emergency": ("紧急", "Emergency"),
    "weekday.0": ("周一", "Mon"),
    "weekday.1": ("周二", "Tue"),
    "weekday.2": ("周三", "Wed"),
    "weekday.3": ("周四", "Thu"),
    "weekday.4": ("周五", "Fri"),
    "weekday.5": ("周六", "Sat"),
    "weekday.6": ("周日", "Sun"),
    # operator: approvals
    "approvals.title": ("审核", "Approvals"),
    "approvals.campaigns": ("待审核的投放", "Campaigns waiting for approval"),
    "approvals.advertiser": ("商户", "Advertiser"),
    "approvals.approve": ("批准", "Approve"),
    "approvals.reject": ("驳回", "Reject"),
    "approvals.reason": ("驳回理由", "Reason"),
    "approvals.none": ("没有待审核的投放。", "No campaign is waiting."),
    "approvals.accounts": ("待审核的账号", "Accounts waiting for approval"),
    "approvals.role": ("类型", "Type"),
    "approvals.signed_up": ("注册时间", "Signed up"),
    "approvals.no_accounts": ("没有待审核的账号。", "No account is waiting."),
    "approvals.fits": ("提交时档期充足。", "It fitted when submitted."),
    "approvals.need_reason": ("驳回时请写明理由。", "Give a reason when rejecting."),
    # operator: screens
    "screens.title": ("屏幕", "Screens"),
    "screens.alert_frozen": (
        "{n} 块屏幕画面冻结（应换画面却没有变化）：{names}",
        "{n} frozen (picture not changing as scheduled): {names}",
    ),
    "screens.alert_failing": (
        "{n} 块屏幕内容播放失败：{names}",
        "{n} failing to play their content: {names}",
    ),
    "screens.alert_behind": (
        "{n} 块屏幕仍在播放旧节目单：{names}",
        "{n} still playing an old schedule: {names}",
    ),
    "screens.alert_offline": ("{n} 块屏幕离线：{names}", "{n} offline: {names}"),
    "screens.none": (
        "还没有屏幕。请在屏幕上查看绑定码，然后在上方输入。",
        "No screens yet. Enter the pairing code a new screen shows.",
    ),
    "screens.class": ("屏幕类型", "Screen class"),
    "screens.online": ("在线状态", "Online"),
    "screens.sync": ("内容同步", "Content sync"),
    "screens.missing": ("缺少 {n} 个素材", "{n} assets missing"),
    "screens.last_seen": ("最近心跳", "Last seen"),
    "screens.never": ("从未上线", "Never"),
    "screens.current": ("正在播放", "Now playing"),
    "screens.free_disk": ("剩余空间", "Free disk"),
    "screens.screenshot": ("最新截图", "Latest screenshot"),
    "screens.screenshot_of": ("{name} 的截图", "Screenshot of {name}"),
    "screens.no_screenshot": ("还没有截图。", "No screenshot yet."),
    "screens.request_screenshot": ("请求新截图", "Request a fresh screenshot"),
    "screens.screenshot_pending": (
        "已请求截图，等待屏幕上传。",
        "Screenshot requested; waiting for the screen.",
    ),
    "screens.status": ("运行状态", "Status"),
    "screens.edit": ("屏幕设置", "Settings"),
    "screens.orientation": ("方向", "Orientation"),
    "screens.width": ("宽（像素）", "Width (px)"),
    "screens.height": ("高（像素）", "Height (px)"),
    "screens.groups": ("分组", "Groups"),
    "screens.groups_help": ("用逗号分隔，例如：一期,东门", "Comma-separated, e.g. phase-1, east-gate"),
    "screens.tags": ("标签", "Tags"),
    "screens.tags_help": (
        "键:值，用逗号分隔，例如：building:3, floor:1",
        "key:value, comma-separated, e.g. building:3, floor:1",
    ),
    "screens.timezone": ("时区", "Time zone"),
    "screens.hours_on": ("每天开机时间", "On every day at"),
    "screens.hours_off": ("每天关机时间", "Off every day at"),
    "screens.hours_help": ("两项都不填即全天开启。", "Leave both empty for always on."),
    "claim.title": ("绑定新屏幕", "Pair a screen"),
    "claim.intro": (
        "输入新屏幕上显示的绑定码（扫描屏幕上的二维码会自动填入），并设置屏幕信息。",
        "Enter the code the new screen shows (scanning its QR code fills it in) and describe the screen.",
    ),
    "claim.code": ("绑定码", "Pairing code"),
    "claim.submit": ("绑定", "Pair"),
    "timeline.title": ("未来 24 小时播放时间线", "Timeline for the next 24 hours"),
    "timeline.help": (
        "每行一小时；蓝色为公告，橙色为广告，灰色为默认内容，红色为紧急广播。",
        "One row per hour; blue is announcements, orange ads, grey filler, red emergencies.",
    ),
    "timeline.click": (
        "点击时间线上的任一片段，查看排期引擎的说明。",
        "Click any part of the timeline to see the scheduling engine's explanation.",
    ),
    "timeline.loading": ("正在获取说明…", "Loading the explanation…"),
    "timeline.failed": ("无法获取说明。", "Could not load the explanation."),
    "timeline.kind.announcement": ("公告", "Announcement"),
    "timeline.kind.campaign": ("广告", "Ad"),
    "timeline.kind.filler": ("默认内容", "Filler"),
    "timeline.kind.emergency": ("紧急广播", "Emergency"),
    "timeline.svg_title": ("{name} 的播放时间线", "Timeline of {name}"),
    "timeline.unavailable": ("无法计算时间线：{reason}", "No timeline can be computed: {reason}"),
    "timeline.nothing": ("此时屏幕关闭或无内容。", "The screen is off or has nothing to play at that time."),
    # operator: announcements and emergencies
    "announcements.title": ("公告", "Announcements"),
    "announcements.new": ("发布公告", "New announcement"),
    "announcements.text_zh": ("中文内容", "Chinese text"),
    "announcements.text_en": ("英文内容", "English text"),
    "announcements.image": ("配图（可选）", "Image (optional)"),
    "announcements.no_image": ("不使用图片", "No image"),
    "announcements.priority": ("优先级", "Priority"),
    "announcements.valid_from": ("生效时间", "Valid from"),
    "announcements.valid_until": ("失效时间（可选）", "Valid until (optional)"),
    "announcements.validity": ("有效期", "Validity"),
    "announcements.publish": ("发布", "Publish"),
    "announcements.list": ("全部公告", "All announcements"),
    "announcements.none": ("还没有公告。", "No announcements yet."),
    "announcements.end": ("结束", "End"),
    "announcements.need_text": (
        "请至少填写中文或英文内容，或选择一张图片。",
        "Enter Chinese or English text, or choose an image.",
    ),
    "targeting.tags": ("标签条件（可选）", "Tag expression (optional)"),
    "targeting.tags_help": ("例如：building:3 AND NOT floor:B1", "e.g. building:3 AND NOT floor:B1"),
    "emergency.title": ("紧急广播", "Emergency broadcast"),
    "emergency.intro": (
        "紧急广播会立即打断所选屏幕上的所有内容，直到您结束它。",
        "An emergency broadcast interrupts everything on the chosen screens at once, until you end it.",
    ),
    "emergency.new": ("发出紧急广播", "Send an emergency broadcast"),
    "emergency.review": ("下一步：确认", "Next: confirm"),
    "emergency.confirm_title": ("确认发出紧急广播", "Confirm the emergency broadcast"),
    "emergency.confirm_text": (
        "确认后，以下内容将在几秒内出现在所有目标屏幕上。",
        "Once confirmed, this appears on every targeted screen within seconds.",
    ),
    "emergency.send_now": ("立即发出", "Send now"),
    "emergency.active": ("正在播出的紧急广播", "Emergency broadcasts on air"),
    "emergency.end": ("结束紧急广播", "End the broadcast"),
    "emergency.need_text": ("请填写紧急广播的中文内容。", "Enter the broadcast's Chinese text."),
    # clerk: government-affairs cases
    "cases.title": ("政务办件", "Government-affairs cases"),
    "cases.new": ("登记新办件", "New case"),
    "cases.type": ("事项", "Case type"),
    "cases.applicant": ("申请人姓名", "Applicant"),
    "cases.id_number": ("身份证号", "ID card number"),
    "cases.id_help": ("18 位，系统会校验末位校验码。", "18 characters; the check digit is verified."),
    "cases.phone": ("手机号", "Phone"),
    "cases.create": ("登记", "Create case"),
    "cases.list": ("最近办件", "Recent cases"),
    "cases.all_states": ("全部状态", "All states"),
    "cases.filter": ("筛选", "Filter"),
    "cases.number": ("办件编号", "Case number"),
    "cases.due_by": ("法定办结期限", "Due by"),
    "cases.none": ("没有办件。", "No cases."),
    "cases.receipt": ("回执二维码", "Receipt QR code"),
    "cases.receipt_qr": ("办件 {number} 的回执二维码", "Receipt QR code of case {number}"),
    "cases.change": ("更新进度", "Update progress"),
    "cases.next_state": ("下一步状态", "Next state"),
    "cases.note_zh": ("说明（中文）", "Note (Chinese)"),
    "cases.note_en": ("说明（英文）", "Note (English)"),
    "cases.note_help": (
        "不予受理、不予批准时写明原因；可领取时写明领取地点。居民在自助终端上会看到这段说明。",
        "Give the reason when rejecting or denying, and the pickup place when ready. "
        "Residents see it on the kiosk.",
    ),
    "cases.missing": ("需补齐的材料", "Missing documents"),
    "cases.missing_help": ("每行一项，仅在“需补材料”时填写。", "One per line; only for 'materials needed'."),
    "cases.deadline": ("补材料截止日期", "Deadline for the documents"),
    "cases.apply": ("更新", "Update"),
    "cases.final": ("此办件已办结，不能再更改。", "This case is closed and cannot change any more."),
    "cases.timeline": ("办理过程", "Timeline"),
    "case_state.submitted": ("已提交", "Submitted"),
    "case_state.accepted": ("已受理", "Accepted"),
    "case_state.rejected": ("不予受理", "Rejected"),
    "case_state.materials_needed": ("需补材料", "Materials needed"),
    "case_state.under_review": ("审核中", "Under review"),
    "case_state.approved": ("已批准", "Approved"),
    "case_state.denied": ("不予批准", "Denied"),
    "case_state.in_production": ("证件制作中", "In production"),
    "case_state.ready_for_pickup": ("可领取", "Ready for pickup"),
    "case_state.closed": ("已办结", "Closed"),
    # provider: bookings
    "bookings.title": ("预约订单", "Bookings"),
    "bookings.no_profile": (
        "您还没有服务商资料和服务项目，请联系社区运营人员开通。",
        "You have no provider profile or services yet; ask the community's operators to set them up.",
    ),
    "bookings.reference": ("订单号", "Reference"),
    "bookings.service": ("服务", "Service"),
    "bookings.when": ("预约时间", "Time"),
    "bookings.amount": ("金额", "Amount"),
    "bookings.accept": ("接单", "Accept"),
    "bookings.done": ("已完成服务", "Mark done"),
    "bookings.cancel": ("取消并退款", "Cancel and refund"),
    "bookings.reason": ("取消原因", "Reason"),
    "bookings.none": ("还没有预约。", "No bookings yet."),
    "booking_state.pending": ("待接单", "Waiting"),
    "booking_state.accepted": ("已接单", "Accepted"),
    "booking_state.done": ("已完成", "Done"),
    "booking_state.cancelled": ("已取消", "Cancelled"),
    # operator: bundles
    "bundles.title": ("离线 U 盘包", "Offline USB bundles"),
    "bundles.intro": (
        "为没有网络的屏幕导出签名的离线包（含节目单和素材），拷入 U 盘后插到屏幕上即可。",
        "Export a signed bundle (schedule and media) for screens without network; "
        "copy it to a USB stick and plug it in.",
    ),
    "bundles.group": ("屏幕分组", "Screen group"),
    "bundles.export": ("导出离线包", "Export bundle"),
    "bundles.no_groups": ("还没有屏幕分组。", "No screen groups yet."),
}


class MissingTranslation(KeyError):
    """A page asked for a key the table does not have (a bug: tests catch it)."""


@dataclass(frozen=True)
class Translator:
    """Looks keys up for one language; ``strict`` raises on unknown keys (used by tests)."""

    lang: str = DEFAULT_LANGUAGE
    strict: bool = False

    def __call__(self, key: str, **params: object) -> str:
        entry = MESSAGES.get(key)
        if entry is None:
            if self.strict:
                raise MissingTranslation(key)
            log.warning("portal: no translation for %r", key)
            return key
        text = entry[LANGUAGES.index(self.lang)]
        return text.format(**params) if params else text


def pick_language(requested: str | None) -> str:
    """The language to use for a cookie/query value, falling back to Chinese."""
    return requested if requested in LANGUAGES else DEFAULT_LANGUAGE
