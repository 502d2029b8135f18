"""The optional extras (`netspec[torch]`, `[diagram]`, `[onnx]`): the pip line that installs
one, where this netspec was installed from."""

from __future__ import annotations

import json


def install_line(extra: str) -> str:
    """The pip command that installs an extra where this netspec came from: a clone's
    directory (`pip install -e '/src/netspec[diagram]'`), else the package index."""
    from importlib import metadata  # read only on the way to an error: its import costs start-up time

    try:
        info = json.loads(metadata.distribution("netspec").read_text("direct_url.json") or "{}")
    except (metadata.PackageNotFoundError, ValueError):
        info = {}
    url = info.get("url", "")
    if url.startswith("file://") and "dir_info" in info:
        editable = "-e " if info["dir_info"].get("editable") else ""
        return f"pip install {editable}'{url[len('file://'):]}[{extra}]'"
    return f"pip install 'netspec[{extra}]'"
