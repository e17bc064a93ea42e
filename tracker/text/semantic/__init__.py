"""Wiki-semantic changes of a section: templates and their parameters, references,
wikilinks, files and interwiki links; and of a page: categories, interlanguage links,
DEFAULTSORT and behaviour switches.

What a link is depends on the wiki (``[[Kategorie:X]]``, ``[[nl:Hallo]]``, a case-sensitive
``[[hallo]]``): every function takes a `tracker.text.siteinfo.SiteInfo` (None: English
Wikipedia's).

- `extract` (read.py) reads a piece of wikitext with mwparserfromhell into plain data;
- `blocks` (paragraphs.py) splits a text into paragraphs, and works out which changed and
  what a small edit does to a paragraph's extraction without reading it again;
- `semantic_changes` and `page_changes` (compare.py) compare two extractions with DeepDiff
  and say what changed, as the change records listed in tracker/text/diff.py.
"""

from tracker.text.semantic.compare import PAGE_TYPES, page_changes, semantic_changes, skipped
from tracker.text.semantic.paragraphs import blocks
from tracker.text.semantic.read import extract

__all__ = ["PAGE_TYPES", "blocks", "extract", "page_changes", "semantic_changes", "skipped"]
