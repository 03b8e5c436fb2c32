"""Dependencies measured from a real virtualenv, with real wheels installed by pip (which compiles .pyc)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
from filetree import write_files
from packaging.markers import default_environment
from progressrecorder import RecordingProgress
from wheelfactory import build_wheel

from slugprof.errors import UsageError
from slugprof.measure.distributions import measure_dependencies
from slugprof.model import DependencyInventory, DependencySource, Package
from slugprof.progress import NoProgress, Progress
from slugprof.sources.environment import PythonEnvironment, find_environment
from slugprof.sources.requirements import read_requirements_txt

pytestmark = pytest.mark.slow

APP_REQUIREMENTS = """\
alpha[fast]
delta  # shares gamma with alpha
omega==1.0
zeta; python_version < "3.0"
"""


def run(*argv: str | Path) -> None:
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("VIRTUAL_ENV", None)
    subprocess.run([str(arg) for arg in argv], check=True, capture_output=True, env=env)


def make_venv(path: Path, *, with_pip: bool = False) -> Path:
    run(sys.executable, "-m", "venv", *([] if with_pip else ["--without-pip"]), path)
    return path


def site_packages(venv: Path) -> Path:
    return venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def measured(
    app: Path, requirements: str | None, environment: PythonEnvironment, progress: Progress | None = None
) -> DependencyInventory:
    """What `analyze` does for an app whose requirements.txt holds `requirements` (None: the app has
    none): the file read by the sources, the packages it names measured in `environment`."""
    if requirements is not None:
        write_files(app, {"requirements.txt": requirements})
    found = read_requirements_txt(app, environment.marker_environment)
    return measure_dependencies(found, environment, progress or NoProgress())


@dataclasses.dataclass(frozen=True)
class Installed:
    venv: Path
    site: Path
    environment: PythonEnvironment


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """One venv for the module, built with pip from wheels made here: offline, about three seconds."""
    root = tmp_path_factory.mktemp("dependencies")
    wheels = root / "wheels"
    build_wheel(
        wheels,
        "alpha",
        files={
            "alpha/__init__.py": "def main() -> int:\n    return 0\n",
            "alpha/core.py": "VALUE = 1\n",
            "alpha/sub/__init__.py": "",
            "alpha/sub/deep.py": "DEEP = 2\n",
            "alpha/data.txt": "not python\n" * 50,
        },
        requires=["beta", "gamma>=1.0", 'zeta; python_version < "3.0"'],
        extras={"fast": ["epsilon"]},
        console_scripts={"alpha-cli": "alpha:main"},
    )
    build_wheel(wheels, "beta", files={"beta.py": "BETA = 'a single module'\n" * 20})
    build_wheel(wheels, "gamma")
    build_wheel(
        wheels, "Delta", requires=["gamma"], data={"scripts": {"delta-tool": "#!/bin/sh\necho delta\n"}}
    )
    build_wheel(wheels, "epsilon")
    build_wheel(wheels, "zeta")
    # An extra asked for by a dependency, not by the app: kappa -> lam[speed] -> mu.
    build_wheel(wheels, "kappa", requires=["lam[speed]"])
    build_wheel(wheels, "lam", extras={"speed": ["mu"]})
    build_wheel(wheels, "mu")
    # Two distributions that install the same file.
    build_wheel(wheels, "ns-one", files={"nsroot/__init__.py": "", "nsroot/one.py": "ONE = 1\n"})
    build_wheel(wheels, "ns-two", files={"nsroot/__init__.py": "", "nsroot/two.py": "TWO = 2\n"})

    venv = make_venv(root / "venv", with_pip=True)
    python = venv / "bin" / "python"
    pip_install: list[str | Path] = [python, "-m", "pip", "install", "--no-index", "--find-links", wheels]
    run(*pip_install, "alpha[fast]", "delta", "zeta", "kappa")
    run(*pip_install, "ns-one")
    run(*pip_install, "ns-two")
    environment = find_environment(root, str(venv), {})
    assert environment is not None
    return Installed(venv=venv, site=site_packages(venv), environment=environment)


@pytest.fixture(scope="session")
def inventory(installed: Installed, tmp_path_factory: pytest.TempPathFactory) -> DependencyInventory:
    return measured(tmp_path_factory.mktemp("app"), APP_REQUIREMENTS, installed.environment)


def packages(inventory: DependencyInventory) -> dict[str, Package]:
    return {package.name: package for package in (*inventory.packages, *inventory.not_required)}


def files_under(*tops: Path) -> dict[str, int]:
    """Every file and symlink below each of `tops` (or `top` itself when a file), with its lstat size."""
    found: dict[str, int] = {}
    for top in tops:
        if not top.is_dir():
            found[str(top)] = top.lstat().st_size
            continue
        for folder, _, filenames in os.walk(top):
            for filename in filenames:
                path = os.path.join(folder, filename)
                found[path] = os.lstat(path).st_size
    return found


def expected_alpha(installed: Installed) -> dict[str, int]:
    return files_under(
        installed.site / "alpha",
        installed.site / "alpha-1.0.dist-info",
        installed.venv / "bin" / "alpha-cli",
    )


def expected_module(site: Path, module: str, dist_info: str) -> dict[str, int]:
    return files_under(
        site / f"{module}.py", *(site / "__pycache__").glob(f"{module}.*.pyc"), site / dist_info
    )


# --- sizes -------------------------------------------------------------------------------------------


def test_package_bytes_are_the_files_on_disk_with_their_pyc(
    installed: Installed, inventory: DependencyInventory
) -> None:
    found = packages(inventory)
    expected = {
        "alpha": expected_alpha(installed),
        "beta": expected_module(installed.site, "beta", "beta-1.0.dist-info"),
        "gamma": files_under(installed.site / "gamma", installed.site / "gamma-1.0.dist-info"),
        "delta": files_under(
            installed.site / "delta",
            installed.site / "delta-1.0.dist-info",
            installed.venv / "bin" / "delta-tool",
        ),
        "epsilon": files_under(installed.site / "epsilon", installed.site / "epsilon-1.0.dist-info"),
    }
    for name, files in expected.items():
        assert set(found[name].files) == set(files), name
        assert found[name].bytes == sum(files.values()), name
        assert found[name].file_count == len(files), name
        assert found[name].location == str(installed.site)
    # The point of stat-ing: pip compiled these, and RECORD has no size for them.
    alpha_pyc = [path for path in expected["alpha"] if path.endswith(".pyc")]
    assert len(alpha_pyc) == 4  # alpha, alpha.core, alpha.sub, alpha.sub.deep
    assert any(path.endswith(".pyc") for path in expected["beta"])
    assert str(installed.venv / "bin" / "alpha-cli") in found["alpha"].files
    assert inventory.bytes == sum(sum(files.values()) for files in expected.values())


def test_pyc_present_on_disk_but_not_in_record_are_counted(
    installed: Installed, tmp_path_factory: pytest.TempPathFactory
) -> None:
    extra = installed.site / "gamma" / "__pycache__" / "__init__.cpython-39.opt-1.pyc"
    extra.write_bytes(b"x" * 1234)
    try:
        result = measured(tmp_path_factory.mktemp("app-pyc"), "gamma\n", installed.environment)
        gamma = packages(result)["gamma"]
    finally:
        extra.unlink()
    assert str(extra) in gamma.files
    expected = files_under(installed.site / "gamma", installed.site / "gamma-1.0.dist-info")
    assert gamma.bytes == sum(expected.values()) + 1234


def test_no_file_is_counted_twice(inventory: DependencyInventory) -> None:
    all_files = [path for package in packages(inventory).values() for path in package.files]
    assert len(all_files) == len(set(all_files))
    shared = [
        name
        for name, package in packages(inventory).items()
        if any("nsroot/__init__" in f for f in package.files)
    ]
    assert shared == ["ns-one"]  # the first owner keeps it


def test_everything_installed_is_either_required_or_not(
    installed: Installed, inventory: DependencyInventory
) -> None:
    found = packages(inventory)
    assert set(found) == {
        "alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon",
        "zeta",
        "kappa",
        "lam",
        "mu",
        "ns-one",
        "ns-two",
        *([] if sys.version_info >= (3, 12) else ["setuptools"]),
        "pip",
    }
    pip_files = files_under(installed.site / "pip", *installed.site.glob("pip-*.dist-info"))
    assert set(pip_files) <= set(found["pip"].files)
    assert str(installed.venv / "bin" / "pip") in found["pip"].files


# --- the closure ----------------------------------------------------------------------------------


def test_closure_extras_and_markers(inventory: DependencyInventory) -> None:
    assert [package.name for package in inventory.packages] == ["alpha", "beta", "delta", "epsilon", "gamma"]
    found = packages(inventory)
    assert found["alpha"].requires == ("beta", "epsilon", "gamma")
    assert found["alpha"].requested_by == ("requirements.txt",)
    assert found["gamma"].requested_by == ("alpha", "delta")
    assert found["epsilon"].requested_by == ("alpha",)  # only because of alpha[fast]
    assert [package.name for package in inventory.packages if package.top_level] == ["alpha", "delta"]
    not_required = [package.name for package in inventory.not_required]
    assert "pip" in not_required
    assert "zeta" in not_required  # installed, but its marker does not apply
    assert inventory.requirements == ("alpha", "delta", "omega")
    assert inventory.missing == ("omega",)


def test_exclusive_sizes(inventory: DependencyInventory) -> None:
    found = packages(inventory)
    alpha, delta = found["alpha"], found["delta"]
    assert alpha.exclusive_packages == ("alpha", "beta", "epsilon")  # gamma is shared with delta
    assert alpha.exclusive_bytes == found["alpha"].bytes + found["beta"].bytes + found["epsilon"].bytes
    assert delta.exclusive_packages == ("delta",)
    assert delta.exclusive_bytes == delta.bytes
    assert found["gamma"].exclusive_bytes is None


def test_without_the_extra_its_package_is_not_required(
    installed: Installed, tmp_path_factory: pytest.TempPathFactory
) -> None:
    result = measured(tmp_path_factory.mktemp("app-no-extra"), "alpha\n", installed.environment)
    assert [package.name for package in result.packages] == ["alpha", "beta", "gamma"]
    assert "epsilon" in [package.name for package in result.not_required]
    assert packages(result)["gamma"].requested_by == ("alpha",)


def test_extras_asked_by_a_dependency_are_followed(
    installed: Installed, tmp_path_factory: pytest.TempPathFactory
) -> None:
    result = measured(tmp_path_factory.mktemp("app-nested-extra"), "kappa\n", installed.environment)
    assert [package.name for package in result.packages] == ["kappa", "lam", "mu"]
    assert packages(result)["lam"].requires == ("mu",)


def test_a_top_level_required_by_another_is_not_exclusive(
    installed: Installed, tmp_path_factory: pytest.TempPathFactory
) -> None:
    found = packages(measured(tmp_path_factory.mktemp("app-overlap"), "alpha\nbeta\n", installed.environment))
    assert found["beta"].exclusive_packages == ()
    assert found["beta"].exclusive_bytes == 0
    assert found["beta"].requested_by == ("alpha", "requirements.txt")
    assert found["alpha"].exclusive_packages == ("alpha", "gamma")  # beta stays: the app names it


def test_version_mismatch_and_unknown_extra_are_noted(
    installed: Installed, tmp_path_factory: pytest.TempPathFactory
) -> None:
    notes = measured(
        tmp_path_factory.mktemp("app-notes"), "gamma==2.0\nbeta[turbo]\n", installed.environment
    ).notes
    assert any("requirements.txt:1" in note and "1.0 installed" in note for note in notes)
    assert any("'turbo'" in note for note in notes)


def test_no_requirements_txt(installed: Installed, tmp_path: Path) -> None:
    result = measured(tmp_path, None, installed.environment)
    assert result.packages == ()
    assert result.requirements_files == ()
    assert "alpha" in [package.name for package in result.not_required]
    assert any("requirements.txt" in note for note in result.notes)


def test_inventory_describes_the_environment(installed: Installed, inventory: DependencyInventory) -> None:
    assert inventory.source == DependencySource.ENVIRONMENT
    assert inventory.environment == installed.environment.prefix
    assert inventory.interpreter == str(installed.venv / "bin" / "python")
    assert inventory.python_version == "{}.{}.{}".format(*sys.version_info[:3])
    assert inventory.requirements_files == ("requirements.txt",)


def test_progress_counts_distributions(installed: Installed, tmp_path: Path) -> None:
    recorder = RecordingProgress()
    result = measured(tmp_path, "alpha\n", installed.environment, recorder)
    count = len(result.packages) + len(result.not_required)
    assert recorder.stages == [("Measuring dependencies", count)]
    assert recorder.done == count


# --- distributions without RECORD, and duplicates ----------------------------------------------------


def test_legacy_egg_info(tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "venv")
    site = site_packages(venv)
    write_files(
        site,
        {
            "listed/__init__.py": "LISTED = 1\n",
            "listed/__pycache__/__init__.cpython-311.pyc": "compiled",
            "listed-1.0.egg-info/PKG-INFO": "Metadata-Version: 1.1\nName: listed\nVersion: 1.0\n",
            "listed-1.0.egg-info/installed-files.txt": "../listed/__init__.py\n../listed/gone.py\nPKG-INFO\n",
            "listed-1.0.egg-info/requires.txt": "walked\n",
            "walked/__init__.py": "WALKED = 1\n",
            "walked/sub/data.bin": "data" * 100,
            "walked_ext.cpython-311-x86_64-linux-gnu.so": "binary",
            "walked-2.0.egg-info/PKG-INFO": "Metadata-Version: 1.1\nName: walked\nVersion: 2.0\n",
            "walked-2.0.egg-info/top_level.txt": "walked\nwalked_ext\n",
            "opaque-3.0.egg-info/PKG-INFO": "Metadata-Version: 1.1\nName: opaque\nVersion: 3.0\n",
            "opaque/__init__.py": "UNKNOWN = 1\n",
            "nameless-1.0.dist-info/RECORD": "",
        },
    )
    environment = find_environment(tmp_path, str(venv), {})
    assert environment is not None
    result = measured(tmp_path / "app", "listed\nopaque\n", environment)
    found = packages(result)
    assert [package.name for package in result.packages] == ["listed", "opaque", "walked"]
    expected = {
        "listed": files_under(site / "listed", site / "listed-1.0.egg-info"),
        "walked": files_under(
            site / "walked", site / "walked_ext.cpython-311-x86_64-linux-gnu.so", site / "walked-2.0.egg-info"
        ),
        "opaque": files_under(site / "opaque-3.0.egg-info"),
    }
    for name, files in expected.items():
        assert set(found[name].files) == set(files), name
        assert found[name].bytes == sum(files.values()), name
    assert "listed: 1 files listed in installed-files.txt are missing" in result.notes
    assert any("could not list files of opaque" in note for note in result.notes)
    assert any("nameless-1.0.dist-info: metadata without a Name" in note for note in result.notes)


def test_first_distribution_on_the_path_wins(installed: Installed, tmp_path: Path) -> None:
    later = tmp_path / "later-site"
    write_files(
        later,
        {
            "gamma-2.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: gamma\nVersion: 2.0\n",
            "gamma-2.0.dist-info/RECORD": "gamma-2.0.dist-info/METADATA,,\n",
        },
    )
    environment = dataclasses.replace(
        installed.environment, site_packages=(*installed.environment.site_packages, str(later))
    )
    result = measured(tmp_path / "app", "gamma\n", environment)
    gamma = packages(result)["gamma"]
    assert gamma.version == "1.0"
    assert gamma.location == str(installed.site)
    assert any("gamma 2.0" in note and "shadowed" in note for note in result.notes)


# --- finding the environment ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_venv(tmp_path_factory.mktemp("bare") / "venv")


def test_explicit_venv_folder(bare_venv: Path, tmp_path: Path) -> None:
    environment = find_environment(tmp_path, str(bare_venv), {"VIRTUAL_ENV": "/elsewhere"})
    assert environment is not None
    assert environment.how_found == "--env"
    assert environment.interpreter == str(bare_venv / "bin" / "python")
    assert Path(environment.prefix).resolve() == bare_venv.resolve()
    assert environment.version == "{}.{}.{}".format(*sys.version_info[:3])
    assert [Path(p).resolve() for p in environment.site_packages] == [site_packages(bare_venv).resolve()]
    assert environment.marker_environment == dict(default_environment())


def test_explicit_python_executable(bare_venv: Path, tmp_path: Path) -> None:
    environment = find_environment(tmp_path, str(bare_venv / "bin" / "python"), {})
    assert environment is not None
    assert environment.interpreter == str(bare_venv / "bin" / "python")  # the venv's link, not its target
    assert Path(environment.prefix).resolve() == bare_venv.resolve()


def test_explicit_own_environment_is_allowed(tmp_path: Path) -> None:
    environment = find_environment(tmp_path, sys.prefix, {})
    assert environment is not None
    assert Path(environment.prefix).resolve() == Path(sys.prefix).resolve()


@pytest.mark.parametrize("kind", ["empty folder", "plain file", "missing"])
def test_explicit_that_is_not_an_environment(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "target"
    if kind == "empty folder":
        target.mkdir()
    elif kind == "plain file":
        target.write_text("not executable")
    with pytest.raises(UsageError) as raised:
        find_environment(tmp_path, str(target), {})
    message = str(raised.value)
    assert "expected a virtualenv folder" in message
    assert "\n" not in message


@pytest.mark.parametrize("script", ["#!/bin/sh\nexit 3\n", "#!/bin/sh\necho hello\n"])
def test_interpreter_that_does_not_answer(tmp_path: Path, script: str) -> None:
    fake = tmp_path / "python"
    fake.write_text(script)
    fake.chmod(0o755)
    with pytest.raises(UsageError, match=str(fake)):
        find_environment(tmp_path, str(fake), {})


def app_with_venvs(root: Path, folders: Iterable[str]) -> Path:
    for folder in folders:
        make_venv(root / folder)
    return root


@pytest.mark.parametrize(
    ("folders", "chosen"),
    [
        ((".venv", "venv", "env"), ".venv"),
        (("venv", "env"), "venv"),
        (("env",), "env"),
    ],
)
def test_venv_inside_the_app(tmp_path: Path, bare_venv: Path, folders: tuple[str, ...], chosen: str) -> None:
    app = app_with_venvs(tmp_path / "app", folders)
    environment = find_environment(app, None, {"VIRTUAL_ENV": str(bare_venv)})
    assert environment is not None
    assert environment.how_found == f"{chosen} in the app"
    assert Path(environment.prefix).resolve() == (app / chosen).resolve()


def test_virtual_env_when_the_app_has_none(tmp_path: Path, bare_venv: Path) -> None:
    app = tmp_path / "app"
    (app / ".venv").mkdir(parents=True)  # no pyvenv.cfg: not a virtualenv
    environment = find_environment(app, None, {"VIRTUAL_ENV": str(bare_venv)})
    assert environment is not None
    assert environment.how_found == "$VIRTUAL_ENV"
    assert Path(environment.prefix).resolve() == bare_venv.resolve()


def test_nothing_found(tmp_path: Path) -> None:
    assert find_environment(tmp_path, None, {}) is None
    assert find_environment(tmp_path, None, {"VIRTUAL_ENV": str(tmp_path / "gone")}) is None


def test_own_environment_is_never_found_automatically(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    if not (app / ".venv" / "pyvenv.cfg").is_file():
        pytest.skip("the tests do not run in a virtualenv")
    assert find_environment(app, None, {"VIRTUAL_ENV": sys.prefix}) is None


def test_broken_venv_in_the_app_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "pyvenv.cfg").write_text("home = /nowhere\n")
    with pytest.raises(UsageError, match=r"\.venv"):
        find_environment(tmp_path, None, {})


def test_each_package_names_its_top_level_modules_from_its_files(inventory: DependencyInventory) -> None:
    found = packages(inventory)
    assert found["alpha"].modules == ("alpha",)  # a package folder, with a console script beside it
    assert found["beta"].modules == ("beta",)  # a single module file
    assert found["delta"].modules == ("delta",)  # its `.data/scripts` file is no module
    assert found["ns-one"].modules == ("nsroot",)
    assert found["ns-two"].modules == ("nsroot",)  # two distributions can share a top-level name
