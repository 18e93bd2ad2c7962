"""Bot API request validation against the machine-readable spec.

The spec is ``PaulSonOfLars/telegram-bot-api-spec`` ``api.json`` (``{methods: {name: {fields:
[{name, types, required}]}}, types: {...}}``). It is read from ``$TELEGRAM_API_SPEC`` if set, else
``/work/shared/telegram-bot-api-spec/api.json`` if present, else the reduced copy vendored next to
this module (``api_spec.json``, same data without descriptions; MIT, see ``LICENSE.api-spec``).
It is loaded once per process.

Two steps, both used by the emulator for every request:

* :func:`decode_form_params` turns the strings of a form-urlencoded / multipart request into typed
  values, guided by the spec (PTB sends strings raw and everything else ``json.dumps``-ed).
* :func:`check_request` returns the list of reasons real Telegram would refuse the request:
  unknown method or parameter, missing required parameter, wrong type (recursing into objects such
  as ``reply_markup``), text/caption length after entity parsing, ``callback_data`` > 64 bytes,
  answerCallbackQuery text > 200 characters, broken ``parse_mode`` markup.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .formatting import EntityParseError, ParsedText, parse_text

__all__ = [
    "Violation",
    "check_request",
    "decode_form_params",
    "load_spec",
    "method_fields",
    "resolve_method",
]

_SHARED_SPEC = Path("/work/shared/telegram-bot-api-spec/api.json")
_VENDORED_SPEC = Path(__file__).with_name("api_spec.json")

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_CALLBACK_ANSWER = 200
_INT_RE = re.compile(r"-?\d+")
_FLOAT_RE = re.compile(r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_SCALARS = {"Integer", "String", "Boolean", "Float", "InputFile"}
_MAX_DEPTH = 12


@dataclass
class Violation:
    """Why Telegram would refuse a request: ``description`` is what it would answer (HTTP 400)."""

    method: str
    message: str  # for humans / spec_violations
    description: str  # Telegram-style "Bad Request: ..."

    def __str__(self) -> str:
        return f"{self.method}: {self.message}"


@dataclass
class CheckResult:
    violations: list[Violation] = field(default_factory=list)
    # parsed text / caption (plain text + entities) for the handlers, when present and valid
    parsed: dict[str, ParsedText] = field(default_factory=dict)


@cache
def load_spec() -> dict[str, Any]:
    env = os.environ.get("TELEGRAM_API_SPEC")
    for candidate in (Path(env) if env else None, _SHARED_SPEC, _VENDORED_SPEC):
        if candidate is not None and candidate.is_file():
            data: dict[str, Any] = json.loads(candidate.read_text(encoding="utf-8"))
            return data
    raise FileNotFoundError("Bot API spec not found (set TELEGRAM_API_SPEC)")


@cache
def _method_index() -> dict[str, str]:
    return {name.lower(): name for name in load_spec()["methods"]}


def resolve_method(name: str) -> str | None:
    """The canonical method name (Telegram matches method names case-insensitively)."""
    return _method_index().get(name.lower())


@cache
def method_fields(method: str) -> dict[str, dict[str, Any]]:
    fields = load_spec()["methods"][method].get("fields", [])
    return {f["name"]: f for f in fields}


def _type_fields(type_name: str) -> dict[str, dict[str, Any]] | None:
    spec_type = load_spec()["types"].get(type_name)
    if spec_type is None:
        return None
    return {f["name"]: f for f in spec_type.get("fields", [])}


# ------------------------------------------------------------------------------------ decoding


def _decode_one(types: list[str], raw: str) -> Any:
    """A form value (always a string) as the typed value Telegram would read from it."""
    if "String" in types and not ({"Integer", "Float"} & set(types)):
        return raw
    if "InputFile" in types:
        return raw  # a file_id, a URL or attach://<name>
    if "Integer" in types and _INT_RE.fullmatch(raw.strip()):
        return int(raw)
    if "Float" in types and _FLOAT_RE.fullmatch(raw.strip()):
        return float(raw)
    if "Boolean" in types and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    if "String" in types:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # left as a string; check_request reports the type error


def decode_form_params(method: str | None, raw: dict[str, str]) -> dict[str, Any]:
    """Decode form fields guided by the spec; unknown fields are JSON-decoded when possible."""
    fields = method_fields(method) if method else {}
    decoded: dict[str, Any] = {}
    for name, value in raw.items():
        spec_field = fields.get(name)
        if spec_field is not None:
            decoded[name] = _decode_one(spec_field["types"], value)
            continue
        try:
            decoded[name] = json.loads(value)
        except ValueError:
            decoded[name] = value
    return decoded


# ------------------------------------------------------------------------------------ checking


def _type_error(
    types: list[str], value: Any, path: str, files: set[str], depth: int = 0
) -> str | None:
    """None if ``value`` matches one of ``types``, else a human-readable reason."""
    reasons: list[tuple[int, str]] = []
    for type_name in types:
        reason = _check_type(type_name, value, path, files, depth)
        if reason is None:
            return None
        reasons.append((_overlap(type_name, value), reason))
    if len(reasons) == 1:
        return reasons[0][1]
    best_overlap, best_reason = max(reasons, key=lambda r: r[0])
    if best_overlap > 0:  # an object that looks like one of the types: say what is wrong with it
        return best_reason
    return f"{path}: {type(value).__name__} value matches none of {' | '.join(types)}"


def _overlap(type_name: str, value: Any) -> int:
    """How many keys of a dict ``value`` are fields of object type ``type_name``."""
    if not isinstance(value, dict):
        return 0
    fields = _type_fields(type_name) or {}
    return len(set(value) & set(fields))


def _check_type(type_name: str, value: Any, path: str, files: set[str], depth: int) -> str | None:
    if depth > _MAX_DEPTH:
        return None
    if type_name.startswith("Array of "):
        if not isinstance(value, list):
            return f"{path}: expected {type_name}, got {type(value).__name__}"
        inner = type_name[len("Array of ") :]
        for index, item in enumerate(value):
            reason = _check_type(inner, item, f"{path}[{index}]", files, depth + 1)
            if reason:
                return reason
        return None
    if type_name == "Integer":
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and bool(_INT_RE.fullmatch(value))
        )
        return None if ok else f"{path}: expected Integer, got {value!r}"
    if type_name == "Float":
        ok = (isinstance(value, int | float) and not isinstance(value, bool)) or (
            isinstance(value, str) and bool(_FLOAT_RE.fullmatch(value))
        )
        return None if ok else f"{path}: expected Float, got {value!r}"
    if type_name == "Boolean":
        ok = isinstance(value, bool) or value in ("true", "false")
        return None if ok else f"{path}: expected Boolean, got {value!r}"
    if type_name == "String":
        # Telegram converts JSON numbers to strings; objects, arrays and booleans are refused.
        ok = isinstance(value, str) or (
            isinstance(value, int | float) and not isinstance(value, bool)
        )
        return None if ok else f"{path}: expected String, got {type(value).__name__}"
    if type_name == "InputFile":
        if isinstance(value, _Uploaded):
            return None
        if isinstance(value, str) and value.startswith("attach://"):
            name = value[len("attach://") :]
            return None if name in files else f"{path}: no multipart part named {name!r}"
        return f"{path}: expected an uploaded file"
    spec_type = load_spec()["types"].get(type_name)
    if spec_type is None:
        return None  # unknown to the spec: nothing to check
    subtypes = spec_type.get("subtypes")
    if subtypes:
        return _type_error(list(subtypes), value, path, files, depth + 1)
    if not isinstance(value, dict):
        return f"{path}: expected {type_name} object, got {type(value).__name__}"
    fields = {f["name"]: f for f in spec_type.get("fields", [])}
    for key in value:
        if key not in fields:
            return f"{path}: unknown field {key!r} for {type_name}"
    for name, spec_field in fields.items():
        if name not in value:
            if spec_field["required"]:
                return f"{path}: {type_name} is missing required field {name!r}"
            continue
        reason = _type_error(spec_field["types"], value[name], f"{path}.{name}", files, depth + 1)
        if reason:
            return reason
    return None


class _Uploaded:
    """Marker for a parameter given as a multipart file upload."""


UPLOADED = _Uploaded()

_MISSING_DESCRIPTIONS = {
    "chat_id": "Bad Request: chat_id is empty",
    "text": "Bad Request: message text is empty",
    "callback_query_id": "Bad Request: query is too old and response timeout expired or query ID "
    "is invalid",
    "file_id": "Bad Request: file_id not specified",
    "message_id": "Bad Request: message identifier is not specified",
}


def check_request(method: str, params: dict[str, Any], files: set[str]) -> CheckResult:
    """Validate decoded ``params`` (+ names of multipart file parts) of a known ``method``."""
    result = CheckResult()

    def refuse(message: str, description: str) -> None:
        result.violations.append(Violation(method, message, description))

    fields = method_fields(method)
    given: dict[str, Any] = dict(params)
    for name in files:
        if name in fields and name not in given:
            given[name] = UPLOADED
    for name in given:
        if name not in fields:
            refuse(
                f"unknown parameter {name!r}",
                f"Bad Request: unknown parameter {name!r} (not in the Bot API spec for {method})",
            )
    for name, spec_field in fields.items():
        if name not in given:
            if spec_field["required"]:
                refuse(
                    f"missing required parameter {name!r}",
                    _MISSING_DESCRIPTIONS.get(name, f"Bad Request: parameter {name!r} is required"),
                )
            continue
        reason = _type_error(spec_field["types"], given[name], name, files)
        if reason:
            refuse(reason, f"Bad Request: wrong type of parameter {reason}")
    if result.violations:
        return result
    _check_texts(method, given, result, refuse)
    _check_markup(given.get("reply_markup"), refuse)
    if method == "answerCallbackQuery":
        text = given.get("text")
        if isinstance(text, str) and len(text) > MAX_CALLBACK_ANSWER:
            refuse(
                f"callback answer text is {len(text)} characters (max {MAX_CALLBACK_ANSWER})",
                "Bad Request: MESSAGE_TOO_LONG",
            )
    return result


def _check_texts(method: str, given: dict[str, Any], result: CheckResult, refuse: Any) -> None:
    for key, entities_key, limit in (
        ("text", "entities", MAX_TEXT),
        ("caption", "caption_entities", MAX_CAPTION),
    ):
        value = given.get(key)
        if key not in given or not isinstance(value, str):
            continue
        if key == "text" and method in ("answerCallbackQuery", "sendPoll", "sendChecklist"):
            continue
        entities = given.get(entities_key)
        try:
            parsed = parse_text(
                value, given.get("parse_mode"), entities if isinstance(entities, list) else None
            )
        except EntityParseError as exc:
            refuse(f"{key}: {exc}", f"Bad Request: {exc}")
            continue
        result.parsed[key] = parsed
        length = len(parsed.text)
        if key == "text" and not parsed.text.strip():
            refuse(
                "message text is empty after entity parsing", "Bad Request: message text is empty"
            )
        elif length > limit:
            what = "message" if key == "text" else "message caption"
            refuse(
                f"{key} is {length} characters after entity parsing (max {limit})",
                f"Bad Request: {what} is too long",
            )


def _check_markup(markup: Any, refuse: Any) -> None:
    if not isinstance(markup, dict) or not isinstance(markup.get("inline_keyboard"), list):
        return
    actions = {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
    for row in markup["inline_keyboard"]:
        for button in row if isinstance(row, list) else []:
            if not isinstance(button, dict):
                continue
            data = button.get("callback_data")
            if isinstance(data, str):
                size = len(data.encode("utf-8"))
                if not 1 <= size <= MAX_CALLBACK_DATA:
                    refuse(
                        f"callback_data {data!r} is {size} bytes (must be 1-{MAX_CALLBACK_DATA})",
                        "Bad Request: BUTTON_DATA_INVALID",
                    )
            if not actions & set(button):
                refuse(
                    f"inline button {button.get('text')!r} has no action field",
                    "Bad Request: text buttons are unallowed in the inline keyboard",
                )
