"""Where the shipped non-Python files live: in a checkout, or under `<prefix>/share/harvester`.

Index templates, Kibana saved objects and the compose file sit at the top of the repository
so that operators can read and edit them; a wheel installs the same files as data files.
Looking in both places lets `pip install .` and an editable checkout behave the same.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


def resource(relative: str) -> Path:
    """The path of a shipped file or folder, e.g. `index_templates` or `docker/docker-compose.yml`."""
    candidates = [CHECKOUT / relative]
    for prefix in {sys.prefix, sysconfig.get_config_var("userbase") or "", sysconfig.get_paths()["data"]}:
        if prefix:
            candidates.append(Path(prefix) / "share" / "harvester" / relative)
    for path in candidates:
        if path.exists():
            return path
    return candidates[0]
