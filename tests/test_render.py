"""How replies become Telegram messages: notes ride with the next question."""

from __future__ import annotations

from bot.flows.events import Button, Reply
from bot.handlers.render import joined
from bot.i18n import Translator

T = Translator()


def test_a_note_and_the_next_question_are_one_message() -> None:
    replies = [
        Reply("note.chosen", {"choice": "Phường Gia Viên"}),
        Reply("ask.street", {"step": 4, "total": 10}),
    ]
    [(_, text)] = joined(replies, "vi", T)
    assert text.startswith("✅ Phường Gia Viên\n\nBước 4/10")


def test_edits_documents_and_keyboards_keep_their_own_message() -> None:
    replies = [
        Reply("note.chosen", {"choice": "A"}, edit=True),
        Reply("note.phone_saved", {"phone": "0983 847 986"}, keyboard="remove"),
        Reply("done.pdf", {"receipt": "1"}, document=b"%PDF", document_name="x.pdf"),
        Reply("ask.email_choice", {"step": 6, "total": 10}, buttons=((Button("x", label="x"),),)),
    ]
    assert [r.key for r, _ in joined(replies, "vi", T)] == [r.key for r in replies]


def test_notes_that_would_be_too_long_together_are_sent_apart() -> None:
    long_note = Reply("note.chosen", {"choice": "x" * 3000})
    parts = joined([long_note, long_note], "en", T)
    assert len(parts) == 2 and all(len(text) <= 4096 for _, text in parts)
