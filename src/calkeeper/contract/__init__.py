"""What the site offers, to local and remote callers alike: the operations and the values they return."""
