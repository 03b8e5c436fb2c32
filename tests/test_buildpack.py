from pathlib import Path

from slugprof.config import Settings
from slugprof.heroku import SUPPORTED_PYTHON_MINORS
from slugprof.sources.buildpack import buildpack_parts, choose_package_manager, choose_python_version


def test_python_version_file_is_used(tmp_path: Path) -> None:
    (tmp_path / ".python-version").write_text("# pinned\n3.12\n")
    choice = choose_python_version(tmp_path, Settings())
    assert (choice.version, choice.source, choice.minor) == ("3.12", ".python-version", "3.12")


def test_runtime_txt_wins_but_is_deprecated(tmp_path: Path) -> None:
    (tmp_path / ".python-version").write_text("3.12\n")
    (tmp_path / "runtime.txt").write_text("python-3.11.9\n")
    choice = choose_python_version(tmp_path, Settings())
    assert (choice.version, choice.source) == ("3.11.9", "runtime.txt")
    assert any("deprecated" in note for note in choice.notes)


def test_rejected_runtime_falls_back_and_says_the_build_fails(tmp_path: Path) -> None:
    (tmp_path / "runtime.txt").write_text("python-3.7.4\n")
    choice = choose_python_version(tmp_path, Settings(default_python="3.14"))
    assert (choice.version, choice.source) == ("3.14", "buildpack default")
    assert any("rejects" in note for note in choice.notes)


def test_two_versions_in_python_version_is_a_build_error(tmp_path: Path) -> None:
    (tmp_path / ".python-version").write_text("3.12\n3.13\n")
    choice = choose_python_version(tmp_path, Settings())
    assert choice.source == "buildpack default"
    assert any("exactly one" in note for note in choice.notes)


def test_pipfile_lock_python_version(tmp_path: Path) -> None:
    (tmp_path / "Pipfile").write_text("")
    (tmp_path / "Pipfile.lock").write_text('{"_meta": {"requires": {"python_version": "3.13"}}}')
    assert choose_python_version(tmp_path, Settings()).version == "3.13"
    assert choose_package_manager(tmp_path).name == "pipenv"


def test_package_manager_errors_match_the_buildpack(tmp_path: Path) -> None:
    assert choose_package_manager(tmp_path).name == "none"
    (tmp_path / "Pipfile").write_text("")
    assert "Pipfile.lock" in choose_package_manager(tmp_path).build_errors[0]
    (tmp_path / "requirements.txt").write_text("flask\n")
    (tmp_path / "uv.lock").write_text("")
    choice = choose_package_manager(tmp_path)
    assert choice.name == "pip"
    assert any("several package manager files" in error for error in choice.build_errors)


def test_setuptools_only_for_pip_on_old_pythons(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("flask\n")
    manager = choose_package_manager(tmp_path)
    for version, expect_setuptools in (("3.12", True), ("3.13", False)):
        (tmp_path / ".python-version").write_text(version)
        python = choose_python_version(tmp_path, Settings())
        names = [part.name for part in buildpack_parts(python, manager, Settings())]
        assert ("setuptools" in names) is expect_setuptools
        assert names[0] == "python"
        assert "pip" in names


def test_supported_pythons_are_the_buildpacks(tmp_path: Path) -> None:
    # heroku-facts 3.3: 3.10-3.14 at buildpack v351; 3.9 and 3.15 fail the build.
    for version in SUPPORTED_PYTHON_MINORS:
        (tmp_path / ".python-version").write_text(f"{version}\n")
        assert choose_python_version(tmp_path, Settings()).source == ".python-version"
    for version in ("3.9", "3.15"):
        (tmp_path / ".python-version").write_text(f"{version}\n")
        choice = choose_python_version(tmp_path, Settings())
        assert choice.source == "buildpack default"
        assert any("3.10, 3.11, 3.12, 3.13, 3.14" in note for note in choice.notes)
