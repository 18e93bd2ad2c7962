"""Sub-commands of the ``vssid-bot`` console script.

Each module here exposes ``register(subparsers)``, which adds one sub-command whose parser
has ``set_defaults(func=...)``; ``func(args: argparse.Namespace) -> int`` returns the exit
code. ``bot/__main__.py`` lists the modules in ``COMMAND_MODULES``, so adding a command is
adding a module and one line there.
"""
