"""The child's declaration as a machine declared as data, from the adult's declarations.

The questions a child shares with an adult (BHXH code, name and its doubt, portrait,
agency) and the whole ending (review with edits, code, submission, cancel) are declared
by the same helpers as the adult's (``bot.flows.machine``), and answered by the same step
code: only the states and their order differ. The child has no ID card, phone or e-mail
of their own: the birth certificate stands for the ID photos, and the code goes to the
guardian's e-mail (seeds: «Đăng ký cho con dưới 18 tuổi chưa được cấp căn cước»).
"""

from __future__ import annotations

from typing import Any

from bot.flows.machine import (
    CLOSING_STATES,
    MACHINES,
    FlowMachine,
    closing,
    doubted,
    then,
)

#: The child's questions in the order the guardian meets them.
CHILD_QUESTIONS = (
    "relationship",
    "bhxh_code",
    "full_name",
    "birth_date",
    "gender",
    "portrait",
    "birth_certificate",
    "agency",
)

CHILD_STATES: list[str | dict[str, Any]] = [
    "consent",  # the guardian's consent to the use of the child's data
    *CHILD_QUESTIONS[:-1],
    "name_confirm",
    #: 14–17 years old: does the child already have a CCCD/Căn cước?
    "id_card_question",
    "agency",
    *CLOSING_STATES,
]

#: Which field each review button edits, and where that edit starts.
CHILD_EDITABLE: dict[str, str] = {
    "relationship": "relationship",
    "bhxh_code": "bhxh_code",
    "full_name": "full_name",
    "birth_date": "birth_date",
    "gender": "gender",
    "portrait": "portrait",
    "birth_certificate": "birth_certificate",
    "agency": "agency",
}

CHILD_TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "agree", "source": "consent", "dest": "relationship"},
    *then("relationship", "bhxh_code"),
    *then("bhxh_code", "full_name"),
    *then("full_name", "birth_date"),
    *doubted("full_name", "name_confirm"),
    *then("name_confirm", "birth_date"),
    # A 14–17-year-old may have a CCCD: asked before going on, also when the birth date
    # is changed at the review.
    {
        "trigger": "advance",
        "source": "birth_date",
        "dest": "id_card_question",
        "conditions": "asks_about_id_card",
    },
    *then("birth_date", "gender"),
    *then("id_card_question", "gender"),
    # 18 or over, or a CCCD: the child registers themself; this declaration ends here.
    {
        "trigger": "registers_themself",
        "source": ["birth_date", "id_card_question"],
        "dest": "cancelled",
    },
    *then("gender", "portrait"),
    *then("portrait", "birth_certificate"),
    *then("birth_certificate", "agency"),
    *closing(CHILD_EDITABLE),
]

CHILD = FlowMachine(CHILD_STATES, CHILD_TRANSITIONS, "consent")
MACHINES["child"] = CHILD


# ---------------------------------------------------------------- the guardian's proof
#: What a guardian new to the bot gives before the code to their e-mail
#: (``bot.guardians.proof``), asked by the adult's step code.
PROOF_QUESTIONS = ("bhxh_code", "full_name", "phone", "email")

PROOF_STATES: list[str | dict[str, Any]] = [
    "consent",  # passed when the guardian says they have VssID and go on
    *PROOF_QUESTIONS,
    "name_confirm",
    "email_confirm",
    "otp",
    #: The code came back: the guardian is stored and the child's consent is asked.
    "proved",
    "cancelled",
]

PROOF_TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "agree", "source": "consent", "dest": "bhxh_code"},
    {"trigger": "advance", "source": "bhxh_code", "dest": "full_name"},
    {"trigger": "advance", "source": ["full_name", "name_confirm"], "dest": "phone"},
    *doubted("full_name", "name_confirm"),
    {"trigger": "advance", "source": "phone", "dest": "email"},
    # The code goes as soon as the e-mail is taken (``GuardianProofFlow._advance``).
    {"trigger": "advance", "source": ["email", "email_confirm"], "dest": "otp"},
    *doubted("email", "email_confirm"),
    {"trigger": "change_destination", "source": "otp", "dest": "email"},
    {"trigger": "verified", "source": "otp", "dest": "proved"},
    {"trigger": "cancel", "source": "*", "dest": "cancelled"},
]

PROOF = FlowMachine(PROOF_STATES, PROOF_TRANSITIONS, "consent")
MACHINES["guardian"] = PROOF
