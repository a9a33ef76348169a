"""CLIError: a problem the user can fix (a missing folder, an unreadable image, a checkpoint of
another model).  The commands print its message on one line and exit with status 2, no traceback."""
import sys


class CLIError(Exception):
    pass


def run_cli(main, argv=None):
    """Run main(argv); a CLIError becomes `error: <message>` on stderr and exit status 2."""
    try:
        return main(argv)
    except CLIError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
