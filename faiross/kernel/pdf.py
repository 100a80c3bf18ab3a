"""PDF documents rendered from HTML by WeasyPrint, with one shared print stylesheet.

The stylesheet's fonts cover Latin, Cyrillic and Greek (DejaVu Sans, Debian's
``fonts-dejavu-core``) and Chinese and Japanese kanji and kana (WenQuanYi Micro Hei, Debian's
``fonts-wqy-microhei``), so names such as "Łukasz Müller" or "田中 太郎" print as written.
Rendering never makes a network request: only ``file:`` and ``data:`` URLs are fetched.
"""

from __future__ import annotations

import logging

# WeasyPrint logs every rendering step at INFO, from its import on (it parses its own
# stylesheets then); keep its warnings (e.g. a refused URL) only.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

from weasyprint import CSS, HTML  # noqa: E402
from weasyprint.urls import URLFetcher  # noqa: E402

#: The schemes a document may load resources from (images, stylesheets); nothing else.
ALLOWED_URL_SCHEMES = ("file", "data")

#: The print stylesheet every PDF gets, before the document's own styles.
PRINT_CSS = """
@page {
  size: Letter;
  margin: 22mm 20mm 20mm 20mm;
  @bottom-right {
    content: "page " counter(page) " of " counter(pages);
    font-family: "DejaVu Sans", "WenQuanYi Micro Hei", sans-serif;
    font-size: 8pt;
    color: #555;
  }
}
html {
  font-family: "DejaVu Sans", "WenQuanYi Micro Hei", sans-serif;
  font-size: 10pt;
  line-height: 1.4;
  color: #111;
}
h1 { font-size: 15pt; margin: 0 0 10pt; }
h2 { font-size: 12pt; margin: 14pt 0 6pt; }
p, ul { margin: 0 0 7pt; }
code, .mono { font-family: "DejaVu Sans Mono", "WenQuanYi Micro Hei Mono", monospace; }
table { border-collapse: collapse; width: 100%; margin: 0 0 10pt; }
th, td { text-align: left; vertical-align: top; padding: 3pt 5pt; border-bottom: 0.5pt solid #bbb; }
th { border-bottom: 1pt solid #333; }
td.num, th.num { text-align: right; white-space: nowrap; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; }
.small { font-size: 8.5pt; }
.muted { color: #555; }
"""


def _url_fetcher() -> URLFetcher:
    """A fetcher that refuses every scheme but ``file:`` and ``data:`` and follows no redirect."""
    return URLFetcher(allowed_protocols=ALLOWED_URL_SCHEMES, allow_redirects=False)


def pdf_render(*, html: str, base_url: str | None = None) -> bytes:
    """Render ``html`` to a PDF with the shared print stylesheet; returns the file's bytes.

    Preconditions: ``html`` is a complete, trusted HTML document (user data already escaped by
    the template); ``base_url``, when given, is a ``file:`` URL or path against which relative
    links resolve. Resources other than ``file:`` and ``data:`` URLs are not fetched (they are
    left out with a WeasyPrint warning), so rendering never touches the network. The fonts of
    :data:`PRINT_CSS` must be installed (fontconfig); a missing one falls back to another font.
    """
    fetcher = _url_fetcher()
    document = HTML(string=html, base_url=base_url, url_fetcher=fetcher)
    pdf = document.write_pdf(stylesheets=[CSS(string=PRINT_CSS, url_fetcher=fetcher)])
    assert isinstance(pdf, bytes)
    return pdf
