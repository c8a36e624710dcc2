"""Published, versioned game rule sets, and the per-process provider that follows them."""
