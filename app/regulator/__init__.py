"""What the city's regulator reads: programme figures, aggregated, without personal data."""
