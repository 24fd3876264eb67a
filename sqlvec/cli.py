"""The ``sqlvec`` command: ``sqlvec shell DIR`` opens a psql-like terminal on a data directory.

Exit status follows psql: 0 on success, 1 when a ``-c`` command failed (or a fatal error
such as an unreadable file), 3 when ``--on-error-stop`` stopped a script.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


class _Ordered(argparse.Action):
    """Keeps -c and -f in the order given, as psql runs them."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        actions = getattr(namespace, "actions", None) or []
        actions.append((self.const, values))
        namespace.actions = actions


def build_parser() -> argparse.ArgumentParser:
    from sqlvec import __version__

    parser = argparse.ArgumentParser(
        prog="sqlvec",
        description="sqlvec: a vector database that is PostgreSQL (with pgvector) to its clients.",
    )
    parser.add_argument("--version", action="version", version=f"sqlvec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    shell = sub.add_parser(
        "shell",
        help="interactive SQL terminal on an embedded database (psql look)",
        description="Open a psql-like terminal on the database in DIR (created if missing). "
        "Without -c or -f it reads statements interactively, or from standard input "
        "when that is not a terminal.",
    )
    shell.add_argument("dir", metavar="DIR", help="data directory, or :memory:")
    shell.add_argument(
        "-d", "--database", default="postgres", help="database name (default: postgres)"
    )
    shell.add_argument("-U", "--user", default="postgres", help="user name (default: postgres)")
    shell.add_argument(
        "-c",
        "--command",
        dest="actions",
        action=_Ordered,
        const="c",
        metavar="SQL",
        help="run one command (SQL or a backslash command) and exit; may be repeated",
    )
    shell.add_argument(
        "-f",
        "--file",
        dest="actions",
        action=_Ordered,
        const="f",
        metavar="FILE",
        help="run the commands in FILE ('-' for standard input) and exit; may be repeated",
    )
    shell.add_argument(
        "--on-error-stop",
        action="store_true",
        help="stop at the first failing statement and exit with status 3 (psql's ON_ERROR_STOP)",
    )
    shell.set_defaults(run=run_shell, actions=None)

    serve = sub.add_parser(
        "serve",
        help="PostgreSQL wire-protocol server on a data directory (foreground)",
        description="Serve the databases in --data over the PostgreSQL protocol until SIGINT "
        "or SIGTERM. Trust authentication is only allowed on loopback addresses.",
    )
    serve.add_argument(
        "--data", default="./sqlvec-data", metavar="DIR",
        help="data directory, created if missing (default: ./sqlvec-data)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=5433, help="TCP port (default: 5433; 0 picks a free one)"
    )
    serve.add_argument(
        "--auth", default="auto",
        choices=("auto", "trust", "password", "md5", "scram-sha-256"),
        help="authentication method (default: auto = SCRAM-SHA-256 for roles with a "
        "password, trust for roles without one on loopback)",
    )
    serve.add_argument(
        "--socket-dir", metavar="DIR",
        help="also listen on the Unix socket DIR/.s.PGSQL.PORT (psql -h DIR -p PORT), "
        "like PostgreSQL's unix_socket_directories",
    )
    serve.add_argument("--tls-cert", metavar="FILE", help="PEM certificate: enables TLS")
    serve.add_argument("--tls-key", metavar="FILE", help="PEM private key of --tls-cert")
    serve.set_defaults(run=run_serve)
    return parser


def run_serve(args: argparse.Namespace) -> int:
    from sqlvec.wire import ServerConfig, run

    config = ServerConfig(
        data_dir=args.data, host=args.host, port=args.port, auth=args.auth,
        tls_cert=args.tls_cert, tls_key=args.tls_key, socket_dir=args.socket_dir,
    )
    return run(config)


def run_shell(args: argparse.Namespace) -> int:
    from sqlvec import __version__
    from sqlvec.session import Database, Session
    from sqlvec.shell import Shell

    path = args.dir
    if path != ":memory:":
        os.makedirs(path, exist_ok=True)
    db = Database.open(None if path == ":memory:" else path)
    try:
        session = Session(db, database=args.database, user=args.user)
        try:
            shell = Shell(session, database=args.database)
            return _run_actions(shell, args, __version__)
        finally:
            session.close()
    finally:
        db.close()


def _run_actions(shell, args: argparse.Namespace, version: str) -> int:
    if args.actions:
        # As psql: every action runs (unless --on-error-stop) and the last one's status wins.
        status = 0
        for kind, value in args.actions:
            if kind == "c":
                status = 0 if shell.run_command(value) else 1
            else:
                status = _run_file(shell, value, args.on_error_stop)
            if status and args.on_error_stop:
                return 3
            if shell.quit:
                break
        return status
    if sys.stdin.isatty():
        banner = f'sqlvec {version} ({args.dir})\nType "\\?" for help.\n\n'
        shell.interact(banner)
        return 0
    # Piped input: like psql, no "file:line:" prefix on errors (that is for -f).
    ok = shell.run_lines(sys.stdin, stop_on_error=args.on_error_stop)
    return 3 if (args.on_error_stop and not ok) else 0


def _run_file(shell, name: str, stop_on_error: bool) -> int:
    if name == "-":
        ok = shell.run_lines(sys.stdin, name="<stdin>", stop_on_error=stop_on_error)
    else:
        try:
            with open(name, encoding="utf-8") as f:
                ok = shell.run_lines(f, name=name, stop_on_error=stop_on_error)
        except OSError as exc:
            print(f"sqlvec: error: {name}: {exc.strerror}", file=sys.stderr)
            return 1
    return 3 if (stop_on_error and not ok) else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sqlvec`` console script and ``python -m sqlvec``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `sqlvec shell ... | head`: stop quietly, as psql does.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
