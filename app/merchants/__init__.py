"""Merchants: accounts and staff, points paid at the till, periodic settlement."""
