"""One package per platform; each converts platform data to and from ``core.models``."""
