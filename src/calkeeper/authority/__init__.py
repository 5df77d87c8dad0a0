"""The vendor's license authority: signing keys, the sites it sold to, the LEFs it signs, its HTTP service."""
