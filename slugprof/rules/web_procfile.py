"""WEB6xx: the processes the Procfile starts, read from the committed files alone: a development server
as the web process, a web process that does not listen on $PORT on every interface, worker counts that
do not follow the dyno, and Celery workers sized to cores the dyno does not have (heroku-facts 4, 5, 9.3).

Each Procfile command is read as a Launch (`slugprof.sources.launch`): the server is the last command of
the line (what runs after `cd app &&` or `python manage.py migrate &&`), past `VAR=value` assignments,
`exec` and the wrappers that exec what they are given. Python files the command names (the script, a
gunicorn config) are read with `ast`, never run. A command or a value that cannot be read for certain is
left alone: a finding here is something the dyno will do.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

from slugprof import heroku
from slugprof.model import Edit, Fix, Location, Severity
from slugprof.rules.registry import Hit, Needs, RuleInputs, rule
from slugprof.sources.buildfiles import BuildFiles
from slugprof.sources.gunicorn_config import config_file
from slugprof.sources.launch import Launch, Option, ProcfileLaunch, flag_indexes, launch_of_line, options
from slugprof.sources.procfile import declared_lines
from slugprof.sources.worker_count import celery_worker

PROCFILE = "Procfile"
_PORT_VARIABLE = re.compile(r"\$PORT|\$\{PORT(?::?[-=?+][^}]*)?\}")
_EVERY_INTERFACE = {"0.0.0.0", "", "::", "[::]", "*"}
# What `.run(...)` on a Flask object starts: Werkzeug's development server, on 127.0.0.1:5000 unless
# told otherwise (Flask 3.1 `Flask.run`).
_FLASK_CLASS = "Flask"
# Cores the dynos report and what the buildpack sets WEB_CONCURRENCY to there (heroku-facts 4.1, 4.4).
_DEFAULT_PLAN = next(plan for plan in heroku.DYNO_PLANS if plan.name == heroku.DEFAULT_DYNO)
_CORE_COUNT_CALLS = {"cpu_count", "sched_getaffinity", "process_cpu_count"}
# Celery pools that run one process, or threads or green threads in one: the core count is no memory risk.


# --- the Procfile's commands --------------------------------------------------------------------------


def launches(files: BuildFiles) -> list[ProcfileLaunch]:
    """The program each process type of the Procfile runs, for the lines this module can read."""
    data = files.read_bytes(PROCFILE)
    if data is None:
        return []
    found = []
    for line in declared_lines(data).values():
        launch = launch_of_line(line)
        if launch is not None:
            found.append(launch)
    return found


# --- rewriting a command -------------------------------------------------------------------------------


def arg_words(launch: Launch, arg_indexes: Collection[int]) -> set[int]:
    """The indexes in `launch.words` of the argument words at `arg_indexes`."""
    first_arg = len(launch.words) - len(launch.args)
    return {first_arg + index for index in arg_indexes}


def rewritten(
    launch: ProcfileLaunch, drop: Collection[int] = (), insert: str = "", after: int | None = None
) -> str:
    """The Procfile line with the words at `drop` (indexes in `launch.words`) removed and `insert` put
    right after the word at `after`: by default the server's own words (`gunicorn`, `python -m
    uvicorn`), where every server's parser reads options."""
    text = launch.command
    if after is None:
        after = len(launch.words) - len(launch.args) - 1
    pieces: list[str] = []
    cursor = 0
    for index, word in enumerate(launch.words):
        if index in drop:
            pieces.append(text[cursor : word.start].rstrip(" \t"))
            cursor = word.end
        if index == after:
            pieces.append(text[cursor : word.end] + (" " + insert if insert else ""))
            cursor = word.end
    pieces.append(text[cursor:])
    return launch.line.prefix + "".join(pieces).lstrip()


def replaced(launch: ProcfileLaunch, command: str) -> str:
    """The Procfile line with its last command (assignments included) replaced by `command`."""
    text = launch.command
    return launch.line.prefix + text[: launch.words[0].start] + command + text[launch.words[-1].end :]


def procfile_fix(launch: ProcfileLaunch, summary: str, new_line: str) -> Fix:
    return Fix(summary=summary, edits=(Edit(path=PROCFILE, old=launch.line.text, new=new_line),))


def at(launch: ProcfileLaunch) -> Location:
    return Location(path=PROCFILE, line=launch.line.number)


# --- reading Python files without running them -------------------------------------------------------


def parsed(files: BuildFiles, path: str) -> ast.Module | None:
    text = files.read_text(path)
    if text is None:
        return None
    try:
        return ast.parse(text, filename=path)
    except (SyntaxError, ValueError):
        return None


def top_level_assignments(tree: ast.Module, name: str) -> list[ast.Assign | ast.AnnAssign]:
    """The module-level statements that set `name` (`bind = ...`, `bind: list[str] = ...`)."""
    return [node for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign)) and _sets(node, name)]


def _sets(node: ast.Assign | ast.AnnAssign, name: str) -> bool:
    if isinstance(node, ast.Assign):
        return any(isinstance(target, ast.Name) and target.id == name for target in node.targets)
    return isinstance(node.target, ast.Name) and node.target.id == name and node.value is not None


def called_name(node: ast.AST) -> str:
    """The name a call calls: `cpu_count` for `multiprocessing.cpu_count()`; '' for anything else."""
    if not isinstance(node, ast.Call):
        return ""
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return ""


def mentions_variable(node: ast.AST, variable: str) -> bool:
    """Whether the expression names the environment variable (a string constant `variable`)."""
    return any(isinstance(each, ast.Constant) and each.value == variable for each in ast.walk(node))


def source_lines(text: str, node: ast.stmt) -> str:
    """The lines a statement spans, as written, with their line break."""
    lines = text.splitlines(keepends=True)
    end = node.end_lineno or node.lineno
    return "".join(lines[node.lineno - 1 : end])


def imports_os(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.Import)
        and any(alias.name == "os" and alias.asname is None for alias in node.names)
        for node in tree.body
    )


# --- where a server listens ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    """Where a server listens, as written: `None` parts could not be read for certain."""

    host: str
    port: str
    written: str  # as the command or the config has it, for the evidence

    def problem(self) -> str | None:
        """Why the router cannot reach it ('' when it can, None when it cannot be told)."""
        port_ok = _PORT_VARIABLE.fullmatch(self.port) is not None
        if (not port_ok and not self.port.isdigit()) or "$" in self.host or "{" in self.host:
            return None
        reasons = []
        if self.host not in _EVERY_INTERFACE:
            loopback = self.host in ("localhost", "::1", "[::1]") or self.host.startswith("127.")
            reasons.append(
                f"host {self.host} accepts connections from the dyno itself only"
                if loopback
                else f"host {self.host} is one address, not every interface (0.0.0.0)"
            )
        if not port_ok:
            reasons.append(f"port {self.port} is fixed, and the router connects to the port in $PORT")
        return "; ".join(reasons)


def socket_address(written: str, default_port: str = "8000") -> Address | None:
    """A bind address as gunicorn and hypercorn read it (gunicorn 27.0.1 `util.parse_address`): `HOST`,
    `HOST:PORT`, `[IPV6]:PORT`; None for a unix socket or a file descriptor (a proxy in front, like the
    nginx buildpack's, listens on $PORT then)."""
    if written.startswith(("unix:", "fd://")):
        return None
    netloc = written.removeprefix("tcp://")
    if "[" in netloc and "]" in netloc:
        host = netloc.split("]")[0] + "]"
        port = [*netloc.split("]:"), default_port][1]
        return Address(host, port, written)
    if ":" in netloc:
        host, port = netloc.split(":", 1)
        return Address(host, port, written)
    return Address(netloc or "0.0.0.0", default_port, written)


def _state(addresses: Sequence[Address | None]) -> list[str] | None:
    """The problems when every address is unreachable (one line each); None when one is fine, or one
    cannot be told."""
    problems = []
    for address in addresses:
        problem = None if address is None else address.problem()
        if not problem:
            return None
        problems.append(f"`{address.written}` ({problem})" if address else problem)
    return problems or None


def config_texts(node: ast.expr) -> list[str | None]:
    """A config value as the strings it gives, `$PORT` standing for a read of the PORT variable; None
    for a string that cannot be told without running the file."""
    if isinstance(node, (ast.List, ast.Tuple)):
        return [config_text(element) for element in node.elts]
    return [config_text(node)]


def config_text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        parts = [
            config_text(value.value if isinstance(value, ast.FormattedValue) else value)
            for value in node.values
        ]
        return None if None in parts else "".join(part or "" for part in parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = config_text(node.left), config_text(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, (ast.Call, ast.Subscript)) and mentions_variable(node, "PORT"):
        return "$PORT"  # os.environ["PORT"], os.environ.get("PORT", "5000"), str(os.getenv("PORT"))
    return None


@dataclass(frozen=True)
class GunicornConfigFile:
    path: str
    text: str
    tree: ast.Module

    def last(self, name: str) -> ast.Assign | ast.AnnAssign | None:
        found = top_level_assignments(self.tree, name)
        return found[-1] if found else None


def gunicorn_config(launch: Launch, files: BuildFiles) -> GunicornConfigFile | None:
    """The config file gunicorn reads (`-c FILE`, else ./gunicorn.conf.py), parsed; None for a `python:`
    module, or when there is none."""
    path = config_file(launch)
    if path is None:
        return None
    text = files.read_text(path)
    tree = parsed(files, path)
    return None if text is None or tree is None else GunicornConfigFile(path, text, tree)


@dataclass(frozen=True)
class BindChange:
    """A server that will not listen on $PORT on every interface, and the change that makes it."""

    evidence: tuple[str, ...]
    drop: frozenset[int] = frozenset()  # words of the command to remove
    insert: str = ""  # options to add after the server's words
    config_edit: Edit | None = None  # or: the config file's line to change

    def fix(self, launch: ProcfileLaunch) -> Fix:
        if self.config_edit is not None:
            return Fix(
                summary=f"remove the bind line from {self.config_edit.path}: gunicorn then binds "
                "0.0.0.0:$PORT by itself on the dyno",
                edits=(self.config_edit,),
            )
        return procfile_fix(
            launch,
            f"listen on every interface, on $PORT: `{self.insert}`",
            rewritten(launch, self.drop, self.insert),
        )


def _bind_words(launch: ProcfileLaunch, found: Sequence[Option]) -> frozenset[int]:
    return frozenset(arg_words(launch, [index for option in found for index in option.indexes]))


def _gunicorn_bind(launch: ProcfileLaunch, files: BuildFiles) -> BindChange | None:
    given = options(launch.values, ("-b", "--bind"))
    if given:
        problems = _state([socket_address(option.value) for option in given])
        if problems is None:
            return None
        return BindChange(
            tuple(f"gunicorn binds {problem}" for problem in problems),
            drop=_bind_words(launch, given),
            insert="--bind 0.0.0.0:$PORT",
        )
    config = gunicorn_config(launch, files)
    node = config.last("bind") if config else None
    if config is None or node is None or node.value is None:
        return None  # gunicorn's own default: 0.0.0.0:$PORT when PORT is set (gunicorn 27.0.1 `Bind`)
    texts = config_texts(node.value)
    problems = _state([None if text is None else socket_address(text) for text in texts])
    if problems is None:
        return None
    return BindChange(
        tuple(f"{config.path}:{node.lineno} binds {problem}" for problem in problems),
        config_edit=Edit(path=config.path, old=source_lines(config.text, node), new=""),
    )


def _defaults_said(server: str, given: Sequence[Sequence[Option]], defaults: str) -> list[str]:
    """An evidence line naming the server's defaults when the command leaves one to them."""
    return [f"{server}'s defaults: {defaults}"] if not all(given) else []


def _uvicorn_bind(launch: ProcfileLaunch, files: BuildFiles) -> BindChange | None:
    if options(launch.values, ("--uds", "--fd")):
        return None
    hosts, ports = options(launch.values, ("--host",)), options(launch.values, ("--port",))
    # uvicorn's defaults: --host 127.0.0.1, --port 8000 (uvicorn/main.py); UVICORN_* variables set them.
    host = hosts[-1].value if hosts else launch.assigned.get("UVICORN_HOST", "127.0.0.1")
    port = ports[-1].value if ports else launch.assigned.get("UVICORN_PORT", "8000")
    problems = _state([Address(host, port, f"{host}:{port}")])
    if problems is None:
        return None
    shown = [f"uvicorn listens on {problem}" for problem in problems]
    shown += _defaults_said("uvicorn", (hosts, ports), "--host 127.0.0.1 --port 8000 (uvicorn/main.py)")
    return BindChange(tuple(shown), _bind_words(launch, hosts + ports), "--host 0.0.0.0 --port $PORT")


def _hypercorn_bind(launch: ProcfileLaunch, files: BuildFiles) -> BindChange | None:
    given = options(launch.values, ("-b", "--bind"))
    if not given and options(launch.values, ("-c", "--config")):
        return None  # a config file may bind: not read here
    addresses = [socket_address(option.value) for option in given] or [
        Address("127.0.0.1", "8000", "127.0.0.1:8000")
    ]
    problems = _state(addresses)
    if problems is None:
        return None
    shown = [f"hypercorn binds {problem}" for problem in problems]
    shown += _defaults_said("hypercorn", (given,), "--bind 127.0.0.1:8000 (hypercorn/config.py)")
    return BindChange(
        tuple(shown),
        _bind_words(launch, given),
        "--bind 0.0.0.0:$PORT",
    )


def _daphne_bind(launch: ProcfileLaunch, files: BuildFiles) -> BindChange | None:
    if options(launch.values, ("-e", "--endpoint", "-u", "--unix-socket", "--fd")):
        return None
    hosts, ports = options(launch.values, ("-b", "--bind")), options(launch.values, ("-p", "--port"))
    host = hosts[-1].value if hosts else "127.0.0.1"  # daphne's defaults: 127.0.0.1, port 8000
    port = ports[-1].value if ports else "8000"
    problems = _state([Address(host, port, f"{host}:{port}")])
    if problems is None:
        return None
    shown = [f"daphne listens on {problem}" for problem in problems]
    shown += _defaults_said("daphne", (hosts, ports), "-b 127.0.0.1 -p 8000 (daphne/cli.py)")
    return BindChange(
        tuple(shown),
        _bind_words(launch, hosts + ports),
        "-b 0.0.0.0 -p $PORT",
    )


def _waitress_bind(launch: ProcfileLaunch, files: BuildFiles) -> BindChange | None:
    if options(launch.values, ("--unix-socket",)):
        return None
    listens = options(launch.values, ("--listen",))
    hosts, ports = options(launch.values, ("--host",)), options(launch.values, ("--port",))
    if listens:
        addresses = [socket_address(option.value, "8080") for option in listens]
    else:  # waitress's defaults: host 0.0.0.0, port 8080 (waitress `Adjustments`)
        host = hosts[-1].value if hosts else "0.0.0.0"
        port = ports[-1].value if ports else "8080"
        addresses = [Address(host, port, f"{host}:{port}")]
    problems = _state(addresses)
    if problems is None:
        return None
    shown = [f"waitress listens on {problem}" for problem in problems]
    if not listens:
        shown += _defaults_said(
            "waitress", (hosts, ports), "--host 0.0.0.0 --port 8080 (waitress/adjustments.py)"
        )
    return BindChange(
        tuple(shown),
        _bind_words(launch, listens + hosts + ports),
        "--port=$PORT",
    )


_BIND_CHECKS = {
    "gunicorn": _gunicorn_bind,
    "uvicorn": _uvicorn_bind,
    "hypercorn": _hypercorn_bind,
    "daphne": _daphne_bind,
    "waitress": _waitress_bind,
}


def bind_change(launch: ProcfileLaunch, files: BuildFiles) -> BindChange | None:
    check = _BIND_CHECKS.get(launch.server)
    return check(launch, files) if check else None


# --- development servers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DevServer:
    evidence: tuple[str, ...]
    summary: str
    new_line: str


def flask_objects(tree: ast.Module) -> list[str]:
    """The names bound to a Flask app: `app = Flask(__name__)`."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and called_name(node.value) == _FLASK_CLASS:
            names += [target.id for target in node.targets if isinstance(target, ast.Name)]
    return names


def flask_target(files: BuildFiles, path: str, module: str) -> str:
    """The gunicorn target of the Flask app in `path`: `module:app`, or `module:create_app()`."""
    tree = parsed(files, path)
    if tree is not None:
        names = flask_objects(tree)
        if names:
            return f"{module}:{names[0]}"
        factories = [
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name in ("create_app", "make_app")
        ]
        if factories:
            return f"{module}:{factories[0]}()"
    return f"{module}:app"


def _module_of(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def _flask_app_given(launch: ProcfileLaunch) -> str | None:
    given = options(launch.values, ("--app", "-A"))
    return given[-1].value if given else launch.assigned.get("FLASK_APP")


def _flask_run_target(launch: ProcfileLaunch, files: BuildFiles) -> str:
    """What `flask run` serves, as a gunicorn target (Flask's discovery: --app or FLASK_APP, else
    wsgi.py, else app.py)."""
    given = _flask_app_given(launch)
    if given and "$" not in given:
        module, _, obj = given.partition(":")
        path = module if module.endswith(".py") else module.replace(".", "/") + ".py"
        if obj:
            return f"{_module_of(path)}:{obj}"
        return flask_target(files, launch.in_folder(path), _module_of(path))
    for name in ("wsgi.py", "app.py"):
        if files.exists(launch.in_folder(name)):
            return flask_target(files, launch.in_folder(name), _module_of(name))
    return "app:app"


def _flask_run(launch: ProcfileLaunch, files: BuildFiles) -> DevServer | None:
    if launch.server != "flask" or "run" not in launch.values:
        return None
    target = _flask_run_target(launch, files)
    return DevServer(
        (
            "`flask run` starts Werkzeug's development server, which Flask's documentation says not to "
            "use in production: one process, no worker management",
        ),
        f"serve the app with gunicorn (with gunicorn among the requirements): `gunicorn {target}`",
        replaced(launch, f"gunicorn {target}"),
    )


def _django_wsgi(launch: ProcfileLaunch, files: BuildFiles) -> str:
    """The project's WSGI module for gunicorn: from DJANGO_SETTINGS_MODULE in manage.py, else the
    shallowest wsgi.py."""
    tree = parsed(files, launch.in_folder(launch.script or "manage.py"))
    for node in ast.walk(tree) if tree else ():
        if called_name(node) == "setdefault" and mentions_variable(node, "DJANGO_SETTINGS_MODULE"):
            arguments = node.args if isinstance(node, ast.Call) else []
            settings = config_text(arguments[1]) if len(arguments) > 1 else None
            if settings and files.exists(launch.in_folder(settings.split(".")[0] + "/wsgi.py")):
                return settings.split(".")[0] + ".wsgi"
    prefix = launch.folder + "/" if launch.folder else ""
    found = [path[len(prefix) :] for path in files.paths_named("wsgi.py") if path.startswith(prefix)]
    return _module_of(found[0]) if found else "myproject.wsgi"


def _django_runserver(launch: ProcfileLaunch, files: BuildFiles) -> DevServer | None:
    if launch.server != "django" or "runserver" not in launch.values:
        return None
    target = _django_wsgi(launch, files)
    return DevServer(
        (
            "`runserver` is Django's development server; Django's documentation: it has not gone through "
            "security audits or performance tests, do not use it in production",
        ),
        f"serve the project with gunicorn (with gunicorn among the requirements): `gunicorn {target}`",
        replaced(launch, f"gunicorn {target}"),
    )


_RELOAD_OPTIONS = (
    "--reload-dir",
    "--reload-include",
    "--reload-exclude",
    "--reload-delay",
    "--reload-engine",
    "--reload-extra-file",
)


def _reloader(launch: ProcfileLaunch, files: BuildFiles) -> DevServer | None:
    if launch.server not in ("gunicorn", "uvicorn", "hypercorn") or "--reload" not in launch.values:
        return None
    reload_words = arg_words(launch, flag_indexes(launch.values, ("--reload",)))
    reload_words |= _bind_words(launch, options(launch.values, _RELOAD_OPTIONS))
    evidence = [
        f"`{launch.server} --reload` watches the app's files and restarts on a change: a development "
        "option that costs a watcher on the dyno and restarts the server mid-request"
    ]
    binding = bind_change(launch, files)
    drop, insert = set(reload_words), ""
    if binding is not None and binding.config_edit is None:
        evidence += binding.evidence
        drop |= binding.drop
        insert = binding.insert
    return DevServer(
        tuple(evidence),
        "run it without the reloader" + (f", on $PORT: `{insert}`" if insert else ""),
        rewritten(launch, drop, insert),
    )


def _flask_script(launch: ProcfileLaunch, files: BuildFiles) -> DevServer | None:
    """`python app.py`, where app.py calls `app.run(...)` on a Flask app."""
    if launch.server != "script" or launch.script is None:
        return None
    path = launch.in_folder(launch.script)
    tree = parsed(files, path)
    names = flask_objects(tree) if tree else []
    calls = [
        node
        for node in (ast.walk(tree) if tree else ())
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "run"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in names
    ]
    if not calls:
        return None
    call = calls[0]
    shown = f"{path}:{call.lineno}"
    evidence = [
        f"{shown} calls {ast.unparse(call)}: Flask's development server (Werkzeug), on "
        "127.0.0.1:5000 unless host and port are given"
    ]
    if any(
        k.arg == "debug" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in call.keywords
    ):
        evidence.append(
            f"{shown} passes debug=True: the Werkzeug debugger runs on the dyno, and its error pages let "
            "whoever sees them run Python code in the app"
        )
    target = flask_target(files, path, _module_of(launch.script))
    return DevServer(
        tuple(evidence),
        f"serve the app with gunicorn (with gunicorn among the requirements): `gunicorn {target}`",
        replaced(launch, f"gunicorn {target}"),
    )


def debug_variables(launch: ProcfileLaunch) -> list[tuple[str, str]]:
    """(variable, evidence) for FLASK_DEBUG or FLASK_ENV set for development in the command."""
    found = []
    debug = launch.assigned.get("FLASK_DEBUG", "")
    if debug.lower() in ("1", "true", "yes", "on"):
        found.append(
            (
                "FLASK_DEBUG",
                f"FLASK_DEBUG={debug} in the command turns on Flask's debug mode: Flask reads it when the "
                "app is made (Flask 3.1 `make_config`)",
            )
        )
    if launch.assigned.get("FLASK_ENV", "").lower() == "development":
        found.append(
            (
                "FLASK_ENV",
                "FLASK_ENV=development in the command: Flask before 2.3 turned debug mode on from it (2.3 "
                "removed it): a development setting",
            )
        )
    return found


def _debug_only(launch: ProcfileLaunch) -> DevServer | None:
    found = debug_variables(launch)
    if not found:
        return None
    names = {name for name, _ in found}
    drop = {
        index
        for index, word in enumerate(launch.words[: launch.program])
        if word.value.partition("=")[0] in names
    }
    return DevServer(
        tuple(evidence for _, evidence in found),
        f"remove {' and '.join(sorted(names))} from the command",
        rewritten(launch, drop) if drop else launch.line.text,
    )


def dev_server(launch: ProcfileLaunch, files: BuildFiles) -> DevServer | None:
    """What makes this line a development server, and the production command."""
    for check in (_flask_run, _django_runserver, _reloader, _flask_script):
        found = check(launch, files)
        if found is not None:
            extra = tuple(evidence for _, evidence in debug_variables(launch))
            return DevServer(found.evidence + extra, found.summary, found.new_line)
    return _debug_only(launch)


def _web(files: BuildFiles) -> ProcfileLaunch | None:
    return next(
        (launch for launch in launches(files) if launch.line.process.name == heroku.WEB_PROCESS), None
    )


@rule(
    "WEB600",
    "development-server",
    Severity.ERROR,
    summary="The web process is a development server: `flask run`, `manage.py runserver`, a `--reload`, "
    "`python app.py` running `app.run(...)`, FLASK_DEBUG or FLASK_ENV=development in the command.",
    why="Development servers run one process without worker management, restart on file changes, and "
    "with debug on show tracebacks (Werkzeug's debugger runs code from its error page). Heroku routes "
    "production traffic to whatever the web process is.",
    fix="Serve the app with a production server: gunicorn for Flask and Django (WSGI), gunicorn with "
    "uvicorn workers or `uvicorn --host 0.0.0.0 --port $PORT` for ASGI.",
    source="heroku-facts 5 (the web process, Heroku's gunicorn config); Flask 3.1 `Flask.run`, `make_config`",
    needs=Needs.FILES,
)
def development_server(inputs: RuleInputs) -> Iterator[Hit]:
    launch = _web(inputs.files)
    found = dev_server(launch, inputs.files) if launch else None
    if launch is None or found is None:
        return
    yield Hit(
        title=f"the web process is a development server: {launch.names()}",
        evidence=found.evidence,
        location=at(launch),
        fix=procfile_fix(launch, found.summary, found.new_line),
    )


@rule(
    "WEB610",
    "web-process-not-on-port",
    Severity.ERROR,
    summary="The web process will not listen on $PORT on every interface: a fixed port, 127.0.0.1 or "
    "localhost, uvicorn, hypercorn, daphne or waitress without the port from $PORT, a gunicorn config "
    "that binds elsewhere.",
    why="Heroku's router connects to the port in $PORT on 0.0.0.0; a web process that has not bound it "
    "60 seconds after launch is stopped with R10 (Boot timeout), and the dyno crashes. gunicorn binds "
    "0.0.0.0:$PORT by itself when PORT is set and nothing else is given; uvicorn and hypercorn default to "
    "127.0.0.1:8000, daphne to 127.0.0.1:8000, waitress to port 8080.",
    fix="Bind 0.0.0.0:$PORT: `gunicorn app:app` (no bind), `uvicorn main:app --host 0.0.0.0 --port $PORT`.",
    source="heroku-facts 5 (R10, PORT binding); gunicorn 27.0.1 gunicorn/config.py `Bind`; "
    "uvicorn/main.py; daphne/cli.py; waitress/adjustments.py",
    needs=Needs.FILES,
)
def not_on_port(inputs: RuleInputs) -> Iterator[Hit]:
    launch = _web(inputs.files)
    if launch is None or dev_server(launch, inputs.files) is not None:
        return  # WEB600's fix replaces a development server's command, binding included
    change = bind_change(launch, inputs.files)
    if change is None:
        return
    yield Hit(
        title=f"the web process will not listen on $PORT on every interface: {launch.names()}; Heroku "
        f"stops it with R10 after {heroku.R10_BOOT_TIMEOUT_SECONDS:.0f} s",
        evidence=change.evidence,
        location=at(launch),
        fix=change.fix(launch),
    )


# --- worker counts ------------------------------------------------------------------------------------

_WEB_CONCURRENCY_LINE = 'workers = int(os.environ.get("WEB_CONCURRENCY", 1))\n'


def _plans_shown() -> str:
    """What the buildpack's WEB_CONCURRENCY is on the first dyno sizes (heroku-facts 4.4)."""
    plans = [plan for plan in heroku.DYNO_PLANS if plan.name.startswith(("standard-", "performance-"))][:4]
    return ", ".join(f"{plan.web_concurrency} on {plan.name}" for plan in plans)


def _cores_shown() -> str:
    plan = _DEFAULT_PLAN
    return (
        f"a {plan.name} dyno reports {plan.cores} cores for its {plan.memory_mib} MiB (nproc, "
        f"heroku-facts 4.1), where the buildpack's WEB_CONCURRENCY is {plan.web_concurrency}"
    )


def _count_kind(value: str) -> str:
    """'fixed', 'cores' (a count from the core count) or '' (read from the environment, or unknown)."""
    if value.isdigit():
        return "fixed"
    if "nproc" in value or "cpu_count" in value:
        return "cores"
    return ""


def _config_count_kind(node: ast.expr) -> str:
    if mentions_variable(node, "WEB_CONCURRENCY"):
        return ""
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return "fixed"
    if any(called_name(each) in _CORE_COUNT_CALLS for each in ast.walk(node)):
        return "cores"
    return ""


@dataclass(frozen=True)
class WorkerCount:
    evidence: tuple[str, ...]
    fix: Fix


def _count_evidence(kind: str, written: str) -> tuple[str, ...]:
    if kind == "fixed":
        return (
            f"{written}: the same count on every dyno size, and WEB_CONCURRENCY is ignored",
            f"the buildpack sets WEB_CONCURRENCY by the dyno's memory and cores: {_plans_shown()} "
            "(heroku-facts 4.4)",
        )
    return (
        f"{written}: a count from the core count, and WEB_CONCURRENCY is ignored",
        _cores_shown(),
    )


def _cli_workers(launch: ProcfileLaunch) -> WorkerCount | None:
    names = ("-w", "--workers") if launch.server == "gunicorn" else ("--workers",)
    given = options(launch.values, names)
    kind = _count_kind(given[-1].value) if given else ""
    if not kind:
        return None
    written = " ".join(launch.args[i].value for i in given[-1].indexes)
    fix = procfile_fix(
        launch,
        f"drop `{written}` and let WEB_CONCURRENCY decide ({launch.server} reads it when no count is given)",
        rewritten(launch, _bind_words(launch, given)),
    )
    return WorkerCount(_count_evidence(kind, f"`{written}`"), fix)


def _config_workers(launch: ProcfileLaunch, files: BuildFiles) -> WorkerCount | None:
    config = gunicorn_config(launch, files)
    node = config.last("workers") if config else None
    if config is None or node is None or node.value is None:
        return None
    kind = _config_count_kind(node.value)
    if not kind:
        return None
    old = source_lines(config.text, node)
    new = ("" if imports_os(config.tree) else "import os\n\n") + _WEB_CONCURRENCY_LINE
    fix = Fix(
        summary=f"read the count from WEB_CONCURRENCY in {config.path}",
        edits=(Edit(path=config.path, old=old, new=new),),
    )
    return WorkerCount(_count_evidence(kind, f"{config.path}:{node.lineno} sets `{old.strip()}`"), fix)


def worker_count(launch: ProcfileLaunch, files: BuildFiles) -> WorkerCount | None:
    if launch.server not in ("gunicorn", "uvicorn"):
        return None
    found = _cli_workers(launch)
    if found is None and launch.server == "gunicorn" and not options(launch.values, ("-w", "--workers")):
        found = _config_workers(launch, files)  # the command line overrides the config file
    return found


@rule(
    "WEB620",
    "fixed-worker-count",
    Severity.WARNING,
    summary="A fixed worker count (`--workers 4`, `-w 4`, `workers = 4` in the gunicorn config) or one "
    "computed from the core count (`multiprocessing.cpu_count()`, `os.cpu_count()`, `$(nproc)`).",
    why="The buildpack sets WEB_CONCURRENCY for each dyno size from its memory and cores, and gunicorn "
    "and uvicorn read it when no count is given. A fixed count does not follow the dyno size; a count "
    "from the core count reads the host's shared cores (8 on a 512 MiB standard-1x), enough workers to "
    "run the dyno out of memory (R14, R15).",
    fix='Drop the count and let WEB_CONCURRENCY decide, or read `os.environ["WEB_CONCURRENCY"]` in the '
    "config; set the WEB_CONCURRENCY config var to change it.",
    source="heroku-facts 4.1 (nproc on dynos), 4.4 (WEB_CONCURRENCY); gunicorn 27.0.1 gunicorn/config.py "
    "`Workers`; uvicorn/main.py `--workers`",
    needs=Needs.FILES,
)
def fixed_worker_count(inputs: RuleInputs) -> Iterator[Hit]:
    launch = _web(inputs.files)
    found = worker_count(launch, inputs.files) if launch else None
    if launch is None or found is None:
        return
    yield Hit(
        title=f"the web process's worker count does not follow the dyno size: {launch.names()}",
        evidence=found.evidence,
        location=at(launch),
        fix=found.fix,
    )


# --- Celery --------------------------------------------------------------------------------------------


def _configures_concurrency(files: BuildFiles) -> str | None:
    """A Python file of the app that sets Celery's worker concurrency (`worker_concurrency`,
    `CELERY_WORKER_CONCURRENCY`, the old `CELERYD_CONCURRENCY`), if any."""
    for path in sorted(files.visible):
        if not path.endswith(".py"):
            continue
        data = (files.read_bytes(path, keep=False) or b"").lower()
        if b"worker_concurrency" in data or b"celeryd_concurrency" in data:
            return path
    return None


def celery_worker_without_concurrency(launch: ProcfileLaunch, files: BuildFiles) -> int | None:
    """The index in `launch.words` of the `worker` word of a prefork Celery worker that leaves its
    concurrency to the core count; None otherwise."""
    worker = celery_worker(launch)
    if worker is None or worker.count_given or worker.one_process:
        return None
    if _configures_concurrency(files) is not None:
        return None
    return min(arg_words(launch, [launch.values.index("worker")]))


@rule(
    "WEB630",
    "celery-concurrency-from-cores",
    Severity.WARNING,
    summary="A Celery worker process (`celery -A proj worker`) without `--concurrency`: it starts one "
    "process per core the dyno reports.",
    why="Celery's default concurrency is the core count, and dynos report the host's cores: 8 worker "
    "processes on a 512 MiB standard-1x, each with the app imported, which runs the dyno out of memory "
    "(R14, then R15).",
    fix="Give the count: `--concurrency 2`, or from a config var (`--concurrency $CELERY_CONCURRENCY`).",
    source="heroku-facts 9.3 (Celery's default concurrency), 4.1 (nproc on dynos)",
    needs=Needs.FILES,
)
def celery_concurrency(inputs: RuleInputs) -> Iterator[Hit]:
    for launch in launches(inputs.files):
        worker = celery_worker_without_concurrency(launch, inputs.files)
        if worker is None:
            continue
        count = _DEFAULT_PLAN.web_concurrency
        plan = _DEFAULT_PLAN
        yield Hit(
            title=f"the Celery worker starts one process per core the dyno reports: {launch.names()}",
            evidence=(
                "no --concurrency (-c) or --autoscale: Celery starts as many prefork processes as the "
                "cores it sees",
                f"a {plan.name} dyno reports {plan.cores} cores for its {plan.memory_mib} MiB "
                "(heroku-facts 4.1): "
                f"{plan.cores} worker processes, each with the app imported (heroku-facts 9.3)",
            ),
            location=at(launch),
            fix=procfile_fix(
                launch,
                f"give the count: `--concurrency {count}` (the {plan.memory_mib} MiB dyno's "
                "WEB_CONCURRENCY), or `--concurrency $CELERY_CONCURRENCY` with a config var",
                rewritten(launch, insert=f"--concurrency {count}", after=worker),
            ),
        )
