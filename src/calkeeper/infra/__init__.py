"""Small shared infrastructure used by the CAL server and the license authority.

Database engines and column types, bearer-token secrets, the one HTTP error shape, the brake on
repeated failures, and where data lives by default. It imports ``calkeeper.core`` and frameworks,
nothing of either product, so both can build on it without depending on each other.
"""
