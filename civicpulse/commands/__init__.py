"""Subcommands by area; each module exposes `register(app)` and `cli.py` wires them all."""
