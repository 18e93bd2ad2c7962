"""Portrait and ID photos, checked and stored by the service; here taken or refused."""

from __future__ import annotations

from datetime import datetime

from bot.flows.conversation import PHOTO_FIELDS, Conversation
from bot.flows.events import Event, Reply
from bot.flows.steps.doubts import ID_PHOTOS, DoubtSteps

PHOTO_STEPS = PHOTO_FIELDS  # each photo is a step of its own


class PhotoSteps(DoubtSteps):
    """The photo arrives already checked; the step only records its id or the reason.
    An ID photo whose QR says another number than the one typed is asked about first."""

    def _on_photo_step(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.kind not in ("photo", "document"):
            return self._wrong_kind(conv, event, "photo")
        if event.photo_problem:
            return self._reject(conv, f"photo_{event.photo_problem}", dict(event.problem_detail))
        if not event.photo_id:
            return self._reject(conv, "photo_not_image")
        if conv.state in ID_PHOTOS and (doubt := self._check_card_number(conv, event, now)):
            return doubt
        conv.answers[conv.state] = event.photo_id
        return [Reply(f"note.photo_saved.{conv.state}"), *self._advance(conv, now)]

    _on_portrait = _on_photo_step
    _on_id_front = _on_photo_step
    _on_id_back = _on_photo_step

    def _ask_id_front(self, conv: Conversation, now: datetime) -> list[Reply]:
        key = "ask.passport_page" if conv.has_passport() else "ask.id_front"
        return [self._question(conv, "id_front", key=key)]
