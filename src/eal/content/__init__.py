"""Content: generated blog posts, video scripts and review replies; revisions; publishing."""
