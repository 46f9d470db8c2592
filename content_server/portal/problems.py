"""Server refusals in the reader's language: the services' messages (written for the JSON API, in
English) matched to the portal's translation table.

The services raise errors with an English message (``"id_number: check digit does not match"``)
that the JSON API returns as it is. A portal page must not show that to a clerk reading Chinese,
so :func:`match` finds the message's entry here and ``page.problem_text`` formats its
``problem.*`` text with the values the message carried. A message with no entry is shown as a
general refusal in Chinese (and as it is in English), and logged, so a new message never shows
through raw; a test lists every message the services can raise and fails when one has no entry.

Pure: no web framework, no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STATE = r"'?(?P<state>[a-z_]+)'?"


@dataclass(frozen=True)
class Problem:
    """One known message: its pattern, the ``problem.*`` key, and named groups passed as values."""

    pattern: re.Pattern[str]
    key: str


def _p(pattern: str, key: str) -> Problem:
    return Problem(re.compile(rf"^{pattern}$", re.S), key)


PROBLEMS: tuple[Problem, ...] = (
    # residents' identity data (cases, orders)
    _p(r"id_number: must be 17 digits followed by a digit or X", "problem.id_format"),
    _p(r"id_number: contains an impossible birth date", "problem.id_birth_date"),
    _p(r"id_number: check digit does not match", "problem.id_check_digit"),
    _p(r"phone: must be an 11-digit mainland mobile number", "problem.phone"),
    # accounts
    _p(r"password: use at least \d+ characters|password: at most \d+ characters", "signup.password_help"),
    _p(r"username: 1 to 64 characters", "signup.username_help"),
    _p(r"username .* is taken", "signup.taken"),
    # cases
    _p(r"unknown case type .*", "problem.case_type"),
    _p(r"applicant_name: 1 to 50 characters", "problem.applicant_name"),
    _p(r"could not allocate a case number, please retry", "problem.retry"),
    _p(r"no such case", "problem.not_found"),
    _p(r"unknown state .*", "problem.not_found"),
    _p(rf"case: cannot go from {_STATE} to '?(?P<target>[a-z_]+)'?", "problem.case_move"),
    _p(r"note: (?P<target>[a-z_]+) needs a .*", "problem.case_note"),
    _p(r"missing_documents: list the missing documents", "problem.case_documents"),
    _p(r"deadline: materials needed requires a deadline", "problem.case_deadline"),
    _p(r"deadline: deadline is in the past", "problem.case_deadline_past"),
    _p(r"missing_documents: only a materials-needed change lists documents", "problem.case_documents_only"),
    _p(r"at: must be timezone-aware", "problem.retry"),
    _p(r"clerk: every change is attributed to a clerk", "problem.retry"),
    # providers: profile, services, slots, bookings
    _p(r"merchant name is needed in Chinese and English", "problem.merchant_name"),
    _p(r"create your merchant profile first", "services.profile_first"),
    _p(r"unknown category .*", "problem.category"),
    _p(r"service name is needed in Chinese and English", "problem.service_name"),
    _p(r"price_minor must be between .*", "problem.price"),
    _p(r"the price changed since the kiosk showed it; please order again", "problem.price_changed"),
    _p(r"duration_minutes must be between .*", "problem.duration"),
    _p(r"image_sha256: upload the image first .*", "problem.service_image"),
    _p(r"no such (?:service|slot|booking|order|service or time slot)", "problem.not_found"),
    _p(r"slot times need a time zone", "error.bad_time"),
    _p(r"a slot must start in the future and end after it starts", "problem.slot_times"),
    _p(r"capacity must be between (?P<low>\d+) and 1000", "problem.capacity"),
    _p(r"this slot has (?P<n>\d+) booking\(s\): its time cannot move", "problem.slot_booked_move"),
    _p(r"this slot has (?P<n>\d+) booking\(s\): cancel them first", "problem.slot_booked_delete"),
    _p(r"no slot falls on the chosen weekdays and dates", "problem.no_slots"),
    _p(r"finish or cancel these bookings first: (?P<refs>.+)", "problem.service_has_bookings"),
    _p(rf"cannot accept a {_STATE} booking that is '?(?P<booking>[a-z_]+)'?", "problem.booking_move"),
    _p(r"accept the booking before marking it done", "problem.booking_accept_first"),
    _p(r"say why the booking is cancelled", "problem.booking_reason"),
    _p(rf"order: cannot go from {_STATE} to '?(?P<target>[a-z_]+)'?", "problem.booking_move"),
    _p(r"the contact details of a (?P<state>[a-z_]+) booking are not shown", "problem.contact_closed"),
    _p(r"this time slot has already started", "problem.slot_started"),
    _p(r"this time slot is fully booked", "problem.slot_full"),
    # screens
    _p(r"no pending pairing with this code .*", "problem.pairing_code"),
    _p(r"unknown pairing|pairing code expired; start again", "problem.pairing_code"),
    _p(r"unknown screen|no screenshot yet", "problem.not_found"),
    _p(r"timezone: (?:timezone: )?unknown time zone .*", "problem.timezone"),
    _p(r"hours\.[a-z_.]*: .*", "problem.hours"),
    _p(r"no active screen in group .*", "problem.bundle_group"),
    _p(r"filler_item_ids: nothing can play on .* no filler.*", "problem.no_filler"),
    # media
    _p(r"unknown media.*", "problem.media_unknown"),
    _p(r"duration_s: a video plays for its real length", "problem.video_duration"),
    _p(r"choose a new file to replace this one with", "problem.replace_same"),
    _p(r"this media is used by (?:a pending or running )?campaigns?: (?P<names>.+)", "problem.media_in_use"),
    _p(r"this media is used by (?:an )?announcements?: (?P<names>.+)", "problem.media_in_announcement"),
    # campaigns and announcements
    _p(r"unknown campaign", "problem.not_found"),
    _p(r"unknown announcement", "problem.not_found"),
    _p(rf"cannot (?P<action>[a-z]+) a campaign that is {_STATE}", "problem.campaign_move"),
    _p(rf"cannot (?P<action>[a-z]+) an announcement that is {_STATE}", "problem.announcement_move"),
    _p(rf"the campaign is already {_STATE}", "problem.campaign_over"),
    _p(
        r"only a pending campaign can be changed; this one is (?P<state>[a-z_]+)",
        "problem.campaign_not_pending",
    ),
    _p(r"reason: say why the campaign is rejected", "approvals.need_reason"),
    _p(r"the booking does not fit: .*", "problem.no_fit"),
    _p(r"(?:targeting(?:\.tag_expr)?: )+.*", "problem.tag_expr"),
    _p(r"rrule: .* is finer than an hour: .*", "problem.rrule_minutes"),
    _p(r"rrule: .*", "problem.rrule"),
    _p(r"flight_end must not be before flight_start", "campaign.dates_order"),
    _p(r"a flight may last at most a year", "problem.flight_length"),
    _p(r"valid_until must be after valid_from", "problem.validity_order"),
    _p(r"give a text or at least one media item", "announcements.need_text"),
    _p(
        r"media_ids: at most (?P<n>\d+) pictures play on a screen per announcement",
        "problem.announcement_slides",
    ),
    # studio: live data sources
    _p(r"url: only http:// and https:// sources can be fetched", "problem.source_url"),
    _p(r"allow_networks: '?(?P<item>.*?)'? is not an address or network .*", "problem.source_network"),
    _p(r"mapping: .*", "problem.source_mapping"),
    _p(r"unknown data source", "problem.source_unknown"),
    _p(r"unknown PDF notice", "problem.not_found"),
    _p(r"(?:valid_from|valid_until): needs a time zone offset", "error.bad_date"),
    _p(r"dayparts(?:\.weekdays)?: .*", "problem.daypart"),
)


def match(message: str) -> tuple[str, dict[str, str]] | None:
    """The ``problem.*`` key for a service's message and the values it carried, or None."""
    text = message.strip().removeprefix("Value error, ")
    for problem in PROBLEMS:
        found = problem.pattern.match(text)
        if found is not None:
            return problem.key, {k: v for k, v in found.groupdict().items() if v is not None}
    return None


GENERIC = "error.refused"

# form and model field names as the reader knows them (a refusal never names a code)
FIELD_LABELS: dict[str, str] = {
    "title": "field.title",
    "name": "field.name",
    "text": "announcements.text_zh",
    "text_zh": "announcements.text_zh",
    "text_en": "announcements.text_en",
    "valid_from": "announcements.valid_from",
    "valid_until": "announcements.valid_until",
    "media_ids": "campaign.media",
    "media_id": "announcements.image",
    "flight_start": "campaign.flight_start",
    "flight_end": "campaign.flight_end",
    "share_percent": "campaign.share",
    "frequency_cap": "campaign.cap",
    "frequency_cap_per_hour": "campaign.cap",
    "category": "campaign.category",
    "priority": "announcements.priority",
    "width": "screens.width",
    "height": "screens.height",
    "screen_class": "screens.class",
    "orientation": "screens.orientation",
    "timezone": "screens.timezone",
    "groups": "screens.groups",
    "tags": "screens.tags",
    "code": "claim.code",
    "capacity": "services.capacity",
    "day": "services.day",
    "start": "campaign.from",
    "end": "campaign.until",
    "price": "services.price",
    "duration_minutes": "services.duration",
    "reason": "campaign.reason",
    "phone": "cases.phone",
    "applicant_name": "cases.applicant",
    "id_number": "cases.id_number",
    "case_type": "cases.type",
    "first_day": "services.first_day",
    "last_day": "services.last_day",
    "duration_s": "media.duration",
    "load_timeout_s": "media.live_timeout",
    "kind": "media.kind",
    "url": "media.live_url",
    "allowed_hosts": "media.live_hosts",
    "every_s": "sources.every",
    "ttl_s": "sources.ttl",
    "preset": "sources.preset",
    "headline_title": "sources.headline_title",
    "allow_networks": "sources.allow",
}
# values a message carries that are codes themselves: shown by their name in these tables
VALUE_TABLES: tuple[str, ...] = ("state.", "case_state.", "booking_state.", "pay.state.", "verb.")
