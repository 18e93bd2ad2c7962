"""Entity parsing for ``parse_mode`` the way Telegram (TDLib) does it, reduced to what tests need.

``parse_text(text, parse_mode)`` returns the plain text the user sees plus the message entities
(offsets and lengths in UTF-16 code units, as in the Bot API), or raises :class:`EntityParseError`
with the description Telegram would give (``can't parse entities: ...``).

Real Telegram refuses a message whose HTML is broken, e.g. a user's name containing ``<`` sent
unescaped with ``parse_mode="HTML"``; the emulator refuses it too, so end-to-end tests catch it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EntityParseError", "ParsedText", "parse_text", "utf16_len"]


class EntityParseError(ValueError):
    """The text cannot be parsed in the requested parse mode (Telegram answers 400)."""


@dataclass
class ParsedText:
    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


class _Builder:
    """Accumulates plain text and entities while a parser walks the source."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0  # UTF-16 length of the text so far
        self.entities: list[dict[str, Any]] = []

    def add(self, chunk: str) -> None:
        if chunk:
            self.parts.append(chunk)
            self.length += utf16_len(chunk)

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        length = self.length - start
        if length > 0:
            self.entities.append({"type": kind, "offset": start, "length": length, **extra})

    def result(self) -> ParsedText:
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return ParsedText("".join(self.parts), self.entities)


# --------------------------------------------------------------------------------------- HTML

_HTML_TAGS = {
    "a": "text_link",
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}
_ENTITY_RE = re.compile(r"&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|lt|gt|amp|quot);")
_ATTR_RE = re.compile(r"""\s*([a-zA-Z_-]+)\s*(?:=\s*("[^"]*"|'[^']*'|[^\s>"']+))?""")


def _parse_html(src: str) -> ParsedText:
    out = _Builder()
    stack: list[tuple[str, int, dict[str, str]]] = []  # (tag, start offset, attributes)
    attrs: dict[str, str]
    i = 0
    n = len(src)
    while i < n:
        ch = src[i]
        if ch == "&":
            m = _ENTITY_RE.match(src, i)
            if m:
                out.add(html.unescape(m.group(0)))
                i = m.end()
            else:  # TDLib keeps an unknown '&' literally
                out.add("&")
                i += 1
            continue
        if ch != "<":
            j = i
            while j < n and src[j] not in "<&":
                j += 1
            out.add(src[i:j])
            i = j
            continue
        begin = i
        if i + 1 < n and src[i + 1] == "/":  # end tag
            close = src.find(">", i)
            if close == -1:
                raise EntityParseError(
                    f"can't parse entities: Unclosed end tag at byte offset {_byte_offset(src, i)}"
                )
            name = src[i + 2 : close].strip().lower()
            if not stack:
                raise EntityParseError(
                    "can't parse entities: Unexpected end tag at byte offset "
                    f"{_byte_offset(src, begin)}"
                )
            tag, start, attrs = stack.pop()
            if name and name != tag:  # "</>" closes whatever is open, as in TDLib
                raise EntityParseError(
                    "can't parse entities: Unmatched end tag at byte offset "
                    f'{_byte_offset(src, begin)}, expected "</{tag}>", found "</{name}>"'
                )
            _close_html_entity(out, tag, start, attrs, stack)
            i = close + 1
            continue
        j = i + 1
        while j < n and not src[j].isspace() and src[j] != ">":
            j += 1
        if j >= n:
            raise EntityParseError(
                "can't parse entities: Unclosed start tag at byte offset "
                f"{_byte_offset(src, begin)}"
            )
        name = src[i + 1 : j].lower()
        if name not in _HTML_TAGS:
            raise EntityParseError(
                f'can\'t parse entities: Unsupported start tag "{name}" at byte offset '
                f"{_byte_offset(src, begin)}"
            )
        attrs = {}
        while True:
            while j < n and src[j].isspace():
                j += 1
            if j >= n:
                raise EntityParseError(
                    "can't parse entities: Unclosed start tag at byte offset "
                    f"{_byte_offset(src, begin)}"
                )
            if src[j] == ">":
                j += 1
                break
            m = _ATTR_RE.match(src, j)
            if not m or m.end() == j:
                raise EntityParseError(
                    "can't parse entities: Expected equal sign in declaration of an attribute of "
                    f"the tag at byte offset {_byte_offset(src, begin)}"
                )
            value = m.group(2) or ""
            if value[:1] in "\"'" and value:
                value = value[1:-1]
            attrs[m.group(1).lower()] = html.unescape(value)
            j = m.end()
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                'can\'t parse entities: Tag "span" must have class "tg-spoiler" at byte offset '
                f"{_byte_offset(src, begin)}"
            )
        stack.append((name, out.length, attrs))
        i = j
    if stack:
        raise EntityParseError(
            "can't parse entities: Can't find end tag corresponding to start tag "
            f'"{stack[-1][0]}"'
        )
    return out.result()


def _close_html_entity(
    out: _Builder,
    tag: str,
    start: int,
    attrs: dict[str, str],
    stack: list[tuple[str, int, dict[str, str]]],
) -> None:
    kind = _HTML_TAGS[tag]
    if kind == "text_link":
        href = attrs.get("href", "")
        if href:
            out.entity("text_link", start, url=href)
        return
    if kind == "custom_emoji":
        out.entity("custom_emoji", start, custom_emoji_id=attrs.get("emoji-id", ""))
        return
    if kind == "blockquote" and "expandable" in attrs:
        out.entity("expandable_blockquote", start)
        return
    if kind == "code" and stack and stack[-1][0] == "pre":
        lang = attrs.get("class", "")
        if lang.startswith("language-"):
            # <pre><code class="language-x"> becomes one pre entity with a language
            stack[-1][2]["language"] = lang[len("language-") :]
            return
    if kind == "pre" and attrs.get("language"):
        out.entity("pre", start, language=attrs["language"])
        return
    out.entity(kind, start)


# --------------------------------------------------------------------------------- MarkdownV2

_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "italic": "Italic",
    "bold": "Bold",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}
_MDV2_MARKERS = {
    "_": "italic",
    "*": "bold",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
}


def _parse_markdown_v2(src: str) -> ParsedText:
    out = _Builder()
    stack: list[tuple[str, int, int]] = []  # (kind, start offset, source index)
    i = 0
    n = len(src)
    while i < n:
        ch = src[i]
        if ch == "\\" and i + 1 < n and 0 < ord(src[i + 1]) <= 126:
            out.add(src[i + 1])
            i += 2
            continue
        if ch not in _MDV2_RESERVED:
            out.add(ch)
            i += 1
            continue
        if ch == "`":
            i = _mdv2_code(src, i, out)
            continue
        if ch == ">" and (i == 0 or src[i - 1] == "\n"):
            i += 1  # block quote marker at the start of a line
            continue
        marker = src[i : i + 2] if src[i : i + 2] in ("__", "||") else ch
        if marker in _MDV2_MARKERS:
            kind = _MDV2_MARKERS[marker]
            open_idx = next((k for k in range(len(stack) - 1, -1, -1) if stack[k][0] == kind), -1)
            if open_idx >= 0:
                kind_, start, _ = stack.pop(open_idx)
                out.entity(kind_, start)
            else:
                stack.append((kind, out.length, i))
            i += len(marker)
            continue
        if ch == "[" or (ch == "!" and src[i + 1 : i + 2] == "["):
            kind = "custom_emoji" if ch == "!" else "text_link"
            stack.append((kind, out.length, i))
            i += 2 if ch == "!" else 1
            continue
        if ch == "]" and stack and stack[-1][0] in ("text_link", "custom_emoji"):
            kind, start, _ = stack.pop()
            url = ""
            i += 1
            if i < n and src[i] == "(":
                j = i + 1
                buf: list[str] = []
                while j < n and src[j] != ")":
                    if src[j] == "\\" and j + 1 < n:
                        j += 1
                    buf.append(src[j])
                    j += 1
                if j >= n:
                    raise EntityParseError(
                        "can't parse entities: Can't find end of a URL at byte offset "
                        f"{_byte_offset(src, i)}"
                    )
                url = "".join(buf)
                i = j + 1
            if kind == "custom_emoji":
                out.entity("custom_emoji", start, custom_emoji_id=url.rpartition("id=")[2])
            elif url:
                out.entity("text_link", start, url=url)
            continue
        raise EntityParseError(
            f"can't parse entities: Character '{ch}' is reserved and must be escaped with the "
            "preceding '\\'"
        )
    if stack:
        kind, _, idx = stack[-1]
        raise EntityParseError(
            f"can't parse entities: Can't find end of {_MDV2_NAMES[kind]} entity at byte offset "
            f"{_byte_offset(src, idx)}"
        )
    return out.result()


def _mdv2_code(src: str, i: int, out: _Builder) -> int:
    """Inline ``code`` or a ```pre``` block starting at ``src[i]``; returns the next index."""
    is_pre = src.startswith("```", i)
    fence = "```" if is_pre else "`"
    j = i + len(fence)
    language = ""
    if is_pre:
        newline = src.find("\n", j)
        first_line = src[j:newline] if newline != -1 else ""
        if newline != -1 and first_line and not any(c.isspace() for c in first_line):
            language = first_line
            j = newline + 1
    start = out.length
    buf: list[str] = []
    while j < len(src):
        if src[j] == "\\" and j + 1 < len(src) and src[j + 1] in "`\\":
            buf.append(src[j + 1])
            j += 2
            continue
        if src.startswith(fence, j):
            out.add("".join(buf))
            if is_pre:
                extra = {"language": language} if language else {}
                out.entity("pre", start, **extra)
            else:
                out.entity("code", start)
            return j + len(fence)
        buf.append(src[j])
        j += 1
    name = "Pre" if is_pre else "Code"
    raise EntityParseError(
        f"can't parse entities: Can't find end of {name} entity at byte offset "
        f"{_byte_offset(src, i)}"
    )


# ---------------------------------------------------------------------------- Markdown (legacy)

_MD_MARKERS = {"*": "bold", "_": "italic"}


def _parse_markdown(src: str) -> ParsedText:
    out = _Builder()
    i = 0
    n = len(src)
    while i < n:
        ch = src[i]
        if ch == "\\" and i + 1 < n and src[i + 1] in "_*`[":
            out.add(src[i + 1])
            i += 2
            continue
        if ch not in "_*`[":
            out.add(ch)
            i += 1
            continue
        begin = i
        if ch == "[":
            close = src.find("]", i + 1)
            if close == -1:
                _md_unclosed(src, begin)
            label = src[i + 1 : close]
            start = out.length
            out.add(label)
            i = close + 1
            if src[i : i + 1] == "(":
                end = src.find(")", i)
                if end == -1:
                    _md_unclosed(src, begin)
                out.entity("text_link", start, url=src[i + 1 : end])
                i = end + 1
            continue
        fence = "```" if src.startswith("```", i) else ch
        end = src.find(fence, i + len(fence))
        if end == -1:
            _md_unclosed(src, begin)
        start = out.length
        out.add(src[i + len(fence) : end])
        kind = {"```": "pre", "`": "code"}.get(fence) or _MD_MARKERS[ch]
        out.entity(kind, start)
        i = end + len(fence)
    return out.result()


def _md_unclosed(src: str, index: int) -> None:
    raise EntityParseError(
        "can't parse entities: Can't find end of the entity starting at byte offset "
        f"{_byte_offset(src, index)}"
    )


def parse_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None = None
) -> ParsedText:
    """Plain text and entities of a message as Telegram would store it.

    Explicit ``entities`` win over ``parse_mode`` (Telegram ignores parse_mode then).
    Raises :class:`EntityParseError` for broken markup or an unknown parse mode.
    """
    if entities:
        return ParsedText(text, [dict(e) for e in entities])
    if not parse_mode:
        return ParsedText(text, [])
    mode = parse_mode.lower()
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return _parse_markdown(text)
    raise EntityParseError(f"unsupported parse_mode {parse_mode!r}")
