"""Claims documentation: photo intake, rooms and readings, the S500 scope, review, PDF and text."""
