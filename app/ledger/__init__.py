"""The double-entry ledger: every credit and debit of points, growth, energy and CO2e."""
