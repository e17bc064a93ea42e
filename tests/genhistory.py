"""A generated article history, for tests and benchmarks: realistic shape, deterministic.

Each revision edits 1-3 paragraphs; now and then one renames or moves a section, adds or
removes a reference, or reverts the previous edit.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tracker.fetch.snapshot import write_export
from tracker.model import Revision

WORDS = (
    "alliance treaty military cooperation logistics supply route border province government "
    "minister defence security council mission operation agreement transit corridor summit "
    "partnership dialogue training exercise intelligence counterterrorism regional stability "
    "forces command headquarters envoy delegation relations strategic policy support aid "
    "the of and in to a with for on by was were is as at from that which this after during"
).split()
USERS = ["Alice", "Bob.Editor", "Carol", "Dmitri", "Esra", "203.0.113.7", "GnomeBot"]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 20))]
    words[0] = words[0].capitalize()
    if rng.random() < 0.2:
        i = rng.randrange(len(words))
        words[i] = f"[[{words[i]}]]"
    text = " ".join(words) + "."
    if rng.random() < 0.08:
        title = rng.choice(WORDS).title()
        url = f"https://example.org/{rng.randint(1, 10**6)}"
        text += f"<ref>{{{{cite web |title={title} report |url={url} }}}}</ref>"
    return text


def _paragraph(rng: random.Random, size: int) -> str:
    out = []
    while sum(len(s) for s in out) < size:
        out.append(_sentence(rng))
    return " ".join(out)


class Article:
    """Sections of paragraphs, lists and tables under an infobox; ``text()`` renders wikitext.

    Shaped like a real article: most lines are paragraphs, some are list items, infobox
    fields or table rows. Edits never break markup (a reference or link stays whole).
    """

    def __init__(self, rng: random.Random, target_size: int):
        self.rng = rng
        self.infobox = {
            f"field{i}": f"{rng.choice(WORDS)} {rng.choice(WORDS)}" for i in range(1, 16)
        }
        self.lead = [_paragraph(rng, 400)]
        self.sections: list[list] = []  # [heading, level, blocks]; a block: str or list[str]
        n = max(3, target_size // 2500)
        for i in range(n):
            level = 2 if i == 0 or rng.random() < 0.6 else 3
            self.sections.append([f"Section {i + 1} {rng.choice(WORDS)}", level, self._blocks(rng)])
        self.counter = n

    @staticmethod
    def _blocks(rng: random.Random) -> list:
        blocks: list = [_paragraph(rng, 600) for _ in range(rng.randint(2, 4))]
        if rng.random() < 0.3:
            blocks.append([_sentence(rng) for _ in range(rng.randint(3, 8))])
        if rng.random() < 0.1:
            blocks.append(
                [
                    f"| {rng.choice(WORDS)} || {rng.randint(1, 999)} || {rng.choice(WORDS)}"
                    for _ in range(rng.randint(3, 6))
                ]
            )
        return blocks

    def text(self) -> str:
        box = "".join(f"| {k} = {v}\n" for k, v in self.infobox.items())
        parts = ["{{Infobox thing\n" + box + "}}\n", "\n\n".join(self.lead) + "\n"]
        for heading, level, blocks in self.sections:
            marks = "=" * level
            parts.append(
                f"\n{marks} {heading} {marks}\n"
                + "\n\n".join(_render_block(b) for b in blocks)
                + "\n"
            )
        parts.append("\n== References ==\n{{Reflist}}\n\n[[Category:Generated]]\n")
        return "".join(parts)

    def mutate(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.04 and len(self.sections) > 3:
            i, j = rng.sample(range(len(self.sections)), 2)
            self.sections.insert(j, self.sections.pop(i))
            self.sections[0][1] = 2
            return "move a section"
        if roll < 0.08:
            section = rng.choice(self.sections)
            self.counter += 1
            section[0] = f"Section {self.counter} {rng.choice(WORDS)}"
            return "rename a section"
        if roll < 0.12:
            field = rng.choice(list(self.infobox))
            self.infobox[field] = f"{rng.choice(WORDS)} {rng.choice(WORDS)}"
            return "infobox"
        for _ in range(rng.randint(1, 3)):
            blocks = rng.choice(self.sections)[2]
            k = rng.randrange(len(blocks))
            if isinstance(blocks[k], list):
                _edit_list(rng, blocks[k])
            else:
                blocks[k] = _edit_paragraph(rng, blocks[k])
        return "copyedit"


def _render_block(block: str | list[str]) -> str:
    if isinstance(block, str):
        return block
    if block and block[0].startswith("| "):
        return '{| class="wikitable"\n' + "\n|-\n".join(block) + "\n|}"
    return "\n".join(f"* {item}" for item in block)


def _edit_list(rng: random.Random, items: list[str]) -> None:
    if items[0].startswith("| "):  # a table row changes
        i = rng.randrange(len(items))
        items[i] = f"| {rng.choice(WORDS)} || {rng.randint(1, 999)} || {rng.choice(WORDS)}"
    elif rng.random() < 0.5 or len(items) < 3:
        items.insert(rng.randrange(len(items) + 1), _sentence(rng))
    else:
        items.pop(rng.randrange(len(items)))


def _edit_paragraph(rng: random.Random, paragraph: str) -> str:
    sentences = paragraph.split(". ")
    action = rng.random()
    if action < 0.4:
        sentences.insert(rng.randrange(len(sentences) + 1), _sentence(rng).removesuffix("."))
    elif action < 0.8 and len(sentences) > 2:
        sentences.pop(rng.randrange(len(sentences)))
    else:
        i = rng.randrange(len(sentences))
        words = sentences[i].split(" ")
        plain = [j for j, w in enumerate(words) if w.isalpha()]  # never inside markup
        if plain:
            words[rng.choice(plain)] = rng.choice(WORDS)
        sentences[i] = " ".join(words)
    return ". ".join(sentences)


def generate(
    count: int, *, size: int = 60_000, seed: int = 1, first_revid: int = 1000, pageid: int = 42
) -> Iterator[Revision]:
    """``count`` revisions of one article of about ``size`` bytes, oldest first."""
    rng = random.Random(seed)
    article = Article(rng, size)
    when = datetime(2020, 1, 1, tzinfo=UTC)
    revid, parent = first_revid, 0
    texts: list[str] = []
    for n in range(count):
        if n >= 2 and rng.random() < 0.03:
            summary, text = "Reverted edits", texts[-2]  # undo the last edit
        else:
            summary = "create" if n == 0 else article.mutate()
            text = article.text()
        texts = (texts + [text])[-2:]
        user = rng.choice(USERS)
        yield Revision(
            revid=revid,
            parentid=parent,
            timestamp=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            user=user,
            userid=0,
            comment=summary,
            minor=rng.random() < 0.1,
            size=len(text.encode()),
            sha1=hashlib.sha1(text.encode()).hexdigest(),
            text=text,
        )
        parent = revid
        revid += rng.randint(1, 5)
        when += timedelta(minutes=rng.randint(1, 600))


def write_history(path: Path, title: str, count: int, **kwargs: object) -> list[Revision]:
    """Write a generated history as an XML export; return its revisions."""
    revisions = list(generate(count, **kwargs))  # type: ignore[arg-type]
    page = {"title": title, "ns": 0, "pageid": kwargs.get("pageid", 42)}
    rows = [
        (
            {
                "revid": r.revid,
                "parentid": r.parentid,
                "timestamp": r.timestamp,
                "user": r.user,
                "userid": 0,
                "comment": r.comment,
                "minor": r.minor,
                "size": r.size,
                "sha1": r.sha1,
            },
            r.text,
        )
        for r in revisions
    ]
    with path.open("w", encoding="utf-8") as out:
        write_export(out, [(page, rows)])
    return revisions


def one_revision_page(title: str, pageid: int, revid: int, text: str) -> tuple[dict, list]:
    """A page of one revision as `write_export` takes it (for importDump.php, much faster
    than edits through the API)."""
    data = text.encode()
    rev = {
        "revid": revid,
        "parentid": 0,
        "timestamp": "2024-01-01T00:00:00Z",
        "user": "Bench",
        "userid": 0,
        "comment": "create",
        "minor": False,
        "size": len(data),
        "sha1": hashlib.sha1(data).hexdigest(),
    }
    return {"title": title, "ns": 0, "pageid": pageid}, [(rev, text)]
