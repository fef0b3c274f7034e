#!/usr/bin/env python3
"""Entry point kept for the original tool's cron lines (`./harvest.py useractions ...`)."""
from harvester.cli import main

if __name__ == "__main__":
    main()
