"""Carbon-reduction calculators and their versioned factor tables (pure, no I/O)."""
