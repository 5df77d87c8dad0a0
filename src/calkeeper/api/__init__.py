"""The REST API: a thin HTTP edge over the CAL server's use cases."""
