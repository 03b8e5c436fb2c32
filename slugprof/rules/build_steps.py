"""BUILD15x: the build steps that change the slug beyond installing the dependencies: the app's hooks,
Django's collectstatic and NLTK's corpora (bin/compile, lib/hooks.sh, bin/steps/collectstatic,
bin/steps/nltk; heroku-facts 3.7-3.9)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from packaging.utils import canonicalize_name

from slugprof.heroku import BUILD_HOOKS, COLLECTSTATIC_DISABLED_FILE, MANAGE_PY_MAX_DEPTH, NLTK_TXT
from slugprof.model import Evidence, Fix, Location, Severity
from slugprof.rules.build_requirements import marker_environment
from slugprof.rules.registry import Hit, RuleInputs, rule
from slugprof.sources.buildfiles import BuildFiles
from slugprof.sources.buildpack import choose_package_manager
from slugprof.sources.dotenv import parse_dotenv
from slugprof.sources.requirements import read_build_requirements


def depends_on(inputs: RuleInputs, name: str) -> str | None:
    """How the app is known to install `name`: "django 5.1 (resolved)", "django (requirements.txt:2)",
    or None."""
    wanted = canonicalize_name(name)
    for package in inputs.report.dependencies.packages:
        if package.name == wanted:
            return f"{package.name} {package.version} ({inputs.report.dependencies.source.value})"
    if choose_package_manager(inputs.files).name == "pip":
        read = read_build_requirements(inputs.files, marker_environment(inputs))
        for line in read.requirements:
            if line.name == wanted and line.applies:
                return f"{line.name} ({line.source})"
    return None


def _hook_lines(files: BuildFiles, hook: str) -> list[str]:
    """The commands of a hook script: its lines less the shebang, comments and blank lines."""
    text = files.read_text(hook) or ""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@rule(
    "BUILD150",
    "build-hook",
    Severity.WARNING,
    summary="bin/pre_compile or bin/post_compile is committed: the buildpack runs it during the build.",
    why="A hook runs with the app's config vars and can fail the build (a non-zero exit) or add and delete "
    "files in the slug; pre_compile even runs before the package manager is chosen. slugprof does not run "
    "it, so neither its outcome nor what it changes is in these figures.",
    fix="Check that the hook succeeds on a clean build, and measure the slug after it if it changes files.",
    source="heroku-facts 3.9 (lib/hooks.sh, bin/compile)",
)
def build_hook(inputs: RuleInputs) -> Iterator[Hit]:
    for hook in BUILD_HOOKS:
        if not inputs.files.exists(hook):
            continue
        commands = _hook_lines(inputs.files, hook)
        when = "before Python is installed" if hook.endswith("pre_compile") else "after the dependencies"
        evidence = [f"{hook} is committed: the buildpack runs it {when}"]
        if commands:
            evidence.append(f"{hook} runs {len(commands)} commands, the first: {commands[0]}")
        yield Hit(
            title=f"{hook} runs during the build: it can fail the build and change the slug, and slugprof "
            "does not run it",
            evidence=tuple(evidence),
            location=Location(hook, 1),
            fix=Fix(
                summary=f"make sure {hook} succeeds on a clean build; what it changes is not counted here"
            ),
        )


def _manage_py(files: BuildFiles) -> str | None:
    """The manage.py the buildpack finds (`find . -maxdepth 3`, the shallowest first), if any."""
    found = [path for path in files.paths_named("manage.py") if path.count("/") < MANAGE_PY_MAX_DEPTH]
    return found[0] if found else None


def _collectstatic_switches(files: BuildFiles) -> list[str]:
    """What turns collectstatic off: the committed file, or DISABLE_COLLECTSTATIC in .env (a hint only:
    the build reads the app's config vars, not .env)."""
    switches = []
    if files.exists(COLLECTSTATIC_DISABLED_FILE):
        switches.append(
            f"{COLLECTSTATIC_DISABLED_FILE} is committed (deprecated: the buildpack warns about it; the "
            "DISABLE_COLLECTSTATIC config var does the same)"
        )
    dotenv = files.read_local_text(".env")
    if dotenv is not None:
        value = parse_dotenv(dotenv)[0].get("DISABLE_COLLECTSTATIC")
        if value is not None and value != "0":
            switches.append(
                f"DISABLE_COLLECTSTATIC={value} in .env: if the app's config var is set the same way, the "
                "buildpack skips collectstatic (the build does not read .env)"
            )
    return switches


@rule(
    "BUILD151",
    "collectstatic-skipped",
    Severity.INFO,
    summary="A Django app whose collectstatic the buildpack skips.",
    why="The buildpack runs `manage.py collectstatic` for Django apps unless DISABLE_COLLECTSTATIC is set "
    "(or the deprecated .heroku/collectstatic_disabled is committed): skipped, no static files are "
    "collected into the slug, and the app must serve them another way.",
    fix="Keep it skipped only if static files are built or served elsewhere; set the config var "
    "(`heroku config:set DISABLE_COLLECTSTATIC=1`) rather than committing the file.",
    source="heroku-facts 3.7 (bin/steps/collectstatic)",
)
def collectstatic_skipped(inputs: RuleInputs) -> Iterator[Hit]:
    files = inputs.files
    manage = _manage_py(files)
    django = depends_on(inputs, "django")
    switches = _collectstatic_switches(files)
    if manage is None or django is None or not switches:
        return
    committed = files.exists(COLLECTSTATIC_DISABLED_FILE)
    yield Hit(
        title="collectstatic is skipped for this Django app: no static files are collected into the slug",
        evidence=(f"{manage} is the manage.py the buildpack finds", f"{django} is installed", *switches),
        location=Location(COLLECTSTATIC_DISABLED_FILE if committed else manage),
        fix=Fix(
            summary="skip it with the config var instead of the deprecated file"
            if committed
            else "nothing to do if the static files are served elsewhere",
            command=f"git rm {COLLECTSTATIC_DISABLED_FILE} && heroku config:set DISABLE_COLLECTSTATIC=1"
            if committed
            else None,
        ),
    )


@rule(
    "BUILD153",
    "collectstatic-fails",
    Severity.ERROR,
    summary="Django's collectstatic fails: the buildpack runs it during the build, so the build fails.",
    why="The buildpack runs `manage.py collectstatic --noinput --traceback` for a Django app, and a "
    "non-zero exit fails the build. analyze runs it as the build does, with the app's installed "
    "environment, in a copy of the slug (never in the app's folder).",
    fix="Make `python manage.py collectstatic --noinput` succeed on a clean checkout (STATIC_ROOT set, "
    "settings that import without a database or secrets), or set DISABLE_COLLECTSTATIC=1 if the static "
    "files are built or served elsewhere.",
    source="heroku-facts 3.7 (bin/steps/collectstatic)",
)
def collectstatic_fails(inputs: RuleInputs) -> Iterator[Hit]:
    for step in inputs.report.build_steps:
        if step.name != "collectstatic" or step.failure is None:
            continue
        status = f"exit status {step.exit_status}" if step.exit_status is not None else "a failure"
        manage = _manage_py(inputs.files)
        yield Hit(
            title=f"collectstatic fails ({status}), so the Heroku build fails: {step.failure}",
            evidence=(
                f"`{step.command}` ran with the app's environment, in slugprof's copy of the slug",
                f"its last line: {step.failure}",
            ),
            location=Location(manage) if manage else None,
            fix=Fix(summary="make collectstatic succeed on a clean checkout", command=step.command),
            evidence_class=Evidence.MEASURED,
        )


def nltk_corpora(text: str) -> list[str]:
    """The corpora nltk.txt names: words separated by spaces, commas or lines; `#` comments."""
    words = []
    for line in text.splitlines():
        words += [word for word in re.split(r"[\s,]+", line.split("#", 1)[0]) if word]
    return list(dict.fromkeys(words))


@rule(
    "BUILD152",
    "nltk-corpora-downloaded",
    Severity.WARNING,
    summary="nltk.txt with nltk installed: the build downloads the corpora it names into the slug.",
    why="The buildpack runs NLTK's downloader for each corpus in nltk.txt into .heroku/python/nltk_data, "
    "inside the slug, at every build; a download that fails fails the build. The figures here do not count "
    "them (they are not files of the app), and the buildpack is sunsetting the feature.",
    fix="Commit the corpora the app needs (and set NLTK_DATA to their folder), then delete nltk.txt.",
    source="heroku-facts 3.8 (bin/steps/nltk)",
)
def nltk_downloads(inputs: RuleInputs) -> Iterator[Hit]:
    text = inputs.files.read_text(NLTK_TXT)
    nltk = depends_on(inputs, "nltk")
    if text is None or nltk is None:
        return
    corpora = nltk_corpora(text)
    shown = ", ".join(corpora) or "none"
    yield Hit(
        title=f"nltk.txt downloads {len(corpora)} NLTK corpora into the slug at build time ({shown}): they "
        "are not counted here",
        evidence=(
            f"nltk.txt names: {shown}",
            f"{nltk} is installed, so the buildpack runs its downloader",
            "the buildpack's nltk.txt support is being sunset (heroku-facts 3.8)",
        ),
        location=Location(NLTK_TXT, 1),
        fix=Fix(
            summary="download the corpora once, commit them, point NLTK_DATA at them, and delete nltk.txt",
            command=f"python -m nltk.downloader -d nltk_data {' '.join(corpora)}".rstrip(),
        ),
    )
