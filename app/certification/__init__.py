"""Certification periods: sealed batches of certified grams with serials, supplementary and
adjustment batches, withdrawals."""
