"""Cash payouts (red packets, merchant settlements) through a transactional outbox."""
