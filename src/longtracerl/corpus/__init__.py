"""Stage: corpus."""
