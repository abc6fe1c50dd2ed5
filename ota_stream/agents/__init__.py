"""Stream processors."""
