"""mkdocs hook: the site loads nothing from another origin, so it works without internet
(and from mainland China). Material's bundle fetches two scripts from unpkg.com when a
browser needs them: a ResizeObserver polyfill (browsers from before 2020) and Mermaid (a
page with a diagram). Both ship in `docs/assets/vendor/` (MIT, see LICENSES.txt), and
after the build the bundle's two URLs are pointed at them, resolved against the page's
own base (`__config.base`, which Material writes into every page), so a page at any depth
finds them. The build fails if the bundle names either URL no more (a Material upgrade
changed it: look again) or if any built file still names a CDN."""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.exceptions import PluginError

VENDORED = {
    "https://unpkg.com/resize-observer-polyfill": "assets/vendor/resize-observer-polyfill-1.5.1.js",
    "https://unpkg.com/mermaid@11/dist/mermaid.min.js": "assets/vendor/mermaid-11.17.2.min.js",
}
CDN = re.compile(r"https?://(?:[a-z0-9-]+\.)*(?:unpkg\.com|jsdelivr\.net|cdnjs\.cloudflare\.com)",
                 re.IGNORECASE)


def local(path: str) -> str:
    """A JavaScript expression: `path` under the site's root, as the current page sees it."""
    base = 'JSON.parse(document.getElementById("__config").textContent).base+"/"'
    return f'new URL("{path}",new URL({base},location.href)).href'


def on_post_build(config, **kwargs) -> None:
    site = Path(config["site_dir"])
    for bundle in (site / "assets" / "javascripts").glob("bundle.*.min.js"):
        text = bundle.read_text("utf-8")
        for url, path in VENDORED.items():
            if f'"{url}"' not in text:
                raise PluginError(f"{bundle.name} no longer loads {url}; check what it loads now")
            if not (site / path).is_file():
                raise PluginError(f"{path} is missing from the built site")
            text = text.replace(f'"{url}"', local(path))
        bundle.write_text(text, "utf-8")
        source_map = bundle.with_name(bundle.name + ".map")  # its copy of the sources names them too
        if source_map.is_file():
            text = source_map.read_text("utf-8")
            for url, path in VENDORED.items():
                text = text.replace(url, path)
            source_map.write_text(text, "utf-8")
    left = sorted(str(f.relative_to(site)) for f in site.rglob("*")
                  if f.suffix in (".html", ".js", ".css", ".map")
                  and CDN.search(f.read_text("utf-8", errors="ignore")))
    if left:
        raise PluginError(f"built files still load from a CDN: {', '.join(left)}")
