"""``python -m legflow`` runs the command line."""

from legflow.cli.app import main

main()
