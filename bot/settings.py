"""The operator's interface: every setting comes from the environment (ARCHITECTURE.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Names are the environment variables, case-insensitive."""

    model_config = SettingsConfigDict(extra="ignore")

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    vssid_data_dir: Path = Path("./data")
    vssid_data_key: SecretStr | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_from: str = "VssID bot <no-reply@localhost>"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: Literal["starttls", "tls", "none"] = "starttls"
    sms_gateway_url: str | None = None
    submission_url: str | None = None
    staff_chat_id: int | None = None
    staff_user_ids: str = ""
    bot_default_locale: Literal["vi", "en"] = "vi"
    #: Days a decided or expired declaration keeps its personal fields, PDF and photos.
    retention_days: int = Field(default=30, ge=0)

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
