"""`python -m harvester` runs the CLI (used by tests that need a real process)."""
from harvester.cli import main

main()
