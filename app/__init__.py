"""carbon-planet service core: settings, database, accounts, auth, server and CLI."""
