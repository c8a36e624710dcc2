"""GraphiQL on `GET /graphql`, served whole by the app: no CDN, works with no internet.

strawberry's own page loads React and GraphiQL from a public CDN, so offline it is blank.
The same IDE ships as plain files in the `graphene-django-graphiql-static` package
(GraphiQL 2, React 17, the explorer plugin; nothing of Django is used): `assets()` serves
them under `ASSETS_PATH`, and `page()` is a small HTML page that loads only those and
starts GraphiQL against this server's `/graphql` (HTTP, and graphql-transport-ws for
subscriptions). Its Content-Security-Policy allows scripts, styles and connections to this
origin only, plus its one inline script and style by a per-response nonce.
"""

from __future__ import annotations

import secrets
from importlib.resources import files
from pathlib import Path

from jinja2 import Environment
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

ASSETS_PATH = "/static/graphiql"
ASSETS_DIR = Path(str(files("graphene_django_graphiql_static") / "static" /
                      "graphene_django_graphiql_static"))
SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js",
           "graphiql-plugin-explorer.umd.js")
STYLESHEETS = ("graphiql.min.css", "style.css")  # style.css: the explorer plugin's

_PAGE = Environment(autoescape=True).from_string("""\
<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>carbon-planet GraphiQL</title>
  <link rel="icon" href="data:,">
{%- for name in stylesheets %}
  <link rel="stylesheet" href="{{ assets }}/{{ name }}">
{%- endfor %}
  <style nonce="{{ nonce }}">
    html, body, #graphiql { height: 100%; margin: 0; overflow: hidden; width: 100%; }
  </style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
{%- for name in scripts %}
  <script src="{{ assets }}/{{ name }}"></script>
{%- endfor %}
  <script nonce="{{ nonce }}">
    (function () {
      var endpoint = new URL({{ endpoint|tojson }}, window.location.href);
      var socket = new URL(endpoint.href);
      socket.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";
      var fetcher = GraphiQL.createFetcher({url: endpoint.href, subscriptionUrl: socket.href});
      var firstQuery = window.localStorage.getItem("graphiql:query") || {{ default_query|tojson }};

      function CarbonGraphiQL() {
        var state = React.useState(firstQuery);
        var query = state[0], setQuery = state[1];
        var plugins = [];
        if (window.GraphiQLPluginExplorer) {  // the query builder, in the sidebar
          plugins.push(GraphiQLPluginExplorer.useExplorerPlugin({query: query, onEdit: setQuery}));
        }
        return React.createElement(GraphiQL, {
          fetcher: fetcher,
          query: query,
          onEditQuery: setQuery,
          plugins: plugins,
          defaultEditorToolsVisibility: true,
          shouldPersistHeaders: false,
        });
      }

      ReactDOM.render(React.createElement(CarbonGraphiQL), document.getElementById("graphiql"));
    })();
  </script>
</body>
</html>
""")


DEFAULT_QUERY = """\
# carbon-planet's GraphQL API. For what needs a login:
# requestLoginCode, then loginWithCode, then put
#   {"Authorization": "Bearer <accessToken>"}
# in the Headers pane. Run: Ctrl-Enter or the ▶ button.
{
  methodologies { id version title }
}
"""


def content_security_policy(nonce: str) -> str:
    """This origin only; the page's own inline script and style by nonce; fonts and icons
    that GraphiQL's stylesheet embeds as data: URLs."""
    return "; ".join([
        "default-src 'none'",
        f"script-src 'self' 'nonce-{nonce}'",
        f"style-src 'self' 'nonce-{nonce}'",
        "connect-src 'self'",  # fetch to /graphql and its websocket (same host and port)
        "img-src 'self' data:",
        "font-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ])


def page(endpoint: str = "/graphql") -> HTMLResponse:
    """The GraphiQL page, with a fresh nonce in its body and its policy."""
    nonce = secrets.token_urlsafe(18)
    html = _PAGE.render(nonce=nonce, assets=ASSETS_PATH, endpoint=endpoint,
                        default_query=DEFAULT_QUERY, scripts=SCRIPTS, stylesheets=STYLESHEETS)
    return HTMLResponse(html, headers={
        "Content-Security-Policy": content_security_policy(nonce),
        "Cache-Control": "no-store",  # the nonce is new every time
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    })


class GraphiQLAssets:
    """GraphiQL's scripts and stylesheets, from the installed package, cacheable for a day."""

    def __init__(self) -> None:
        self.files = StaticFiles(directory=ASSETS_DIR)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (b"cache-control", b"public, max-age=86400"),
                                      (b"x-content-type-options", b"nosniff")]
            await send(message)

        await self.files(scope, receive, with_headers)


def assets() -> GraphiQLAssets:
    return GraphiQLAssets()
