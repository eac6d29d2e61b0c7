"""The operator console: server-rendered pages at /console for the people of a franchise location."""
