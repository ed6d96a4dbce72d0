"""Reading YAML strictly: configs and recipes are hand-written, and a key given twice in one
mapping, which plain yaml resolves silently by keeping the last, is an error naming the key and
both lines."""
from __future__ import annotations

from pathlib import Path

import yaml


class UniqueKeyLoader(yaml.SafeLoader):
    """yaml's safe loader, refusing a mapping that gives the same key twice (plain yaml keeps
    the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":     # `<<: *anchor`: keys merged in may be overridden
                continue
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ValueError(f"duplicate key {key!r} on line {line} (first given on line {seen[key]})")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path):
    """The content of a yaml file (safe loader; duplicate keys are an error naming key and line)."""
    with open(path) as f:
        try:
            return yaml.load(f, Loader=UniqueKeyLoader)
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML: {error}".replace("\n", " ")) from None
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
