"""wiki tracker: watch MediaWiki articles, keep every revision, digest what changed."""

__version__ = "0.1.0"
NAME = "wiki-tracker"
