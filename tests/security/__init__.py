"""Security tests: least privilege against the template's roles, and secrets never read."""
