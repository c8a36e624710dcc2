"""The low-carbon planet: pure rules engine and designer-editable rule files (no I/O)."""
