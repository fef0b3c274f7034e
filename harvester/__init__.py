"""harvester: analytics harvester for university video platforms."""

__version__ = "0.1.0"
