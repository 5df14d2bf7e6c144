"""`python -m civicpulse`: the same as the `civicpulse` command."""

from civicpulse.cli import main

main()
