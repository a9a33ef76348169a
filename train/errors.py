"""The errors of train/ and how the commands report them.

The library (data.py, inference.py, shipped.py, run.py, ...) raises ordinary exceptions:

    FileNotFoundError   a missing image, folder, checkpoint or shipped model
    ValueError          a value that cannot work (an image too small, a sigma out of range, ...)
    CheckpointError     a file that is not a checkpoint of ours, or holds a model this version
                        cannot rebuild (a ValueError)
    TrainingError       a run that cannot go on (its loss or gradients stopped being finite)
    DeviceError         a device that cannot be used (no CuPy, no GPU; minigrad.backend)
    UsageError          options that do not go together (raised by the commands themselves)

Only the command layer, run_cli, turns them into one line `error: <message>` on stderr and exit
status 2, without a traceback (set N3NET_TRACEBACK=1 to see it).
"""
import os
import sys

from minigrad.backend import DeviceError

__all__ = ["CheckpointError", "DeviceError", "TrainingError", "UsageError", "run_cli"]


class CheckpointError(ValueError):
    """A file that is not a training checkpoint or shipped model this version can use."""


class TrainingError(RuntimeError):
    """A training run that cannot continue; the message says where its last good state is."""


class UsageError(Exception):
    """Command-line options that do not work together; raised by the commands only."""


USER_ERRORS = (UsageError, CheckpointError, TrainingError, DeviceError, FileNotFoundError, ValueError)


def run_cli(main, argv=None):
    """Run main(argv): a user's error becomes `error: <message>` on stderr and exit status 2."""
    try:
        return main(argv)
    except USER_ERRORS as error:
        if os.environ.get("N3NET_TRACEBACK"):
            raise
        message = str(error)
        if isinstance(error, FileNotFoundError) and error.filename and str(error.filename) not in message:
            message = f"{error.filename}: {error.strerror or message}"
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
