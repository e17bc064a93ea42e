"""A reader of MediaWiki's parser test files (tests/parser/*.txt), in Python.

It follows MediaWiki 1.39's own reader: the grammar of Parsoid's
``src/ParserTests/Grammar.pegphp`` and the choices of ``TestFileReader.php`` and
``Test.php`` (vendored in MediaWiki's source as wikimedia/parsoid). A file is items
between lines that start with ``!!``: ``!! test`` ... ``!! end`` with named sections
(``!! wikitext``, ``!! html/php``, ``!! options``, ...), ``!! article`` ...
``!! endarticle``, hooks, comments (``#``) and blank lines. A section's text is its
lines joined with "\\n" (no newline at the end).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Test.php: the first of these sections present is the test's wikitext / legacy-parser HTML.
WIKITEXT_KEYS = ("wikitext", "input")
LEGACY_HTML_KEYS = ("html/php", "html/*", "html", "result", "html/php+tidy", "html/*+tidy",
                    "html+tidy")  # fmt: skip

_DIRECTIVE = re.compile(r"!![ \t]*(\S*)")


@dataclass
class ParserTest:
    """One ``!! test`` item."""

    name: str
    file: str
    line: int  # where its "!! test" line is, 1-based
    sections: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def wikitext(self) -> str | None:
        return next((self.sections[k] for k in WIKITEXT_KEYS if k in self.sections), None)

    @property
    def legacy_html(self) -> str | None:
        """The expected output of MediaWiki's own (legacy, not Parsoid) parser."""
        return next((self.sections[k] for k in LEGACY_HTML_KEYS if k in self.sections), None)


@dataclass
class ParserTestFile:
    path: Path
    options: dict[str, Any]
    tests: list[ParserTest]
    articles: dict[str, str]  # title -> text


def read(path: Path) -> ParserTestFile:
    """Read one parser test file."""
    text = path.read_text("utf-8")
    if not text.endswith("\n"):
        text += "\n"  # as Grammar::load: every line ends with one
    lines = text.split("\n")[:-1]
    tests: list[ParserTest] = []
    articles: dict[str, str] = {}
    file_options: dict[str, Any] = {}
    n = 0

    def block(start: int) -> tuple[str, int]:
        """The lines from `start` up to the next "!!" line, joined; and where that is."""
        end = start
        while end < len(lines) and not lines[end].startswith("!!"):
            end += 1
        return "\n".join(lines[start:end]), end

    def directive(k: int) -> str:
        m = _DIRECTIVE.match(lines[k]) if k < len(lines) else None
        return m.group(1).lower() if m else ""

    while n < len(lines):
        line = lines[n]
        if not line.startswith("!!"):
            n += 1  # comments, blank lines (and stray text, which MediaWiki warns about)
            continue
        word = directive(n)
        if word == "version":
            file_options["version"] = line.split()[-1]
            n += 1
        elif word == "options":  # the file's options, before any test
            body, n = block(n + 1)
            file_options.update(parse_options(body))
            n += 1  # "!! end"
        elif word == "article":
            title, n = block(n + 1)
            assert directive(n) == "text", f"{path}:{n + 1}: !! text expected"
            body, n = block(n + 1)
            articles[title.strip()] = body
            n += 1  # "!! endarticle" or "!! end"
        elif word in ("hooks", "hooks:", "functionhooks", "functionhooks:"):
            _body, n = block(n + 1)
            n += 1
        elif word == "test":
            start = n + 1
            name, n = block(n + 1)
            test = ParserTest(name.strip(), path.name, start)
            while directive(n) != "end":
                if n >= len(lines):
                    raise ValueError(f"{path}:{start}: test without !! end")
                key = directive(n)
                body, after = block(n + 1)
                if key == "options":
                    test.options = parse_options(body)
                elif key == "config":
                    test.config = _parse_config(body)
                else:
                    test.sections[key] = body  # as the grammar: a repeated section wins
                n = after
            tests.append(test)
            n += 1
        else:
            n += 1
    return ParserTestFile(path, file_options, tests, articles)


# Grammar.pegphp's option values: [[link target]], "quoted" (JSON), plain, or {json}.
_OPTION_NAME = re.compile(r"[^ \t\n=!]+")
_VALUE = re.compile(
    r"""\[\[(?P<link>[^\]\n]*)\]\]"""
    r"""|(?P<quoted>"(?:[^\\"\n]|\\[^\n])*")"""
    r"""|(?P<plain>[^ \t\n"'\[\]=,!{]+)"""
)
_SPACE = re.compile(r"[ \t]*")


def parse_options(body: str) -> dict[str, Any]:
    """An ``!! options`` section: name -> value ("" for a bare name; a list for a,b,c)."""
    options: dict[str, Any] = {}
    i, n = 0, len(body)
    while True:
        while i < n and body[i] in " \t\n":
            i += 1
        if i >= n:
            return options
        m = _OPTION_NAME.match(body, i)
        if m is None:
            raise ValueError(f"bad option at {body[i : i + 20]!r}")
        name = m.group().lower()
        i = _SPACE.match(body, m.end()).end()
        value: Any = ""
        if body.startswith("=", i):
            values = []
            while True:
                i = _SPACE.match(body, i + 1).end()
                item, i = _option_value(body, i)
                values.append(item)
                j = _SPACE.match(body, i).end()
                if not body.startswith(",", j):
                    break
                i = j
            value = values[0] if len(values) == 1 else values
        options[name] = value


def _option_value(body: str, i: int) -> tuple[Any, int]:
    if body.startswith("{", i):
        end = _json_end(body, i)
        return json.loads(body[i:end]), end
    m = _VALUE.match(body, i)
    if m is None:
        raise ValueError(f"bad option value at {body[i : i + 20]!r}")
    if m.group("link") is not None:
        return m.group("link"), m.end()
    if m.group("quoted") is not None:
        return json.loads(m.group("quoted")), m.end()
    return m.group("plain"), m.end()


def _json_end(body: str, i: int) -> int:
    """Where the {...} JSON value starting at i ends (braces counted outside strings)."""
    depth, quoted, k = 0, False, i
    while k < len(body):
        c = body[k]
        if quoted:
            if c == "\\":
                k += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if not depth:
                return k + 1
        k += 1
    raise ValueError("unterminated JSON option value")


def _parse_config(body: str) -> dict[str, Any]:
    """An ``!! config`` section: one ``name=JSON value`` a line."""
    config: dict[str, Any] = {}
    for line in body.split("\n"):
        if not line.strip():
            continue
        name, _, value = line.partition("=")
        try:
            config[name.strip()] = json.loads(value.strip())
        except json.JSONDecodeError:
            config[name.strip()] = value.strip()
    return config
