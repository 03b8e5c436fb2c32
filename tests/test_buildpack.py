from pathlib import Path

from slugprof.config import Settings
from slugprof.heroku import SUPPORTED_PYTHON_MINORS
from slugprof.sources.appfiles import collect_app_files
from slugprof.sources.buildfiles import BuildFiles
from slugprof.sources.buildpack import buildpack_parts, choose_package_manager, choose_python_version


def seen(root: Path) -> BuildFiles:
    """What the buildpack sees of a folder (not a git tree: its files less .gitignore)."""
    return BuildFiles.of(root, collect_app_files(root))


def test_python_version_file_is_used(tmp_path: Path) -> None:
    (tmp_path / ".python-version").write_text("# pinned\n3.12\n")
    choice = choose_python_version(seen(tmp_path), Settings(), "pip")
    assert (choice.version, choice.source, choice.minor) == ("3.12", ".python-version", "3.12")


def test_runtime_txt_wins(tmp_path: Path) -> None:
    (tmp_path / ".python-version").write_text("3.12\n")
    (tmp_path / "runtime.txt").write_text("python-3.11.9\n")
    choice = choose_python_version(seen(tmp_path), Settings(), "pip")
    assert (choice.version, choice.source) == ("3.11.9", "runtime.txt")


def test_a_refused_version_file_sizes_with_the_default_and_says_which_file(tmp_path: Path) -> None:
    (tmp_path / "runtime.txt").write_text("python-3.7.4\n")
    (tmp_path / ".python-version").write_text("3.12\n")  # not read: runtime.txt comes first
    choice = choose_python_version(seen(tmp_path), Settings(default_python="3.14"), "pip")
    assert (choice.version, choice.source) == ("3.14", "buildpack default (runtime.txt refused)")


def test_pipfile_lock_python_version(tmp_path: Path) -> None:
    (tmp_path / "Pipfile").write_text("")
    (tmp_path / "Pipfile.lock").write_text('{"_meta": {"requires": {"python_version": "3.13"}}}')
    files = seen(tmp_path)
    assert choose_package_manager(files).name == "pipenv"
    assert choose_python_version(files, Settings(), "pipenv").version == "3.13"
    assert choose_python_version(files, Settings(), "pip").source == "buildpack default"


def test_package_manager_choice_matches_the_buildpack(tmp_path: Path) -> None:
    assert choose_package_manager(seen(tmp_path)).name == "none"
    assert choose_package_manager(seen(tmp_path)).build_fails
    (tmp_path / "Pipfile").write_text("")
    choice = choose_package_manager(seen(tmp_path))
    assert choice.pipfile_without_lock and choice.build_fails
    (tmp_path / "Pipfile").unlink()
    (tmp_path / "requirements.txt").write_text("flask\n")
    choice = choose_package_manager(seen(tmp_path))
    assert (choice.name, choice.present, choice.build_fails) == ("pip", ("requirements.txt",), False)
    (tmp_path / "uv.lock").write_text("")
    choice = choose_package_manager(seen(tmp_path))
    assert (choice.name, choice.present, choice.build_fails) == ("pip", ("requirements.txt", "uv.lock"), True)


def test_setuptools_only_for_pip_on_old_pythons(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("flask\n")
    manager = choose_package_manager(seen(tmp_path))
    for version, expect_setuptools in (("3.12", True), ("3.13", False)):
        (tmp_path / ".python-version").write_text(version)
        python = choose_python_version(seen(tmp_path), Settings(), "pip")
        names = [part.name for part in buildpack_parts(python, manager, Settings())]
        assert ("setuptools" in names) is expect_setuptools
        assert names[0] == "python"
        assert "pip" in names


def test_supported_pythons_are_the_buildpacks(tmp_path: Path) -> None:
    # heroku-facts 3.3: 3.10-3.14 at buildpack v351; 3.9 and 3.15 fail the build.
    for version in SUPPORTED_PYTHON_MINORS:
        (tmp_path / ".python-version").write_text(f"{version}\n")
        assert choose_python_version(seen(tmp_path), Settings(), "pip").source == ".python-version"
    for version in ("3.9", "3.15"):
        (tmp_path / ".python-version").write_text(f"{version}\n")
        choice = choose_python_version(seen(tmp_path), Settings(), "pip")
        assert choice.source == "buildpack default (.python-version refused)"
