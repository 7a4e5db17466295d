"""The command line and its renderings."""
