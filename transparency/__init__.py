"""A transparency log's pure core: RFC 6962 Merkle proofs, C2SP signed notes and checkpoints,
the ledger's leaf encoding, and an offline verifier and witness.

Standard library plus ``cryptography`` only and no I/O, so a player or a regulator can copy
this package and check the log on their own machine.
"""
