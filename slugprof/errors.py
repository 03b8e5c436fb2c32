"""Error types that carry the process exit code the CLI turns them into.

Exit codes (documented in the README):
0 within limits / measured; 1 a limit breached; 2 usage error or bad input the user must fix;
3 the tool or the app failed.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_LIMIT = 1
EXIT_USAGE = 2
EXIT_FAILURE = 3


class SlugprofError(Exception):
    """An error shown to the user as one line, never as a traceback."""

    exit_code = EXIT_FAILURE


class UsageError(SlugprofError):
    """Bad arguments or bad input files: the user must fix something."""

    exit_code = EXIT_USAGE


class ToolFailure(SlugprofError):
    """slugprof or something it ran failed."""

    exit_code = EXIT_FAILURE
