"""The operator's interface: every setting comes from the environment (ARCHITECTURE.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.helpdesk.hours import DEFAULT_HOURS, OfficeHours


class Settings(BaseSettings):
    """Names are the environment variables, case-insensitive."""

    model_config = SettingsConfigDict(extra="ignore")

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    #: The bot's @username, for organisations' invite links (``vssid-bot org``).
    telegram_bot_username: str | None = None
    #: Relative to the working directory of the command (``run`` logs the absolute path).
    vssid_data_dir: Path = Path("./data")
    vssid_data_key: SecretStr | None = None
    #: Messages for a channel with no carrier go to the dev outbox table instead of failing.
    #: Off by default, so that a deployment without SMTP or SMS gateway cannot tell a citizen
    #: "code sent" for a code that went nowhere; the console always turns it on.
    vssid_dev_outbox: bool = False
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_from: str = "VssID bot <no-reply@localhost>"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: Literal["starttls", "tls", "none"] = "starttls"
    sms_gateway_url: str | None = None
    submission_url: str | None = None
    #: The staff supergroup (forum topics on) where support staff answer citizens; without
    #: it the help button lists the hotlines only.
    staff_chat_id: int | None = None
    #: Telegram ids of support staff, comma-separated; they must also be members of the chat.
    staff_user_ids: str = ""
    #: When a person answers, in Vietnam time (``bot.helpdesk.hours``).
    staff_hours: str = DEFAULT_HOURS
    #: Minutes a citizen waits in office hours before being offered the bot or a call back.
    staff_answer_minutes: int = Field(default=15, ge=1)
    bot_default_locale: Literal["vi", "en"] = "vi"
    #: Background messages (reminders, decisions, the PDF after a receipt) a second, out of
    #: Telegram's ~30 for the whole bot; replies to people typing always go first. A third:
    #: a sweep of 1,000 reminders takes under two minutes and leaves two thirds for replies.
    telegram_background_rate: float = Field(default=10.0, gt=0, le=30)
    #: Days a decided or expired declaration keeps its personal fields, PDF and photos.
    retention_days: int = Field(default=30, ge=0)

    @field_validator("smtp_tls", mode="before")
    @classmethod
    def _tls_as_a_yes_or_no(cls, value: object) -> object:
        """``SMTP_TLS=true`` is STARTTLS (as Django's ``EMAIL_USE_TLS``: the usual way on
        port 587) and ``false`` is none; the three names stay the precise spelling."""
        text = str(value).strip().lower()
        if text in ("true", "yes", "on", "1"):
            return "starttls"
        if text in ("false", "no", "off", "0"):
            return "none"
        return text

    @field_validator("staff_hours")
    @classmethod
    def _hours_readable(cls, value: str) -> str:
        OfficeHours.parse(value)  # refused at start-up, not at a citizen's first request
        return value

    @property
    def api_root(self) -> str:
        return self.telegram_api_url.rstrip("/")

    @property
    def database_path(self) -> Path:
        return self.vssid_data_dir / "vssid.sqlite3"

    @property
    def staff_ids(self) -> frozenset[int]:
        parts = self.staff_user_ids.replace(";", ",").split(",")
        return frozenset(int(p) for p in (s.strip() for s in parts) if p.lstrip("-").isdigit())
