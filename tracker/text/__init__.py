"""Pure wikitext -> sections -> diff, no I/O.

headings (where MediaWiki sees a heading), headline (what it shows), sections (a text in
sections, and the edits between two), lineage (which section became which), worddiff (word
operations), semantic/ (templates, references, links, page facts), diff (the section-level
diff of two texts), reverts (MediaWiki's revert rules), siteinfo and languages (what a wiki
is: namespaces, case, interwiki), wikiparse (mwparserfromhell within bounds), display (how a
change is told to a reader, once for every output).
"""
