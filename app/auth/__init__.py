"""Authentication: login codes, host-app identity tokens, access and refresh tokens, roles."""
