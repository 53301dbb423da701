"""The ledger: entries, Merkle tree, checkpoints, and the one way to append."""
