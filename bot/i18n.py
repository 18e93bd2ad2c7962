"""Every sentence the user sees comes from ``locales/<lang>/LC_MESSAGES/messages.po``.

Message ids are keys (``ask.bhxh_code``), not English sentences, so both languages are
plain translations and a missing one is easy to find. The ``.po`` files are read with
Babel at start-up: no compile step to forget (ANCHORS lesson 14).
"""

from __future__ import annotations

import logging
from pathlib import Path

from babel.messages.pofile import read_po

from bot.flows.events import Button, Msg, ParamValue, Reply

log = logging.getLogger(__name__)
LOCALES_DIR = Path(__file__).resolve().parents[1] / "locales"
LANGUAGES = ("vi", "en")


class _Lenient(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Translator:
    def __init__(self, directory: Path = LOCALES_DIR, default: str = "vi") -> None:
        self.default = default
        self.catalogues: dict[str, dict[str, str]] = {}
        for lang in LANGUAGES:
            path = directory / lang / "LC_MESSAGES" / "messages.po"
            with path.open("rb") as handle:
                catalogue = read_po(handle, locale=lang)
            self.catalogues[lang] = {
                str(m.id): str(m.string) for m in catalogue if m.id and m.string
            }

    def keys(self, lang: str) -> set[str]:
        return set(self.catalogues[lang])

    def text(self, lang: str, key: str, params: dict[str, ParamValue] | None = None) -> str:
        template = self.catalogues.get(lang, {}).get(key)
        if template is None:
            template = self.catalogues[self.default].get(key)
            if template is None:
                log.error("missing message %s", key)
                return key
        values = _Lenient({name: self._value(lang, v) for name, v in (params or {}).items()})
        return template.format_map(values)  # C speed; string.Formatter is pure Python

    def _value(self, lang: str, value: ParamValue) -> str:
        if isinstance(value, Msg):
            return self.text(lang, value.key, dict(value.params))
        return str(value)

    def reply(self, lang: str, reply: Reply) -> str:
        return self.text(lang, reply.key, reply.params)

    def label(self, lang: str, button: Button) -> str:
        if button.label_key:
            return self.text(lang, button.label_key, button.params)
        return button.label
