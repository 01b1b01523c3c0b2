"""Subcommands of the ``fermask`` command line; see :mod:`fermask.cli`."""
