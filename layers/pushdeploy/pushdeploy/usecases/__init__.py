"""The use cases: the domain driven through the adapters."""
