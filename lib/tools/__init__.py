"""Re-runnable maintenance tools (``python -m lib.tools.<name>``)."""
