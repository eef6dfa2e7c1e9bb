"""Errors a user can cause: each carries one sentence saying what is wrong and what to do.

The command line prints these without a traceback; everything else is a bug and keeps its
traceback.
"""


class OpenHMRError(Exception):
    """A problem with the user's input (file, model, setting), explained in one sentence."""
