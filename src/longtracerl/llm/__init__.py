"""Stage: llm."""
