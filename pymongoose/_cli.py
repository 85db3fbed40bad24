"""Command line of the ASGI and WSGI servers.

``python -m pymongoose.asgi module:app``, ``python -m pymongoose.wsgi
module:app`` and the ``pymongoose`` console script (``pymongoose asgi|wsgi
module:app``; ``pymongoose`` alone or ``pymongoose demo`` runs the demo of
``python -m pymongoose``). Option names follow uvicorn's and granian's.

With ``--workers 1`` the app is served in this process. With more, this
process becomes a supervisor (pymongoose/_supervisor.py) of worker processes
(pymongoose/_worker.py) that share the port with SO_REUSEPORT.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from typing import Any, Callable, Optional, Sequence

from ._manager import LIMITS

SERVERS = ("asgi", "wsgi")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")

# A worker exits with this status when restarting it cannot help: the app
# cannot be loaded, or serve() raised (address in use, lifespan startup
# failed, a bug). Its supervisor then stops instead of restarting it in a
# loop; a worker that dies otherwise (killed, crashed) is restarted.
EXIT_FATAL = 3

# serve()'s keyword defaults, shown by --help. Keywords equal to their
# default are not passed, so a serve() that lacks one still runs every
# command line that does not use it.
SERVE_DEFAULTS: dict[str, Any] = {
    "root_path": "",
    "lifespan": "auto",
    "log_level": "info",
    "ssl_certfile": None,
    "ssl_keyfile": None,
    "reuse_port": False,
    "limits": None,
    "graceful_timeout": 30,
    "workers": 4,  # wsgi: threads running the app
}


class AppLoadError(Exception):
    """The ``module:attribute`` string names no usable application."""


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = "int"
    return parse


def _port(text: str) -> int:
    value = _count(0)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be <= 65535, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def build_parser(server: str, prog: str) -> argparse.ArgumentParser:
    """The option parser of ``server`` ("asgi" or "wsgi")."""
    kind = server.upper()
    parser = argparse.ArgumentParser(
        prog=prog,
        description=f"Serve the {kind} application APP with pymongoose's Go engine until SIGINT/SIGTERM.",
    )
    parser.add_argument("app", metavar="APP",
                        help=f"the {kind} application as module:attribute, e.g. main:app")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=_port, default=8000,
                        help="port to listen on; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--workers", type=_count(1), default=1,
                        help="worker processes sharing the port with SO_REUSEPORT; 1 serves in this "
                             "process (default: %(default)s)")
    if server == "wsgi":
        parser.add_argument("--threads", type=_count(0), default=SERVE_DEFAULTS["workers"],
                            help="threads running the app in each process; 0 runs it on the poll "
                                 "thread, for apps that never block (default: %(default)s)")
    parser.add_argument("--factory", action="store_true",
                        help="APP is a callable taking no arguments that returns the application")
    parser.add_argument("--app-dir", default=".",
                        help="directory put first on sys.path before importing APP (default: %(default)s)")
    parser.add_argument("--root-path", default=SERVE_DEFAULTS["root_path"],
                        help="the path prefix the app is mounted under, behind a proxy (default: none)")
    if server == "asgi":
        parser.add_argument("--lifespan", choices=("auto", "on", "off"), default=SERVE_DEFAULTS["lifespan"],
                            help="ASGI lifespan protocol: auto runs it if the app supports it "
                                 "(default: %(default)s)")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default=SERVE_DEFAULTS["log_level"],
                        help="(default: %(default)s)")
    parser.add_argument("--ssl-certfile", default=None, help="TLS certificate (PEM); serves https://")
    parser.add_argument("--ssl-keyfile", default=None, help="TLS private key (PEM) of --ssl-certfile")
    parser.add_argument("--timeout-graceful-shutdown", type=_seconds, default=SERVE_DEFAULTS["graceful_timeout"],
                        metavar="SECONDS",
                        help="on SIGINT/SIGTERM, how long in-flight requests may take to finish "
                             "(default: %(default)s)")
    limits = parser.add_argument_group("limits", "per-connection limits of Manager() (default: its own)")
    for name, default in LIMITS:
        limits.add_argument("--" + name.replace("_", "-"), type=_count(0), default=None, metavar="N",
                            help=f"(default: {default})")
    return parser


def parse_args(server: str, argv: Optional[Sequence[str]], prog: str) -> argparse.Namespace:
    """Parse and check the command line; exits with status 2 on a usage error."""
    parser = build_parser(server, prog)
    args = parser.parse_args(argv)
    module, _, attribute = args.app.partition(":")
    if not module or not attribute:
        parser.error(f'APP {args.app!r} must be in format "<module>:<attribute>"')
    if (args.ssl_certfile is None) != (args.ssl_keyfile is None):
        parser.error("--ssl-certfile and --ssl-keyfile go together")
    for option in ("ssl_certfile", "ssl_keyfile"):
        path = getattr(args, option)
        if path is not None and not os.path.isfile(path):
            parser.error(f"--{option.replace('_', '-')} {path!r}: no such file")
    if not os.path.isdir(args.app_dir):
        parser.error(f"--app-dir {args.app_dir!r} is not a directory")
    return args


def load_app(spec: str, app_dir: str, factory: bool) -> Any:
    """Import ``module:attribute`` (attribute may be dotted) with ``app_dir``
    first on sys.path, as uvicorn does. Raises AppLoadError for a name that
    does not resolve; an exception raised by the module itself propagates."""
    module_name, _, attrs = spec.partition(":")
    if not module_name or not attrs:
        raise AppLoadError(f'Import string "{spec}" must be in format "<module>:<attribute>".')
    path = os.path.abspath(app_dir)
    if path not in sys.path:
        sys.path.insert(0, path)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing != module_name and not module_name.startswith(missing + "."):
            raise  # a module the app imports is missing: the traceback says where
        raise AppLoadError(f'Could not import module "{module_name}".') from None
    app: Any = module
    for attr in attrs.split("."):
        try:
            app = getattr(app, attr)
        except AttributeError:
            raise AppLoadError(f'Attribute "{attrs}" not found in module "{module_name}".') from None
    if factory:
        if not callable(app):
            raise AppLoadError(f'"{spec}" is not callable, so it cannot be an app factory (--factory).')
        app = app()
    if not callable(app):
        raise AppLoadError(f'"{spec}" is not a callable application'
                           + (" (did you mean --factory?)" if not factory else "") + ".")
    return app


def config_of(server: str, args: argparse.Namespace) -> dict:
    """Everything a process needs to serve, as JSON-compatible values."""
    return {"server": server, **vars(args)}


def url_of(config: dict) -> str:
    """The URL serve() listens on: https:// when TLS files are given."""
    host = config["host"]
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    scheme = "https" if config["ssl_certfile"] else "http"
    return f"{scheme}://{host}:{config['port']}"


def serve_kwargs(config: dict, reuse_port: bool) -> dict:
    """serve()'s keywords for ``config``, leaving out those equal to their default."""
    limits = {name: config[name] for name, _ in LIMITS if config.get(name) is not None}
    wanted = {
        "root_path": config["root_path"],
        "log_level": config["log_level"],
        "ssl_certfile": _abspath(config["ssl_certfile"]),
        "ssl_keyfile": _abspath(config["ssl_keyfile"]),
        "reuse_port": reuse_port,
        "limits": limits or None,
        "graceful_timeout": config["timeout_graceful_shutdown"],
    }
    if config["server"] == "asgi":
        wanted["lifespan"] = config["lifespan"]
    else:
        wanted["workers"] = config["threads"]
    return {k: v for k, v in wanted.items() if v != SERVE_DEFAULTS[k]}


def _abspath(path: Optional[str]) -> Optional[str]:
    return None if path is None else os.path.abspath(path)


def error(message: str) -> None:
    """One error line on stderr."""
    print(f"pymongoose: error: {message}", file=sys.stderr, flush=True)


def serve_config(config: dict, reuse_port: bool) -> int:
    """Load the app of ``config`` and serve it in this process until
    SIGINT/SIGTERM. Returns 0 after a graceful stop, 1 when the app cannot
    be loaded or served (a worker turns that into EXIT_FATAL)."""
    try:
        app = load_app(config["app"], config["app_dir"], config["factory"])
    except AppLoadError as exc:
        error(f"Error loading {config['server'].upper()} app. {exc}")
        return 1
    except Exception:  # raised by the app's own module or factory
        traceback.print_exc()
        error(f"Error loading {config['server'].upper()} app {config['app']!r} (traceback above).")
        return 1
    serve: Callable[..., None]  # the asgi and wsgi serve() differ in their options
    if config["server"] == "asgi":
        from .asgi import serve
    else:
        from .wsgi import serve
    try:
        serve(app, url_of(config), **serve_kwargs(config, reuse_port))
    except KeyboardInterrupt:  # a serve() that leaves SIGINT to Python
        pass
    except (RuntimeError, ValueError) as exc:  # address in use, lifespan startup failed, bad value, ...
        error(str(exc))
        return 1
    except Exception:  # a bug, not a user error: the traceback is for a report
        traceback.print_exc()
        return 1
    return 0


def run(server: str, argv: Optional[Sequence[str]], prog: str) -> int:
    """Parse ``argv`` and serve: in this process, or with --workers N > 1
    under a supervisor of N worker processes."""
    args = parse_args(server, argv, prog)
    config = config_of(server, args)
    if args.workers == 1:
        return serve_config(config, reuse_port=False)
    from ._supervisor import supervise

    return supervise(config)


def main_asgi(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m pymongoose.asgi``."""
    return run("asgi", argv, "python -m pymongoose.asgi")


def main_wsgi(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m pymongoose.wsgi``."""
    return run("wsgi", argv, "python -m pymongoose.wsgi")


USAGE = """\
usage: pymongoose [asgi|wsgi|demo] ...

  pymongoose asgi APP [options]   serve an ASGI app (module:attribute)
  pymongoose wsgi APP [options]   serve a WSGI app (module:attribute)
  pymongoose [demo] [options]     the demo server (python -m pymongoose)

`pymongoose asgi --help` lists the options of a command.
"""


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The ``pymongoose`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else ""
    if command in SERVERS:
        return run(command, args[1:], f"pymongoose {command}")
    if command in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    if command == "--version":
        from . import __version__

        print(f"pymongoose {__version__}")
        return 0
    if command == "demo":
        args = args[1:]
    elif command and not command.startswith("-"):
        print(USAGE, end="", file=sys.stderr)
        error(f"unknown command {command!r} (choose from asgi, wsgi, demo)")
        return 2
    from .__main__ import main as demo

    return demo(args)
