"""Stage: reward."""
