"""legflow: open software for electric leg massagers."""

__version__ = "0.1.0"
