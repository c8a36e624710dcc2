"""One person known to several institutions: partner-scoped ids linked to one player."""
