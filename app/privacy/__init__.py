"""A player's own data: exporting it and closing the account."""
