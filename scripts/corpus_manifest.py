#!/usr/bin/env python3
"""Write tests/data/real/manifest.yaml: the facts of each real export in the corpus.

The facts are counted with an independent reader (xml.etree iterparse, tests/realcorpus.py),
never with the tracker's code, and reverts with mwreverts (radius 15). Provenance is kept
here, next to the facts; tests/data/real/README.md says the same for people.

A file's ``source`` is either a package of a registry (``registry``, ``package``,
``version``, ``artifact`` with its ``artifact_sha256``, ``path`` inside it, ``convert``):
scripts/get_real_corpus.py gets it, in CI too; or a GitHub repository (``repository``,
``path``, ``commit``): opt-in, a developer brings it (tests/data/real/README.md). The
registry files are needed here; a repository file that is not found keeps its entry of
the current manifest (said on stderr), unless --strict.

    python scripts/get_real_corpus.py            # the registry files, into the cache
    python scripts/corpus_manifest.py            # (re)write the manifest
    python scripts/corpus_manifest.py --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import realcorpus  # noqa: E402

WIKIMEDIA = (
    "Wikimedia content: CC BY-SA (3.0 or 4.0, and GFDL for older revisions); "
    "attribution: the revision authors, listed by the page history"
)

# file name -> role, provenance, licence, how it was derived from the source file
SOURCES: dict[str, dict] = {
    "enwiki-Anarchism-2001-2010.xml.xz": {
        "role": "benchmark",
        "source": {
            "repository": "maribelacosta/wikiwho",
            "path": "wmf/dump/tests/sample/large.xml.lzma",
            "commit": "ac616cc3dbb4257256267cc39a192f5dc279c1bb",
        },
        "original": "https://en.wikipedia.org/wiki/Anarchism (export of 2010)",
        "derived": "recompressed from lzma to xz (preset 9); bytes unchanged",
    },
    "enwiki-Anarchism-2001-2003-first500.xml.xz": {
        "role": "test",
        "source": {
            "repository": "maribelacosta/wikiwho",
            "path": "wmf/dump/tests/sample/large.xml.lzma",
            "commit": "ac616cc3dbb4257256267cc39a192f5dc279c1bb",
        },
        "original": "https://en.wikipedia.org/wiki/Anarchism (export of 2010)",
        "derived": "the header and the first 500 <revision> elements of the page "
        "(2001-10-11 to 2003-12-31), each byte unchanged, cut before the line of "
        "the 501st, then '  </page>\\n</mediawiki>\\n'; xz preset 9",
    },
    "aawiki-20260101-pages-with-5-or-more-revisions.xml.xz": {
        "role": "test",
        "source": {
            "repository": "dkpro/dkpro-jwpl",
            "path": "dkpro-jwpl-timemachine/src/test-e2e/resources/"
            "aawiki-20260101-pages-meta-history.xml.7z",
            "commit": "1a4d3742561fefdf521df8fde6a8430ef116fceb",
        },
        "original": "https://dumps.wikimedia.org/aawiki/20260101/ (pages-meta-history)",
        "derived": "the 42 <page> elements with 5 or more revisions of the 507, each byte "
        "unchanged, with the dump's header; 7z -> xz",
    },
    "commonswiki-File-Goddess-Bhadrakali.xml": {
        "role": "test",
        "source": {
            "repository": "wikimedia/analytics-refinery-source",
            "path": "refinery-job/src/test/resources/mediawikidumper/"
            "MediawikiDumperOutputTest.Commonswiki.Sample.xml",
            "commit": "cb94caa678bb363fabbe48cd114853dc3acff16f",
        },
        "original": "https://commons.wikimedia.org/wiki/File:Goddess_Bhadrakali_Worshipped_by_"
        "the_Gods-_from_a_tantric_Devi_series_-_Google_Art_Project.jpg",
        "derived": None,
    },
    "commonswiki-Template-bangbang.xml": {
        "role": "test",
        "source": {
            "repository": "wikimedia/mediawiki",
            "path": "tests/phpunit/data/import/Template-!!.xml",
            "commit": "34cabc0a46b3d5d5c2a1c55887eecdf099e9285b",
        },
        "original": "https://commons.wikimedia.org/wiki/Template:!!",
        "derived": None,
    },
    "simplewiki-sample.xml": {
        "role": "test",
        "source": {
            "repository": "wikimedia/analytics-refinery-source",
            "path": "refinery-job/src/test/resources/mediawikidumper/"
            "MediawikiDumperOutputTest.Simplewiki.Sample.xml",
            "commit": "3e9d0b2222c88fbd133156c814fa48a660d9256b",
        },
        "original": "https://simple.wikipedia.org/ (User:Ryulong, Talk:Cristiano Ronaldo)",
        "derived": None,
    },
    "dewiktionary-Hallo.xml.xz": {
        "role": "test",
        "source": {
            "repository": "Schuwi/wikiwho_rs",
            "path": "failing-inputs/Hallo.xml",
            "commit": "55c4734ffe99af54ac6f2f53eccf5a3ceb1178de",
        },
        "original": "https://de.wiktionary.org/wiki/Hallo (dewiktionary-20240901 dump)",
        "derived": "xz-compressed; bytes unchanged",
    },
    "dewiktionary-familia.xml": {
        "role": "test",
        "source": {
            "repository": "Schuwi/wikiwho_rs",
            "path": "failing-inputs/familia.xml",
            "commit": "3e5fd55d52fcc344eec7631471790c0804a4dacc",
        },
        "original": "https://de.wiktionary.org/wiki/familia (dewiktionary-20240901 dump)",
        "derived": None,
    },
    "dewiktionary-MediaWiki-Anontalkpagetext.xml": {
        "role": "test",
        "source": {
            "repository": "Schuwi/wikiwho_rs",
            "path": "failing-inputs/Anontalkpagetext.xml",
            "commit": "a6436a4fabc5987b40b9dd0f1cacab3287ab629d",
        },
        "original": "https://de.wiktionary.org/wiki/MediaWiki:Anontalkpagetext "
        "(dewiktionary-20240901 dump)",
        "derived": None,
    },
    "dewiktionary-20080617-sample.xml": {
        "role": "test",
        "source": {
            "repository": "dkpro/dkpro-jwktl",
            "path": "src/test/resources/WiktionaryTestData_de_20080617.xml",
            "commit": "1aa6b1ae02fdaf33519d16aa4cb4b7e9f0fda380",
        },
        "original": "https://de.wiktionary.org/ (dump of 2008-06-17: Platz, Parameter, "
        "França, Mönch)",
        "derived": "the page 'Hilfe:Ignore' removed: a fixture of JWKTL's authors, not a real "
        "page (its revision reuses the id, time and user of Mönch's revision 769048 "
        "with 54 bytes of test text); the other bytes unchanged",
    },
    "enwiki-Talk-Pilsbury-Block.xml": {
        "role": "test",
        "source": {
            "repository": "maribelacosta/wikiwho",
            "path": "wmf/dump/tests/sample/small.xml.lzma",
            "commit": "ac616cc3dbb4257256267cc39a192f5dc279c1bb",
        },
        "original": "https://en.wikipedia.org/wiki/Talk:Pilsbury_Block (2008)",
        "derived": "decompressed (lzma); bytes unchanged",
    },
    "enwiki-Pear.xml": {
        "role": "test",
        "source": {
            "repository": "wikimedia/pywikibot",
            "path": "tests/data/xml/article-pear.xml",
            "commit": "7fd0b4c4fe7962e91a56e76f19c9fdf4795940c1",
        },
        "original": "https://en.wikipedia.org/wiki/Pear (first revisions, 2002)",
        "derived": None,
    },
    "enwiki-Pear-0.10.xml": {
        "role": "test",
        "source": {
            "repository": "wikimedia/pywikibot",
            "path": "tests/data/xml/article-pear-0.10.xml",
            "commit": "539cf6fc791dbf1e9310a91038497b291c7f27cd",
        },
        "original": "https://en.wikipedia.org/wiki/Pear (2014)",
        "derived": None,
    },
    "enwiki-Cullu-Agdam-0.10.xml": {
        "role": "test",
        "source": {
            "repository": "wikimedia/pywikibot",
            "path": "tests/data/xml/pair-0.10.xml",
            "commit": "bb850121bd7376c31ac91c6567252e3ad1205cc3",
        },
        "original": "https://en.wikipedia.org/wiki/Çullu,_Agdam and its talk page",
        "derived": None,
    },
}
for suffix, commit in (
    ("", "bb850121bd7376c31ac91c6567252e3ad1205cc3"),
    (".bz2", "bb850121bd7376c31ac91c6567252e3ad1205cc3"),
    (".gz", "ef438c4a3ca3a4a67b6376aba4f92c1281e403bc"),
    (".xz", "e225452cf9f669ecd8ed23fbcdddc9735fabf96b"),
):
    SOURCES[f"enwiki-Pyrus.xml{suffix}"] = {
        "role": "test" if not suffix else "compressed",
        "source": {
            "repository": "wikimedia/pywikibot",
            "path": f"tests/data/xml/article-pyrus.xml{suffix}",
            "commit": commit,
        },
        "original": "https://en.wikipedia.org/wiki/Pyrus (2002-2003)",
        "derived": None,
    }

# From PyPI: gensim's test data (gensim/test/test_data), in its wheel. gensim's authors cut
# the dumps to whole <page> elements; every text still has the sha1 MediaWiki wrote for it.
GENSIM = {
    "registry": "pypi",
    "package": "gensim",
    "version": "4.4.0",
    "artifact": "gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
    "artifact_sha256": "91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8",
}
SOURCES.update(
    {
        "enwiki-2016-pages-articles-206-pages.xml.bz2": {
            "role": "test",
            "source": {
                **GENSIM,
                "path": "gensim/test/test_data/enwiki-latest-pages-articles1.xml-"
                "p000000010p000030302-shortened.bz2",
                "convert": "none",
            },
            "original": "https://dumps.wikimedia.org/enwiki/ (enwiki pages-articles1, "
            "MediaWiki 1.27.0-wmf.22, 2016): the first 206 pages, from "
            "AccessibleComputing to Algorithms (Anarchism, Autism, Albedo...)",
            "derived": None,
        },
        "enwiki-2017-table-markup-5-pages.xml.bz2": {
            "role": "test",
            "source": {
                **GENSIM,
                "path": "gensim/test/test_data/enwiki-table-markup.xml.bz2",
                "convert": "none",
            },
            "original": "https://en.wikipedia.org/ (2017 revisions of Constructive vote of no "
            "confidence, List of Prison Break characters, Academy Award for Best "
            "Production Design, Economy of Estonia, Brahui language); no <siteinfo>",
            "derived": None,
        },
        "bgwiki-2017-pages-articles-3-pages.xml": {
            "role": "test",
            "source": {
                **GENSIM,
                "path": "gensim/test/test_data/bgwiki-latest-pages-articles-shortened.xml.bz2",
                "convert": "bunzip2+utf16-to-utf8",
            },
            "original": "https://dumps.wikimedia.org/bgwiki/ (bgwiki pages-articles, MediaWiki "
            "1.29.0-wmf.21, 2017): Григориански календар, Уикипедия:Редактиране на "
            "страници, Уикипедия:Разговори/Архив/2005/октомври-ноември-декември",
            "derived": "decompressed and re-encoded from UTF-16 (as gensim ships it) to UTF-8, "
            "the encoding MediaWiki writes; every character unchanged",
        },
    }
)

ENGLISH_CATEGORY = "Category"
EDIT_WAR_REVERTS = 10


def page_facts(info: realcorpus.Export, page: realcorpus.Page) -> dict:
    history = page.history()
    reverts = realcorpus.reference_reverts(history)
    ns_case = info.namespaces.get(page.ns or 0, ("", info.case))[1] or info.case
    headings = {line for rev in history for line in rev.template_headings}
    facts = {
        "title": page.title,
        "pageid": page.pageid,
        "ns": page.ns,
        "revisions": len(history),
        "listed_in_history_order": [r.revid for r in page.revisions] == [r.revid for r in history],
        "ids_out_of_order": realcorpus.ids_out_of_order(history),
        "ids_below_earlier_max": realcorpus.ids_below_earlier_max(history),
        "hidden_revisions": sum(1 for r in history if r.hidden),
        "hidden_text": sum(1 for r in history if r.texthidden),
        "hidden_user": sum(1 for r in history if r.userhidden),
        "hidden_comment": sum(1 for r in history if r.commenthidden),
        "case_sensitive": ns_case == "case-sensitive",
        "blank_revisions": realcorpus.blankings(history),
        "template_headings": len(headings),
        "mwreverts_radius_15": {
            "reverting": len(reverts.reverting),
            "reverted": len(reverts.reverted),
        },
    }
    localised = info.namespaces.get(14, ("", None))[0] not in ("", ENGLISH_CATEGORY)
    covers = []
    if facts["ids_out_of_order"]:
        covers.append("ids_out_of_time_order")
    if (info.lang or "en") != "en":
        covers.append("non_english")
    if localised:
        covers.append("localised_namespaces")
    if facts["case_sensitive"]:
        covers.append("case_sensitive")
    if facts["template_headings"]:
        covers.append("template_headings")
    if facts["hidden_revisions"]:
        covers.append("hidden_revisions")
    if facts["blank_revisions"] >= 2:
        covers.append("recurring_blankings")
    if len(reverts.reverting) >= EDIT_WAR_REVERTS:
        covers.append("edit_war")
    facts["covers"] = covers
    return facts


def build(strict: bool = False) -> str:
    files = {}
    current = realcorpus.load_manifest().get("files", {}) if realcorpus.MANIFEST.is_file() else {}
    for name, source in SOURCES.items():
        path = realcorpus.find_file(name)
        registry = "registry" in source["source"]
        if path is None and (strict or registry or name not in current):
            hint = (
                "run python scripts/get_real_corpus.py"
                if registry
                else "see tests/data/real/README.md"
            )
            raise SystemExit(f"{name}: not found in {realcorpus.corpus_dirs()}; {hint}")
        if path is None:
            print(f"{name}: not found; its facts are kept as they are", file=sys.stderr)
            files[name] = {**current[name], **source, "licence": WIKIMEDIA}
            continue
        info, pages = realcorpus.read_export(path)
        page_list = [page_facts(info, page) for page in pages]
        files[name] = {
            **source,
            "licence": WIKIMEDIA,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "bytes": path.stat().st_size,
            "export_version": info.version,
            "language": info.lang,
            "case": info.case,
            "sitename": info.sitename,
            "dbname": info.dbname,
            "generator": info.generator,
            "revisions": sum(p["revisions"] for p in page_list),
            "pages": page_list,
        }
    header = (
        "# The facts of each real export in this folder, per file and page.\n"
        "# Generated by scripts/corpus_manifest.py with an independent reader\n"
        "# (xml.etree iterparse) and mwreverts (radius 15); do not edit by hand.\n"
        "# ids_out_of_order: revisions whose id is lower than that of the revision\n"
        "#   before them in MediaWiki's history order (timestamp, then id).\n"
        "# ids_below_earlier_max: revisions whose id is lower than that of some\n"
        "#   earlier revision (an ingest that skips lower ids drops these).\n"
        "# blank_revisions: revisions whose text is empty or whitespace only.\n"
        "# template_headings: distinct heading lines with {{...}} in any revision.\n"
        "# covers: edit_war = 10 or more reverting revisions by mwreverts.\n"
    )
    return header + yaml.safe_dump({"files": files}, sort_keys=False, allow_unicode=True, width=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if out of date")
    parser.add_argument(
        "--strict", action="store_true", help="fail on a missing file instead of keeping its entry"
    )
    args = parser.parse_args()
    text = build(args.strict)
    if args.check:
        current = realcorpus.MANIFEST.read_text(encoding="utf-8")
        if current != text:
            raise SystemExit(
                f"{realcorpus.MANIFEST} is out of date; run python scripts/corpus_manifest.py"
            )
        return
    realcorpus.MANIFEST.write_text(text, encoding="utf-8")
    print(f"wrote {realcorpus.MANIFEST}")


if __name__ == "__main__":
    main()
