"""Players, their identities, login codes and sessions."""
