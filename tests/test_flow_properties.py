"""Whatever a user types, at whatever step, the flow answers and never raises."""

from __future__ import annotations

import string
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.flows.agencies import load_directory
from bot.flows.conversation import Conversation
from bot.flows.events import Event, Msg
from bot.flows.machine import STATES
from bot.flows.places import catalogue
from bot.flows.registration import RegistrationFlow
from bot.i18n import Translator

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
FLOW = RegistrationFlow(catalogue(), load_directory(None), b"k" * 32)
TRANSLATOR = Translator()
STATE_NAMES = [s if isinstance(s, str) else s["name"] for s in STATES]
FILLED = {
    "draft_id": "d1",
    "bhxh_code": "0312345678",
    "full_name": "Nguyễn Văn An",
    "id_number": "001099012345",
    "id_type": "cccd",
    "province_code": "31",
    "commune_code": "11359",
    "street": "Số 5 Lạch Tray",
    "phone": "+84983847986",
    "wants_email": True,
    "email": "an@example.com",
    "portrait": "p1",
    "id_front": "p2",
    "id_back": "p3",
    "agency_code": "03102",
}


def conversation_at(state: str) -> Conversation:
    consent = None if state == "consent" else {"version": "v", "at": NOW.isoformat()}
    return Conversation("tg:1", state=state, answers=dict(FILLED), consent=consent)


EVENTS = st.one_of(
    st.text(max_size=1200).map(Event.typed),
    st.text(max_size=70).map(Event.pressed),
    st.sampled_from(["start", "status", "cancel", "help", "language", "xyz"]).map(Event.slash),
    st.sampled_from(["sticker", "voice", "location"]).map(
        lambda k: Event(kind="other", other_kind=k)
    ),
    st.just(
        Event(
            kind="photo",
            photo_problem="too_small",
            problem_detail={"width": 500, "height": 400, "min_side": 600},
        )
    ),
    st.just(Event(kind="contact", text="+84983847986")),
)


@pytest.mark.parametrize("state", [s for s in STATE_NAMES if s != "submitting"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=EVENTS)
def test_every_input_at_every_step_gets_a_readable_answer(state: str, event: Event) -> None:
    conv = conversation_at(state)
    replies = FLOW.handle(conv, event, NOW)
    assert replies or conv.effects, "the user must hear something"
    for reply in replies:
        assert_renders(reply.key, dict(reply.params))
        for row in reply.buttons:
            for button in row:
                assert len(button.data.encode()) <= 64
                if button.label_key:
                    assert_renders(button.label_key, dict(button.params))
    conv.to_json()  # still storable


def assert_renders(key: str, params: dict[str, object]) -> None:
    """The key exists in both languages and every placeholder of it has a value."""
    for lang in ("vi", "en"):
        template = TRANSLATOR.catalogues[lang].get(key)
        assert template, f"{key} missing in {lang}"
        wanted = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        assert wanted <= set(params), f"{key} ({lang}) lacks {wanted - set(params)}"
        for value in params.values():
            if isinstance(value, Msg):
                assert_renders(value.key, dict(value.params))


def test_every_message_key_the_flow_can_use_exists_in_both_languages() -> None:
    vi, en = TRANSLATOR.keys("vi"), TRANSLATOR.keys("en")
    assert vi == en
