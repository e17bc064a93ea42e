"""MediaWiki's Parser::getSection and Parser::replaceSection, done with tracker.text.sections.split.

What ``section=N`` (edit links, ``action=edit&section=N``, the API's ``rvsection``) gets:
the section whose `number` is N with its subsections, right-trimmed as PHP's rtrim() does.
The parser tests and the real-wiki tests compare these with MediaWiki's own results.
"""

from __future__ import annotations

import re

from tracker.text.sections import Section, split

PHP_WHITESPACE = " \t\n\r\0\x0b"  # what PHP's trim() and rtrim() remove


def _section_index(section_id: str) -> tuple[int, bool]:
    """The section number in a section id ("3", "T-3", "new") and whether it is "T-"."""
    *flags, number = str(section_id).split("-")
    digits = re.match(r"\s*[+-]?\d+", number)  # PHP's (int): leading digits, else 0
    return (int(digits.group()) if digits else 0), "T" in flags


def _extent(sections: list[Section], number: int) -> tuple[int, int] | None:
    """The positions in `sections` of section `number` and past its last subsection."""
    if number == 0:
        return 0, 1
    for n, section in enumerate(sections):
        if n and section.number == number:
            end = n + 1
            while end < len(sections) and sections[end].level > section.level:
                end += 1
            return n, end
    return None


def get_section(text: str, section_id: str, tags: frozenset[str] | None = None) -> str:
    """Parser::getSection(text, section_id) with tracker.text.sections.split."""
    number, _template = _section_index(section_id)
    if text == "":
        return ""
    sections = split(text, tags=tags)
    extent = _extent(sections, number)
    if extent is None:
        return ""
    return "".join(s.text for s in sections[extent[0] : extent[1]]).rstrip(PHP_WHITESPACE)


def replace_section(
    text: str, section_id: str, new: str, tags: frozenset[str] | None = None
) -> str:
    """Parser::replaceSection(text, section_id, new) with tracker.text.sections.split."""
    number, _template = _section_index(section_id)
    if text == "":
        return new if number == 0 else text
    sections = split(text, tags=tags)
    extent = _extent(sections, number)
    if extent is None:
        return text
    before = "".join(s.text for s in sections[: extent[0]])
    after = "".join(s.text for s in sections[extent[1] :])
    middle = new + "\n\n" if new else ""
    return (before + middle + after).rstrip(PHP_WHITESPACE)
