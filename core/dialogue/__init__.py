"""The conversation: thinking router, prompt, tool loop (manager) and degraded mode."""
