"""Activities turned into credits: partner ingestion, step sync, daily totals."""
