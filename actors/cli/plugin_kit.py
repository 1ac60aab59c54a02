"""``strongbox plugin new NAME``: scaffold an installable package of plugins.

The package (in ``./NAME``, or ``--directory``) has a pyproject with the
``strongbox.protectables`` and ``strongbox.protections`` entry points, one protectable,
one protection plugin with pre/parallel/post and a polling generator, a provider file and
tests that pass out of the box (``pip install -e . && pytest``): they run the plugin
through the real engine with ``actors.testing.harness``. The texts are in
``plugin_templates``.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

from actors.cli.output import Output
from actors.cli.plugin_templates import FILES
from actors.errors import StrongboxError

# a distribution name that is also, with - turned into _, a Python package name
NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")


class ScaffoldRefused(StrongboxError):
    """The name or the directory cannot hold a new plugin package."""


def add_parsers(groups: argparse._SubParsersAction[argparse.ArgumentParser],
                add: Callable[..., argparse.ArgumentParser],
                command: Callable[..., object]) -> None:
    """The ``plugin`` group: ``plugin new NAME [--directory DIR]``."""
    plugin = groups.add_parser("plugin", help="write plugins").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    new = add(plugin, "new", command,
              "scaffold a package with a protectable and a protection plugin, and tests")
    new.add_argument("name", metavar="NAME",
                     help="distribution and protection plugin name, e.g. acme-bucket")
    new.add_argument("--directory", metavar="DIR",
                     help="where to write the package (default: ./NAME); must be empty")


def names(name: str) -> dict[str, str]:
    """The template names for ``name``: dist, package, prefix (CamelCase) and rtype."""
    if not NAME.fullmatch(name):
        raise ScaffoldRefused(
            f"plugin name {name!r}: use lower-case letters, digits, and single - or _ "
            "between them, starting with a letter (e.g. acme-bucket)")
    parts = re.split(r"[-_]", name)
    prefix = "".join(part.capitalize() for part in parts)
    return {"dist": name, "package": "_".join(parts), "prefix": prefix,
            "rtype": f"{prefix}::Item"}


def scaffold(name: str, directory: Path) -> list[Path]:
    """Write the package for ``name`` into ``directory``; return the files written.

    Raises:
        ScaffoldRefused: a bad name, or a directory that exists and is not empty (nothing
            is overwritten).
    """
    values = names(name)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ScaffoldRefused(f"{directory}: exists and is not an empty directory; "
                              "choose another with --directory")
    written = []
    for relative, template in FILES.items():
        path = directory / relative.replace("$package", values["package"]).replace(
            "$dist", values["dist"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.substitute(values))
        written.append(path)
    return written


def plugin_new(args: argparse.Namespace, out: Output) -> None:
    """Scaffold the package and say what to do next."""
    directory = Path(args.directory or args.name)
    written = scaffold(args.name, directory)
    if out.json:
        out.document({"directory": str(directory), "files": [str(p) for p in written]})
        return
    for path in written:
        out.line(f"wrote {path}")
    out.line(f"next: cd {directory} && pip install -e . && pytest")
