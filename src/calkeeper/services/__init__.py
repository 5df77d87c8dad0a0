"""The use cases: each one transaction, with its audit row."""
