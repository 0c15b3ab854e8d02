import sys

from distill import warm

_server = warm.server_socket()  # a warm server's fork runs the command when one is named and answers
_status = warm.run_in_server(_server, sys.argv[1:]) if _server else None
if _status is not None:
    raise SystemExit(_status)

from distill.cli import main  # noqa: E402  (after the warm start: this import is what a warm start saves)

raise SystemExit(main())
