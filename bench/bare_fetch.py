"""The network-bound floor: fetch every revision of a page with content through mwclient,
doing nothing with it. Prints JSON: requests, revisions, bytes.

    python bench/bare_fetch.py API_URL TITLE [USER PASSWORD]
"""

from __future__ import annotations

import json
import sys
from urllib.parse import urlparse

import mwclient


def main() -> None:
    api_url, title = sys.argv[1], sys.argv[2]
    url = urlparse(api_url)
    site = mwclient.Site(
        url.netloc, path=url.path.removesuffix("api.php"), scheme=url.scheme, do_init=False
    )
    if len(sys.argv) > 4:
        site.login(sys.argv[3], sys.argv[4])
    params = {
        "prop": "revisions",
        "titles": title,
        "rvslots": "main",
        "rvlimit": "max",
        "rvdir": "newer",
        "formatversion": 2,
        "rvprop": "ids|timestamp|flags|comment|user|userid|size|sha1|tags|contentmodel|content",
    }
    requests = revisions = size = 0
    cont: dict = {}
    while True:
        result = site.api("query", http_method="GET", **params, **cont)
        requests += 1
        for page in result["query"]["pages"]:
            for rev in page.get("revisions", []):
                revisions += 1
                size += len(rev["slots"]["main"].get("content", ""))
        if "continue" not in result:
            break
        cont = dict(result["continue"])
    print(json.dumps({"requests": requests, "revisions": revisions, "chars": size}))


if __name__ == "__main__":
    main()
