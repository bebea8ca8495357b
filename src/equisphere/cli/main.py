"""The ``equisphere`` command: one sub-command per module in this package.

Each sub-command module defines ``add_arguments(parser)`` and ``run(args) -> int``;
its docstring's first line is its help. Modules import heavy dependencies inside
``run`` so that ``equisphere --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings
from collections.abc import Sequence

from equisphere import __version__

# Sub-command name -> module. Order is the order shown in --help.
COMMANDS = {
    "demo": "equisphere.cli.demo",
    "data": "equisphere.cli.data",
    "train": "equisphere.cli.train",
    "evaluate": "equisphere.cli.evaluate",
    "equivariance": "equisphere.cli.equivariance",
    "predict": "equisphere.cli.predict",
    "project": "equisphere.cli.project",
    "render": "equisphere.cli.render",
    "fisheye": "equisphere.cli.fisheye",
}


class CommandError(Exception):
    """A user-facing failure: printed as ``equisphere: error: ...`` with exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="equisphere",
        description="Rotation-equivariant deep learning on spherical images.",
    )
    parser.add_argument("--version", action="version", version=f"equisphere {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                continue  # sub-command not built yet
            raise
        doc = (module.__doc__ or name).strip()
        sub = subparsers.add_parser(
            name,
            help=doc.splitlines()[0],
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # Lightning's own use of a torch API that torch 2.13 deprecates; nothing a user can act on.
        warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)`")
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except (CommandError, ValueError, TypeError, OSError) as error:
        # OSError covers what the file system and Pillow raise: a missing or existing path, a
        # folder that is a file, a file that is not an image (PIL.UnidentifiedImageError).
        message = str(error)
        if type(error).__name__ == "UnidentifiedImageError":  # Pillow's, which names the file
            message += "; expected an image file (PNG, JPEG, ...)"
        print(f"equisphere {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
