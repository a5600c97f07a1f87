"""Lets `python -m s2s` (and `torchrun -m s2s`) run the command line."""

from s2s.cli import run

run()
