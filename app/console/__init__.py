"""The web console at /console: designers, operators and the regulator run the programme
from a browser, in Chinese first.

It is a client of the GraphQL API like any other (Saleor's dashboard is the model): every
page reads and every form writes through `ConsoleApi`, which runs the same schema in
process with the console user's session, so the console has no capability, and no
authorization rule, of its own. Pages live beside the services they show
(`app/rulesets/pages.py`, `app/regulator/pages.py`, ...); this package holds what they
share: the session cookies and CSRF check, the templates' environment, charts.
"""
