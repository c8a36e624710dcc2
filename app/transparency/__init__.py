"""The transparency log's server side: sequencing ledger transactions into leaves, stored
tree nodes, signed checkpoints and proofs (the pure core is the top-level `transparency`)."""
