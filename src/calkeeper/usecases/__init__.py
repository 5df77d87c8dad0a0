"""The CAL server's use cases, one module per capability; each runs in one transaction of its own."""
