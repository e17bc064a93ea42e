#!/usr/bin/env python3
"""Build the bundled offline history of the seed article.

Writes ``snapshots/pakistan-nato-relations.xml``: a MediaWiki XML export
(Special:Export, schema 0.11) of "Pakistan–NATO relations" with its whole
history, as EverybodyWiki (MediaWiki 1.39) would write it.

The wikitext is a hand reconstruction of the article from the reader's text of
the seed (``seed/pakistan-nato-relations.txt``: rendered text, not wikitext). The
history is made up, but every edit is one a real wiki sees, and each one
exercises one thing the tracker must get right (see ``tests/data/seed_history.yaml`` for the expected
section-level changes of each edit).

The output is deterministic: run it twice and the bytes are the same.

    python scripts/build_seed_snapshot.py            # (re)write the snapshot
    python scripts/build_seed_snapshot.py --check    # exit 1 if it is out of date
"""

# Wikitext paragraphs are single long lines, as editors write them.
# ruff: noqa: E501
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from tracker.model import hex_to_base36, sha1_hex

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "snapshots" / "pakistan-nato-relations.xml"

TITLE = "Pakistan–NATO relations"  # en dash, U+2013
PAGE_ID = 764512

SITEINFO = {
    "sitename": "EverybodyWiki Bios & Wiki",
    "dbname": "everybodywiki_en",
    "base": "https://en.everybodywiki.com/Main_Page",
    "generator": "MediaWiki 1.39.3",
    "case": "first-letter",
}

# Namespaces as MediaWiki 1.39 lists them for an English wiki, with the
# project namespace named after the site and Scribunto's Module namespace.
NAMESPACES = [
    (-2, "Media"),
    (-1, "Special"),
    (0, ""),
    (1, "Talk"),
    (2, "User"),
    (3, "User talk"),
    (4, "EverybodyWiki"),
    (5, "EverybodyWiki talk"),
    (6, "File"),
    (7, "File talk"),
    (8, "MediaWiki"),
    (9, "MediaWiki talk"),
    (10, "Template"),
    (11, "Template talk"),
    (12, "Help"),
    (13, "Help talk"),
    (14, "Category"),
    (15, "Category talk"),
    (828, "Module"),
    (829, "Module talk"),
]

# --------------------------------------------------------------------------
# The wikitext, piece by piece.  Section bodies are constants so that a moved
# or renamed section carries exactly the same body from one revision to the next.
# --------------------------------------------------------------------------

TOP = """\
{{Short description|Bilateral relations between Pakistan and the North Atlantic Treaty Organization}}
{{Use dmy dates|date=January 2023}}"""


def infobox(envoytitle1: str) -> str:
    return f"""\
{{{{Infobox bilateral relations|Pakistan–NATO|Pakistan|NATO
<!-- Both parties: party1 is the country, party2 the alliance; see the template's documentation -->
| map             = <!-- no locator map for an alliance; see talk page -->
| map_size        =
| mapcaption      =
| filetype        =
| flag1           = Flag of Pakistan.svg
| flag2           = Flag of NATO.svg
| mission1        = [[Embassy of Pakistan, Brussels]]
| mission2        =
| missionname1    =
| missionname2    =
| envoytitle1     = {envoytitle1}
| envoy1          = ''vacant''
| envoytitle2     = [[Secretary General of NATO|Secretary General]]
| envoy2          = [[Jens Stoltenberg]]
| envoytitle3     =
| envoy3          =
| envoytitle4     =
| envoy4          =
| footnotes       =
}}}}"""


IMAGES = """\
[[File:Defense.gov News Photo 100122-D-7203C-004.jpg|thumb|right|upright=1.1|alt=Two men in suits shake hands in front of the flags of Pakistan and the United States|[[United States Secretary of Defense|US Secretary of Defense]] [[Robert Gates]] shakes hands with [[Prime Minister of Pakistan|Prime Minister]] [[Yusuf Raza Gilani]].]]
[[File:NATO supply routes through Pakistan.png|thumb|right|upright=1.1|alt=Map of Pakistan showing the roads from the port of Karachi to the Afghan border crossings at Torkham and Chaman|NATO supply routes through Pakistan.]]
[[File:Kayani and McChrystal at the tripartite conference in Kabul.jpg|thumb|right|upright=1.1|alt=Officers in uniform walk along a corridor towards a conference room|[[Chief of Army Staff (Pakistan)|Chief of Army Staff]] [[Ashfaq Pervez Kayani]] and Commander of NATO [[International Security Assistance Force]] (Afghanistan) [[Stanley A. McChrystal]] lead participants towards a tripartite military conference in [[Kabul]].]]"""


REF_NATO = (
    '<ref name="nato">{{cite web |url=https://www.nato.int/cps/en/natolive/topics_50071.htm '
    "|title=NATO's relations with Pakistan |work=NATO Topics |access-date=15 July 2013 "
    "|url-status=live}}</ref>"
)
REF_NATO_AGAIN = '<ref name="nato" />'

REFS_MNNA = (
    "<ref>{{cite web |url=https://www.dawn.com/news/391155/us-to-designate-pakistan-non-nato-ally-powell "
    "|title=US to designate Pakistan non-NATO ally: Powell |access-date=15 July 2013}}</ref>"
    "<ref>{{cite news |last=Rohde |first=David |date=March 19, 2004 "
    "|title=U.S. Will Celebrate Pakistan as a 'Major Non-NATO Ally' "
    "|url=https://www.nytimes.com/2004/03/19/world/us-will-celebrate-pakistan-as-a-major-non-nato-ally.html "
    "|work=New York Times, Pakistan |access-date=15 July 2013}}</ref>"
    "<ref>{{cite web |author=Karen Yourish Roston and Delano D'Souza |date=April 2004 "
    "|title=Despite Khan, Military Ties With Pakistan to Grow "
    "|url=https://www.armscontrol.org/act/2004-04/despite-khan-military-ties-pakistan-grow "
    "|publisher=arms control |access-date=15 July 2013}}</ref>"
    "<ref>{{cite news |title=US boosts Pakistan military ties "
    "|url=http://news.bbc.co.uk/2/hi/south_asia/3522872.stm |work=BBC Pakistan "
    "|date=18 March 2004 |access-date=15 July 2013}}</ref>"
)

REF_RUBIN = (
    "<ref>{{Cite web |last=Rubin |first=Michael |date=2022-12-02 "
    "|title=Why Pakistan Can't Be Pulled Away From China "
    "|url=https://nationalinterest.org/feature/why-pakistan-can%E2%80%99t-be-pulled-away-china-206134 "
    "|access-date=2023-05-25 |website=The National Interest |language=en}}</ref>"
)
CITATION_NEEDED_LEAD = "{{Citation needed|date=January 2023}}"

REF_ISAF_DEAD = (
    "<ref>{{cite news |title=Joint Intelligence Operations Centre opens in Kabul "
    "|url=http://www.isaf.nato.int/article/news/joint-intelligence-operations-centre-opens-in-kabul.html "
    "|publisher=[[International Security Assistance Force|ISAF]] |date=January 2007 "
    "|access-date=15 July 2013}}{{dead link|date=January 2023}}</ref>"
)


def lead_text(lead_ref: str) -> str:
    return f"""\
'''North Atlantic Treaty Organization—Pakistan relations''' are the [[Military|military]]–to–military relations between [[Pakistan]] and the comprised 31-states [[military alliance]], called [[NATO]].{REF_NATO}

NATO has developed relations with a range of countries beyond the [[Euro-Atlantic Partnership Council|Euro-Atlantic]] area, considering Pakistan as "partners across the globe."{REF_NATO_AGAIN} Lobbied and with a support provided by [[United States Secretary of State]], [[General (United States)|General]] (retired) [[Colin Powell]], Pakistan is designated as a "[[Major non-NATO ally]]" as of 2004.{REFS_MNNA}

<!-- The "main sectors" below follow the NATO source; please do not add unsourced ones. -->
Cooperation between Pakistan and NATO has occurred in several main sectors: fighting [[insurgency]] and [[terrorism]] in [[Bosnia and Herzegovina|Bosnia]] and [[War in Afghanistan (2001–2021)|Afghanistan]], military cooperation, transportation and [[Military logistics|logistics]] operations support to Afghanistan, [[Nuclear proliferation|non-proliferation]], and others.{REF_NATO_AGAIN} With the end of the war and [[China–Pakistan relations|China's strong influence in Pakistan]], bilateral relations weakened.{lead_ref}"""


def lead(envoytitle1: str, lead_ref: str) -> str:
    return "\n".join([TOP, infobox(envoytitle1), IMAGES, lead_text(lead_ref)])


BOSNIA_SHORT = """\
In 1994, the [[Pakistan Armed Forces]] contingent joined the [[United Nations Protection Force]]s in Bosnia ([[UNPROFOR]]) to support the NATO's operations during the [[Bosnian War|Bosnian war]]. In close coordination with [[Central Intelligence Agency|CIA]] and the [[Inter-Services Intelligence|ISI]] headed the intelligence operations to curbed down the insurgency in the Bosnia."""

BOSNIA_FULL = """\
In 1994, the [[Pakistan Armed Forces]] contingent joined the [[United Nations Protection Force]]s in Bosnia ([[UNPROFOR]]) to support the NATO's operations during the [[Bosnian War|Bosnian war]]. Reviewing and recognizing the commendable performance of the Pakistan Armed Forces Contingents as [[United Nations peacekeeping|United Nations peacekeepers]] in [[Unified Task Force|Somalia]] and [[United Nations Transitional Authority in Cambodia|Cambodia]], the United Nations requested the [[Government of Pakistan]] to contribute troops to the United Nations Protection Force in [[Bosnia and Herzegovina|Bosnia-Herzegovina]]. A 3000 strong contingent consisting of two [[Battalion]] Groups and a National Support (NS) Headquarters left for Bosnia and [[Croatia]] in May 1994. In close coordination with [[Central Intelligence Agency|CIA]] and the [[Inter-Services Intelligence|ISI]] headed the intelligence operations to curbed down the insurgency in the Bosnia."""

QUOTE = (
    '<blockquote>"Pakistan is committed to a strong, stable Afghanistan. The one country that '
    'will benefit the most, after Afghanistan itself, will be Pakistan."'
    f"{REF_NATO_AGAIN}</blockquote>"
)
VANDAL_JUNK = "ali was here lol!!!! this page is sooooo boring hahaha NATO = NO ATTENTION TO ORDERS"


def afghanistan(
    brussels: str = "Brussles", jioc_ref: str = REF_ISAF_DEAD, quote: str = QUOTE
) -> str:
    return f"""\
In 2007, the Pakistan military and NATO established the Joint Intelligence Operations Centre (JIOC), a joint initiative designed to improve intelligence coordination between NATO, [[International Security Assistance Force|ISAF]] and Pakistan, which was opened in [[Kabul]].{jioc_ref} According to the NATO sources, Pakistan's continuous support for the efforts of NATO and ISAF in Afghanistan remains crucial to the success of the NATO's mission. In 2007 [[state visit]] to [[NATO headquarters]] in [[{brussels}]], [[Belgium]], [[Prime Minister of Pakistan|Prime Minister]] [[Shaukat Aziz]] put it:

{quote}

Although Pakistan has expressed reservations with some operational issues, dialogue on Afghanistan once occupied important role with the Alliance.{REF_NATO_AGAIN}"""


SUPPLY_ROUTES = """\
Since 2001 the bulk of the non-lethal supplies for NATO and [[International Security Assistance Force|ISAF]] troops in Afghanistan has been shipped to the [[Port of Karachi]] and trucked through Pakistan along two ground lines of communication: through the [[Khyber Pass]] to the [[Torkham]] border crossing, and through [[Balochistan, Pakistan|Balochistan]] to [[Chaman]].{{Citation needed|date=January 2023}} Convoys on both routes were repeatedly attacked by militants, and hundreds of fuel tankers were destroyed between 2008 and 2011.{{Citation needed|date=January 2023}}

After the [[2011 NATO attack in Pakistan|Salala incident]] of 26 November 2011, in which NATO helicopters killed 24 Pakistani soldiers at two border posts, Pakistan closed both routes to NATO traffic. They were reopened in July 2012, after the United States apologised for the loss of life, and a memorandum of understanding on the ground lines of communication was signed by Pakistan and the United States at the end of that month.{{Citation needed|date=January 2023}}

The same routes carried part of the equipment that NATO withdrew from Afghanistan in 2013 and 2014, alongside the [[Northern Distribution Network]] through Central Asia, which the Alliance had developed from 2009 to depend less on Pakistan.{{Citation needed|date=January 2023}}"""

SEE_ALSO = (
    "<!-- Please keep entries in alphabetical order & add a short description [[WP:SEEALSO]] -->"
)

CATEGORIES_BASE = ["Bilateral relations of Pakistan", "Foreign relations of NATO"]
CATEGORY_ADDED = "Military history of Pakistan"


def references(categories: list[str]) -> str:
    cats = "\n".join(f"[[Category:{c}]]" for c in categories)
    return f"""\
<!-- Inline citations added to your article will automatically display here. See en.wikipedia.org/wiki/WP:REFB for instructions on how to add citations. -->
{{{{Reflist}}}}

{{{{Foreign relations of Pakistan}}}}

{{{{DEFAULTSORT:Pakistan-NATO relations}}}}
{cats}"""


# --------------------------------------------------------------------------
# Article state and rendering
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    level: int
    title: str
    body: str


@dataclass(frozen=True)
class Article:
    lead: str
    sections: tuple[Section, ...]

    def render(self) -> str:
        parts = [self.lead]
        for s in self.sections:
            marks = "=" * s.level
            heading = f"{marks} {s.title} {marks}"
            parts.append(f"{heading}\n{s.body}" if s.body else heading)
        return "\n\n".join(parts)

    def index(self, title: str) -> int:
        for i, s in enumerate(self.sections):
            if s.title == title:
                return i
        raise KeyError(title)

    def change(self, which: str, /, **fields) -> Article:
        i = self.index(which)
        secs = list(self.sections)
        secs[i] = replace(secs[i], **fields)
        return replace(self, sections=tuple(secs))

    def remove(self, title: str) -> Article:
        i = self.index(title)
        return replace(self, sections=self.sections[:i] + self.sections[i + 1 :])

    def insert_before(self, before: str, section: Section) -> Article:
        i = self.index(before)
        return replace(self, sections=self.sections[:i] + (section,) + self.sections[i:])

    def move_before(self, title: str, before: str, level: int | None = None) -> Article:
        sec = self.sections[self.index(title)]
        if level is not None:
            sec = replace(sec, level=level)
        return self.remove(title).insert_before(before, sec)


@dataclass(frozen=True)
class User:
    name: str
    uid: int | None = None  # None: an anonymous (IP) editor


@dataclass(frozen=True)
class Revision:
    revid: int
    parentid: int | None
    timestamp: str
    user: User
    comment: str
    minor: bool
    text: str

    @property
    def sha1(self) -> str:
        return sha1_base36(self.text)

    @property
    def size(self) -> int:
        return len(self.text.encode("utf-8"))


SHAHID = User("Shahid.Karachi", 48213)
IRFAN = User("Irfan.Sheikh", 51877)
NORDLYS = User("Nordlys77", 39054)
ZAINAB = User("Zainab.Qureshi", 60421)
KASHIF = User("Kashif.Baloch", 63390)
VANDAL = User("203.0.113.9")
REVERTBOT = User("RevertBot", 1207)

M = "Military relations and understanding"


def sha1_base36(text: str) -> str:
    """The sha1 MediaWiki stores and exports: SHA-1 of the UTF-8 text in base 36, 31 digits."""
    return hex_to_base36(sha1_hex(text))


def autosummary_new(text: str) -> str:
    """MediaWiki's summary for a page created without one ('autosumm-new')."""
    flat = text.replace("\n", " ")
    room = 200 - len('Created page with ""')
    return f'Created page with "{flat[: room - 3]}..."'


def build_history() -> list[Revision]:
    revs: list[Revision] = []

    def save(
        revid: int, ts: str, user: User, comment: str, art: Article, minor: bool = False
    ) -> None:
        parent = revs[-1].revid if revs else None
        revs.append(Revision(revid, parent, ts, user, comment, minor, art.render()))

    # 1. Creation. Afghanistan comes first and the Bosnia subsection skips a level.
    a = Article(
        lead=lead("Ambassador", CITATION_NEEDED_LEAD),
        sections=(
            Section(2, "Afghanistan", afghanistan()),
            Section(2, M, ""),
            Section(4, "Cooperation in Bosnia", BOSNIA_SHORT),
            Section(2, "See also", SEE_ALSO),
            Section(2, "References", references(CATEGORIES_BASE)),
        ),
    )
    save(1843012, "2023-01-14T09:21:37Z", SHAHID, autosummary_new(a.render()), a)

    # 2. A section added (at the top, where it does not belong).
    a = a.insert_before("Afghanistan", Section(2, "NATO supply routes", SUPPLY_ROUTES))
    save(
        1843127,
        "2023-01-29T17:05:12Z",
        IRFAN,
        "Add section on NATO supply routes through Pakistan (GLOCs, Salala closure)",
        a,
    )

    # 3. A plain edit to one section's body: the paragraph is expanded.
    a = a.change("Cooperation in Bosnia", body=BOSNIA_FULL)
    save(
        1843391,
        "2023-02-11T11:48:50Z",
        NORDLYS,
        "/* Cooperation in Bosnia */ expand: why the UN asked Pakistan, size of the contingent, "
        "deployment in May 1994",
        a,
    )

    # 4. Heading level change only (==== -> ===): same parent, same place, same text.
    a = a.change("Cooperation in Bosnia", level=3)
    save(
        1843540,
        "2023-02-18T08:12:03Z",
        SHAHID,
        "Fix heading level (MOS:HEADINGS: no skipped levels)",
        a,
        minor=True,
    )

    # 5. A section renamed, body untouched.
    a = a.change("Cooperation in Bosnia", title="Cooperation on Bosnian War")
    save(
        1843702,
        "2023-03-04T14:33:27Z",
        ZAINAB,
        "/* Cooperation on Bosnian War */ more precise heading",
        a,
    )

    # 6. A section moved among its siblings (jumps over two of them).
    a = a.move_before("NATO supply routes", "See also")
    save(
        1843866,
        "2023-03-19T20:17:45Z",
        IRFAN,
        "Move the supply routes section below the military sections, it should not open "
        "the article",
        a,
    )

    # 7. A section renamed (it is moved in the next revision).
    a = a.change("Afghanistan", title="Stability in Afghanistan and Central Asia")
    save(
        1844015,
        "2023-04-02T10:02:19Z",
        ZAINAB,
        "/* Stability in Afghanistan and Central Asia */ retitle: the section is about the JIOC "
        "and regional stability, not about Afghanistan in general",
        a,
    )

    # 8. The renamed section moved under another parent (cut, pasted, demoted to ===).
    a = a.move_before("Stability in Afghanistan and Central Asia", "NATO supply routes", level=3)
    save(
        1844188,
        "2023-04-16T19:44:58Z",
        NORDLYS,
        "Move Afghanistan into Military relations and understanding as a subsection, after "
        "Bosnia (chronological order: 1994, then 2007)",
        a,
    )

    # 9. An infobox parameter changed.
    a = replace(a, lead=lead("Permanent Representative", CITATION_NEEDED_LEAD))
    save(
        1844397,
        "2023-05-06T07:55:30Z",
        ZAINAB,
        "Infobox: Pakistan's envoy to NATO is accredited as Permanent Representative, "
        "not ambassador",
        a,
    )

    # 10. A reference added (replaces a {{Citation needed}} in the lead).
    a = replace(a, lead=lead("Permanent Representative", REF_RUBIN))
    save(
        1844630,
        "2023-05-25T16:20:41Z",
        SHAHID,
        "Source the sentence on China's influence (Rubin, The National Interest, 2022)",
        a,
    )
    before_vandal = a

    # 11. Vandalism: the quotation paragraph blanked and junk inserted.
    stab = "Stability in Afghanistan and Central Asia"
    a = a.change(stab, body=afghanistan(quote=VANDAL_JUNK))
    save(1844871, "2023-06-13T22:41:09Z", VANDAL, f"/* {stab} */", a)

    # 12. Rollback by a bot to the exact previous text.
    a = before_vandal
    save(
        1844874,
        "2023-06-13T22:41:31Z",
        REVERTBOT,
        f"Reverted edits by [[Special:Contributions/{VANDAL.name}|{VANDAL.name}]] "
        f"([[User talk:{VANDAL.name}|talk]]) to last revision by "
        f"[[User:{SHAHID.name}|{SHAHID.name}]]",
        a,
        minor=True,
    )

    # 13. A reference removed.
    a = a.change(stab, body=afghanistan(jioc_ref=""))
    save(
        1845102,
        "2023-07-08T12:26:14Z",
        NORDLYS,
        f"/* {stab} */ rm dead ISAF link (isaf.nato.int is offline); the JIOC and the quotation "
        "are covered by the NATO source",
        a,
    )

    # 14. A category added.
    a = a.change("References", body=references(CATEGORIES_BASE + [CATEGORY_ADDED]))
    save(1845340, "2023-07-30T09:13:52Z", ZAINAB, f"+[[Category:{CATEGORY_ADDED}]]", a)

    # 15. A minor edit: typo.
    a = a.change(stab, body=afghanistan(brussels="Brussels", jioc_ref=""))
    save(
        1845517,
        "2023-08-19T15:38:06Z",
        KASHIF,
        f"/* {stab} */ typo: Brussles → Brussels",
        a,
        minor=True,
    )

    # 16. A section removed.
    a = a.remove("NATO supply routes")
    save(
        1845803,
        "2023-09-07T13:59:23Z",
        SHAHID,
        "Remove the 'NATO supply routes' section: unsourced since January, and the transit "
        "agreements were with the US rather than NATO (see talk page)",
        a,
    )

    assert revs[11].sha1 == revs[9].sha1, "the revert must restore the pre-vandal text"
    return revs


# --------------------------------------------------------------------------
# XML, written the way MediaWiki's XmlDumpWriter writes it
# --------------------------------------------------------------------------


def esc_text(s: str) -> str:
    # htmlspecialchars(..., ENT_NOQUOTES)
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def esc_attr(s: str) -> str:
    # Sanitizer::encodeAttribute
    s = esc_text(s).replace('"', "&quot;").replace("'", "&#039;")
    return s.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")


def element(name: str, text: str, attrs: dict[str, str] | None = None) -> str:
    a = "".join(f' {k}="{esc_attr(v)}"' for k, v in (attrs or {}).items())
    if text == "":
        return f"<{name}{a} />"
    return f"<{name}{a}>{esc_text(text)}</{name}>"


def render_xml(revs: list[Revision]) -> str:
    ver = "0.11"
    out = [
        f'<mediawiki xmlns="http://www.mediawiki.org/xml/export-{ver}/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="http://www.mediawiki.org/xml/export-{ver}/ '
        f'http://www.mediawiki.org/xml/export-{ver}.xsd" version="{ver}" xml:lang="en">\n',
        "  <siteinfo>\n",
    ]
    for key in ("sitename", "dbname", "base", "generator", "case"):
        out.append(f"    {element(key, SITEINFO[key])}\n")
    out.append("    <namespaces>\n")
    for key, name in NAMESPACES:
        out.append(
            f"      {element('namespace', name, {'key': str(key), 'case': 'first-letter'})}\n"
        )
    out.append("    </namespaces>\n  </siteinfo>\n")
    out.append("  <page>\n")
    out.append(f"    {element('title', TITLE)}\n")
    out.append("    <ns>0</ns>\n")
    out.append(f"    <id>{PAGE_ID}</id>\n")
    for r in revs:
        out.append("    <revision>\n")
        out.append(f"      <id>{r.revid}</id>\n")
        if r.parentid:
            out.append(f"      <parentid>{r.parentid}</parentid>\n")
        out.append(f"      <timestamp>{r.timestamp}</timestamp>\n")
        out.append("      <contributor>\n")
        if r.user.uid is None:
            out.append(f"        {element('ip', r.user.name)}\n")
        else:
            out.append(f"        {element('username', r.user.name)}\n")
            out.append(f"        <id>{r.user.uid}</id>\n")
        out.append("      </contributor>\n")
        if r.minor:
            out.append("      <minor/>\n")
        if r.comment:
            out.append(f"      {element('comment', r.comment)}\n")
        out.append(f"      <origin>{r.revid}</origin>\n")
        out.append("      <model>wikitext</model>\n")
        out.append("      <format>text/x-wiki</format>\n")
        attrs = {"bytes": str(r.size), "sha1": r.sha1, "xml:space": "preserve"}
        out.append(f"      {element('text', r.text, attrs)}\n")
        out.append(f"      <sha1>{r.sha1}</sha1>\n")
        out.append("    </revision>\n")
    out.append("  </page>\n</mediawiki>\n")
    return "".join(out)


def build() -> bytes:
    return render_xml(build_history()).encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="regenerate in memory and exit 1 if the file on disk differs",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=OUTPUT,
        help=f"where to write (default: {OUTPUT.relative_to(ROOT)})",
    )
    args = parser.parse_args(argv)
    data = build()
    if args.check:
        current = args.output.read_bytes() if args.output.exists() else None
        if current != data:
            print(
                f"{args.output} is out of date: run python scripts/build_seed_snapshot.py",
                file=sys.stderr,
            )
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    print(f"wrote {args.output} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
