"""Background work: queue consumers with leases and periodic maintenance."""
