"""The vendor's side: signing keys and the LEFs they sign."""
