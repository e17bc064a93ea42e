"""Bounds on what an XML export can make its reader hold.

mwxml parses with ElementTree over expat, which holds each element's character data whole
until the element ends: a <text> of 2 GB is 2 GB of bytes, then more as a str. The guard
sits between the file and the parser and watches the bytes go by, holding one block:

- A <text> element's content is counted as the UTF-8 bytes it stands for (``&lt;`` counts
  as the one character it is). Past ``max_text`` the rest is skipped, never passed to the
  parser, and a marker ends what was passed: ``cut_size(text)`` tells such a text and the
  size of the whole. At most ``max_text`` bytes and one block of a text are ever held.
- Anything else the parser would hold whole is refused past 1 MiB, cleanly (WikiError): a
  run of character data outside <text> (a title, a summary: MediaWiki's own limits are a
  few hundred bytes) or one piece of markup (a tag, a comment). A DOCTYPE is refused:
  MediaWiki never writes one, and it is where entities that expand without bound live.

With ``skip_texts`` every <text> element comes out empty, its content skipped unread (at
the speed of a byte search): a pass that needs only the pages and their revisions' ids and
times (`SnapshotSource.pages`) costs a fraction of a full one.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Generator, Iterator
from typing import Protocol

from tracker.config import format_size
from tracker.errors import WikiError

BLOCK = 256 * 1024  # bytes read from the file at a time
LIMIT = 1024 * 1024  # bytes of markup, or of character data outside <text>

_TEXT_START = re.compile(rb"<text[\s/>]")
_NAME = re.compile(rb"</?([A-Za-z_][\w.:-]*)")
_TAG_STOP = re.compile(rb"[\"'>]")
_CHARREF = re.compile(rb"&#(x[0-9A-Fa-f]+|[0-9]+);")

# The marker ending a cut text. The per-process nonce keeps a text from faking one.
_NONCE = secrets.token_hex(8)
_MARK = re.compile(rf"\n\[{_NONCE} cut: (\d+) bytes\]\Z")


def cut_size(text: str | None) -> int | None:
    """The size in bytes of a text the guard cut for being over its limit, else None."""
    if not text or not text.endswith("]"):
        return None
    match = _MARK.search(text[-64:])
    return int(match.group(1)) if match else None


def utf8_size(piece: bytes) -> int:
    """How many UTF-8 bytes a piece of XML character data (whole entities) stands for."""
    size = len(piece)
    if b"&" in piece:
        size -= (
            3 * (piece.count(b"&lt;") + piece.count(b"&gt;"))
            + 4 * piece.count(b"&amp;")
            + 5 * (piece.count(b"&quot;") + piece.count(b"&apos;"))
        )
        if b"&#" in piece:
            for match in _CHARREF.finditer(piece):
                digits = match.group(1)
                code = int(digits[1:], 16) if digits[:1] == b"x" else int(digits)
                width = 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
                size -= len(match.group()) - width
    if b"\r" in piece:
        size -= piece.count(b"\r\n")  # a parser reads CR LF as LF
    return size


def _plain_tags(buf: bytearray) -> int:
    """How much of the buffer (which starts with "<") is tags and short runs of character
    data that need no look one by one: up to the next <text> start tag, or up to its last
    "<" (a tag maybe not whole yet); 0 if that stretch has a comment, CDATA, declaration
    or processing instruction ("<!", "<?") or is longer than the markup limit."""
    if _TEXT_START.match(buf):
        return 0  # a <text> start tag: its content is the guard's business
    found = _TEXT_START.search(buf, 1, LIMIT)
    stop = found.start() if found is not None else buf.rfind(b"<", 0, LIMIT)
    if stop <= 0 or stop > LIMIT or buf.find(b"<!", 0, stop) >= 0 or buf.find(b"<?", 0, stop) >= 0:
        return 0
    if buf.rfind(b">", 0, stop) < buf.rfind(b"<", 0, stop):
        return 0  # (its last tag does not end before the stop: malformed, the slow way)
    return stop


def _whole_characters(data: bytearray, end: int) -> int:
    """``end``, or the start of a UTF-8 character that ``data[:end]`` has only part of."""
    start = end - 1
    while start >= max(0, end - 3) and data[start] & 0xC0 == 0x80:
        start -= 1  # continuation bytes: back to the character's first byte
    if start < 0:
        return end
    lead = data[start]
    length = 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    return end if end - start >= length else start


class Readable(Protocol):
    """What the guard reads from: a file opened in binary mode, or a stream like one."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class ExportGuard:
    """A binary file-like object: the export's bytes, with over-large texts cut."""

    def __init__(self, raw: Readable, max_text: int, name: str, *, skip_texts: bool = False):
        self.raw = raw
        self.max_text = max_text
        self.skip_texts = skip_texts
        self.name = name
        self.buf = bytearray()
        self.eof = False
        self.cut = 0  # texts cut so far
        self._out = self._scan()
        self._chunk = b""
        self._pos = 0

    # -- the file interface the parser uses ----------------------------------------------------

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(BLOCK), b""))
        parts: list[bytes] = []
        while size > 0:
            # Pieces put together up to `size`: a parser fed the tags of a revision's
            # metadata one by one spends its time on the calls.
            if self._pos >= len(self._chunk):
                try:
                    self._chunk, self._pos = next(self._out), 0
                except StopIteration:
                    break
                continue
            data = self._chunk[self._pos : self._pos + size]
            self._pos += len(data)
            size -= len(data)
            parts.append(data)
        return b"".join(parts)

    def close(self) -> None:
        self._out.close()
        self.raw.close()

    def __enter__(self) -> ExportGuard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- scanning ------------------------------------------------------------------------------

    def _fill(self) -> bool:
        if self.eof:
            return False
        data = self.raw.read(BLOCK)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _refuse(self, what: str) -> WikiError:
        return WikiError(f"{self.name}: {what}: not an export MediaWiki writes; refused")

    def _scan(self) -> Generator[bytes, None, None]:
        buf = self.buf
        self._fill()
        if buf[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise self._refuse("UTF-16 (MediaWiki exports are UTF-8)")
        run = 0  # character data since the last markup
        element = "mediawiki"
        while True:
            at = buf.find(b"<")
            if at < 0:
                if buf:
                    run += len(buf)
                    if run > LIMIT:
                        raise self._refuse(f"more than {format_size(LIMIT)} of text in <{element}>")
                    yield bytes(buf)
                    del buf[:]
                if not self._fill():
                    return
                continue
            if at:
                run += at
                if run > LIMIT:
                    raise self._refuse(f"more than {format_size(LIMIT)} of text in <{element}>")
                yield bytes(buf[:at])
                del buf[:at]
            stop = _plain_tags(buf)
            if stop:
                # Plain tags up to the next <text> (a revision's metadata): passed on at
                # once, each whole (none holds a "<"); the run after the last one goes on.
                last = buf.rfind(b"<", 0, stop)
                if (name := _NAME.match(buf, last)) is not None:
                    element = name.group(1).decode("ascii", "replace")
                run = stop - buf.rfind(b">", 0, stop) - 1
                yield bytes(buf[:stop])
                del buf[:stop]
                continue
            end = self._markup_end()
            token = bytes(buf[:end])
            del buf[:end]
            yield token
            run = 0
            if (name := _NAME.match(token)) is not None:
                element = name.group(1).decode("ascii", "replace")
            if _TEXT_START.match(token) and not token.endswith(b"/>"):
                if self.skip_texts:
                    self._skip_text()
                else:
                    yield from self._text()

    def _markup_end(self) -> int:
        """The end of the markup the buffer starts with (read in as far as needed)."""
        buf = self.buf
        while len(buf) < 9 and self._fill():
            pass
        for opening, closing in ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>"), (b"<?", b"?>")):
            if buf.startswith(opening):
                return self._find(closing, len(opening)) + len(closing)
        if buf.startswith(b"<!"):
            raise self._refuse("a <!DOCTYPE> or other declaration (MediaWiki writes none)")
        pos, quote = 1, b""
        while True:  # a tag: its end is the first ">" outside quoted attribute values
            if quote:
                close = buf.find(quote, pos)
                if close >= 0:
                    pos, quote = close + 1, b""
                    continue
            else:
                stop = _TAG_STOP.search(buf, pos)
                if stop is not None:
                    if buf[stop.start()] == ord(">"):
                        return stop.start() + 1
                    pos, quote = stop.start() + 1, bytes(buf[stop.start() : stop.start() + 1])
                    continue
            pos = len(buf)
            if not self._more():
                return len(buf)  # cut short: the parser tells what is wrong

    def _find(self, pattern: bytes, start: int) -> int:
        pos = start
        while (found := self.buf.find(pattern, pos)) < 0:
            pos = max(start, len(self.buf) - len(pattern) + 1)
            if not self._more():
                return len(self.buf) - len(pattern)  # cut short: the parser tells
        return found

    def _more(self) -> bool:
        """Read on inside one piece of markup, which the parser would hold whole."""
        if len(self.buf) > LIMIT:
            raise self._refuse(f"a piece of markup longer than {format_size(LIMIT)}")
        return self._fill()

    def _skip_text(self) -> None:
        """Pass over a <text> element's content, to its end tag."""
        buf = self.buf
        while (at := buf.find(b"<")) < 0:
            del buf[:]
            if not self._fill():
                return  # the file ends inside the text: the parser tells
        del buf[:at]
        self._text_end()

    def _text_end(self) -> None:
        buf = self.buf
        while len(buf) < 6 and self._fill():
            pass
        if buf and not buf.startswith(b"</text"):
            raise self._refuse("markup inside a <text> element (MediaWiki escapes it)")

    def _text(self) -> Iterator[bytes]:
        """A <text> element's content, passed on up to ``max_text`` bytes; past that, the
        rest is counted and skipped, and the marker takes its place."""
        buf = self.buf
        size = 0
        cut = False
        while True:
            at = buf.find(b"<")
            end = at if at >= 0 else len(buf)
            if at < 0 and not self.eof:
                # An entity or a character split by the block's end goes with the next
                # block: what is passed on always ends between two characters.
                amp = buf.rfind(b"&", max(0, end - 16), end)
                if amp >= 0 and b";" not in buf[amp:end]:
                    end = amp
                end = _whole_characters(buf, end)
            piece = bytes(buf[:end])
            del buf[:end]
            size += utf8_size(piece)
            if not cut and size > self.max_text:
                cut = True
                self.cut += 1
            if not cut and piece:
                yield piece
            if at >= 0:
                break
            if not self._fill() and not buf:
                break  # the file ends inside the text: the parser tells
        if cut:
            yield f"\n[{_NONCE} cut: {size} bytes]".encode("ascii")
        self._text_end()
