"""Which app files a push would send, on real trees: git and plain folders, and odd files in both."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from progressrecorder import RecordingProgress

from slugprof.errors import UsageError
from slugprof.model import AppFile, AppInventory
from slugprof.sources.appfiles import collect_app_files

pytestmark = pytest.mark.usefixtures("isolated_git")

MakeTree = Callable[[Path, list[str]], None]
GitRunner = Callable[..., str]
RUNNING_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def paths(inventory: AppInventory) -> list[str]:
    return [app_file.path for app_file in inventory.files]


def file_at(inventory: AppInventory, path: str) -> AppFile:
    (app_file,) = [f for f in inventory.files if f.path == path]
    return app_file


def problem_reasons(inventory: AppInventory, path: str) -> list[str]:
    return [problem.reason for problem in inventory.problems if problem.path == path]


def collect_within(root: Path, seconds: float = 30) -> AppInventory:
    """collect_app_files, failing the test instead of hanging it (opening a FIFO blocks forever)."""
    results: list[AppInventory] = []
    worker = threading.Thread(target=lambda: results.append(collect_app_files(root)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"collect_app_files did not finish in {seconds} s"
    return results[0]


def first_commit(git: GitRunner, root: Path, *paths: str) -> None:
    """Make `root` a repository whose one commit holds `paths` (every file there when none are named)."""
    git(root, "init", "-q")
    git(root, "add", *(paths or (".",)))
    git(root, "commit", "-q", "-m", "first")


# --- git mode --------------------------------------------------------------------------------


def test_git_mode_counts_tracked_files_and_lists_untracked_ones(
    tmp_path: Path, make_tree: MakeTree, git: GitRunner
) -> None:
    root = tmp_path / "app"
    make_tree(root, ["app.py", "pkg/util.py", ".gitignore", "debug.log", "new.py", "notes/todo.txt"])
    (root / ".gitignore").write_text("*.log\n")
    first_commit(git, root, "app.py", "pkg/util.py", ".gitignore")

    inventory = collect_app_files(root)

    assert inventory.source == "git"
    assert inventory.root == str(root)
    assert paths(inventory) == [".gitignore", "app.py", "pkg/util.py"]
    assert inventory.untracked == ("new.py", "notes/todo.txt")  # debug.log is ignored: in neither
    assert file_at(inventory, "app.py").bytes == len("app.py")
    assert all(f.included and f.kind == "file" for f in inventory.files)
    assert inventory.problems == ()


def test_a_tracked_file_deleted_from_the_work_tree_is_a_problem(
    tmp_path: Path, make_tree: MakeTree, git: GitRunner
) -> None:
    root = tmp_path / "app"
    make_tree(root, ["app.py", "old.py"])
    first_commit(git, root)
    (root / "old.py").unlink()

    inventory = collect_app_files(root)

    assert paths(inventory) == ["app.py"]
    (problem,) = inventory.problems
    assert (problem.path, problem.counted) == ("old.py", False)
    assert "deleted" in problem.reason


def test_an_app_in_a_subfolder_of_the_repository_lists_only_its_own_files(
    tmp_path: Path, make_tree: MakeTree, git: GitRunner
) -> None:
    repository = tmp_path / "repo"
    make_tree(
        repository, ["README.md", "web/app.py", "web/.slugignore", "web/tests/test_app.py", "web/draft.py"]
    )
    (repository / "web" / ".slugignore").write_text("tests\n")
    first_commit(git, repository, "README.md", "web/app.py", "web/.slugignore", "web/tests")

    inventory = collect_app_files(repository / "web")

    assert inventory.source == "git"
    assert paths(inventory) == [".slugignore", "app.py", "tests/test_app.py"]
    assert [f.path for f in inventory.included] == [".slugignore", "app.py"]
    assert file_at(inventory, "tests/test_app.py").excluded_by == ".slugignore: tests"
    assert inventory.untracked == ("draft.py",)


def test_an_uncommitted_slugignore_is_not_applied(
    tmp_path: Path, make_tree: MakeTree, git: GitRunner
) -> None:
    root = tmp_path / "app"
    make_tree(root, ["app.py", "tests/test_app.py"])
    first_commit(git, root)
    (root / ".slugignore").write_text("tests\n")

    inventory = collect_app_files(root)

    assert all(f.included for f in inventory.files)
    assert inventory.slugignore == ()
    assert inventory.untracked == (".slugignore",)
    (reason,) = problem_reasons(inventory, ".slugignore")
    assert "not committed" in reason


def test_a_submodule_is_a_problem_not_a_file(tmp_path: Path, make_tree: MakeTree, git: GitRunner) -> None:
    root = tmp_path / "app"
    make_tree(root, ["app.py"])
    first_commit(git, root)
    commit = git(root, "rev-parse", "HEAD").strip()
    git(root, "update-index", "--add", "--cacheinfo", f"160000,{commit},vendor/lib")

    inventory = collect_app_files(root)

    assert paths(inventory) == ["app.py"]
    (problem,) = inventory.problems
    assert (problem.path, problem.counted) == ("vendor/lib", False)
    assert "submodule" in problem.reason


def test_git_mode_keeps_names_that_are_not_utf8(tmp_path: Path, make_tree: MakeTree, git: GitRunner) -> None:
    root = tmp_path / "app"
    make_tree(root, ["app.py"])
    os.close(os.open(os.fsencode(root) + b"/caf\xe9.txt", os.O_CREAT | os.O_WRONLY, 0o644))
    first_commit(git, root)

    inventory = collect_app_files(root)

    assert paths(inventory) == ["app.py", "caf\\xe9.txt"]
    (problem,) = inventory.problems
    assert (problem.path, problem.counted) == ("caf\\xe9.txt", True)


def test_without_git_installed_the_folder_is_walked(
    tmp_path: Path, make_tree: MakeTree, git: GitRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "app"
    make_tree(root, ["app.py", "new.py"])
    first_commit(git, root, "app.py")
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))

    inventory = collect_app_files(root)

    assert inventory.source == "filesystem"
    assert paths(inventory) == ["app.py", "new.py"]
    (reason,) = problem_reasons(inventory, ".")
    assert "git could not be used" in reason and "program not found" in reason


# --- filesystem mode -------------------------------------------------------------------------


def test_filesystem_mode_honours_root_and_nested_gitignore_files(tmp_path: Path, make_tree: MakeTree) -> None:
    root = tmp_path / "app"
    make_tree(
        root,
        [
            "app.py",
            "server.log",
            "build/out.bin",
            "pkg/a.py",
            "pkg/secret.txt",
            "pkg/keep.log",
            "pkg/data/big.csv",
            "pkg/sub/secret.txt",
            "other/secret.txt",
            "other/data/big.csv",
        ],
    )
    (root / ".gitignore").write_text("*.log\nbuild/\n")
    # Relative to its own folder: 'secret.txt' at any depth below pkg, '/data' only as pkg/data.
    (root / "pkg" / ".gitignore").write_text("secret.txt\n/data\n!keep.log\n")

    inventory = collect_app_files(root)

    assert inventory.source == "filesystem"
    assert paths(inventory) == [
        ".gitignore",
        "app.py",
        "other/data/big.csv",
        "other/secret.txt",
        "pkg/.gitignore",
        "pkg/a.py",
        "pkg/keep.log",
    ]
    assert inventory.untracked == ()
    assert inventory.problems == ()


def test_filesystem_mode_never_counts_a_git_folder(tmp_path: Path, make_tree: MakeTree) -> None:
    root = tmp_path / "app"
    # Not a valid repository (no HEAD), so git does not take over: the walk must skip .git itself.
    make_tree(root, ["app.py", ".git/objects/ab/cdef", "vendor/lib/.git/config", "vendor/lib/lib.py"])

    inventory = collect_app_files(root)

    assert inventory.source == "filesystem"
    assert paths(inventory) == ["app.py", "vendor/lib/lib.py"]


def test_symlinks_are_counted_as_links_and_never_followed(tmp_path: Path, make_tree: MakeTree) -> None:
    root = tmp_path / "app"
    make_tree(root, ["app.py", "static/site.css", "static/img/logo.png"])
    (root / "style.css").symlink_to("static/site.css")
    (root / "assets").symlink_to("static")
    (root / "loop-a").symlink_to("loop-b")
    (root / "loop-b").symlink_to("loop-a")
    (root / "dangling").symlink_to("nowhere/at/all")

    inventory = collect_within(root)

    assert paths(inventory) == [
        "app.py",
        "assets",
        "dangling",
        "loop-a",
        "loop-b",
        "static/img/logo.png",
        "static/site.css",
        "style.css",
    ]
    links = {f.path: (f.kind, f.bytes) for f in inventory.files if f.kind == "symlink"}
    assert links == {
        "assets": ("symlink", len("static")),
        "dangling": ("symlink", len("nowhere/at/all")),
        "loop-a": ("symlink", len("loop-b")),
        "loop-b": ("symlink", len("loop-a")),
        "style.css": ("symlink", len("static/site.css")),
    }
    assert inventory.problems == ()


def test_a_slugignore_folder_pattern_matches_a_link_to_a_folder(tmp_path: Path, make_tree: MakeTree) -> None:
    root = tmp_path / "app"
    make_tree(root, ["static/site.css", "notes.txt"])
    (root / "assets").symlink_to("static")
    (root / "readme").symlink_to("notes.txt")
    (root / ".slugignore").write_text("assets/\nreadme/\n")

    inventory = collect_app_files(root)

    assert {f.path for f in inventory.files if not f.included} == {"assets"}


def test_a_fifo_is_skipped_without_being_opened(tmp_path: Path, make_tree: MakeTree) -> None:
    root = tmp_path / "app"
    make_tree(root, ["app.py"])
    os.mkfifo(root / "pipe")

    inventory = collect_within(root)

    assert paths(inventory) == ["app.py"]
    (problem,) = inventory.problems
    assert (problem.path, problem.counted) == ("pipe", False)
    assert "FIFO" in problem.reason


def test_names_that_are_not_utf8_are_counted_with_escapes(tmp_path: Path, make_tree: MakeTree) -> None:
    root = tmp_path / "app"
    make_tree(root, ["app.py"])
    raw_root = os.fsencode(root)
    descriptor = os.open(raw_root + b"/caf\xe9.txt", os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(descriptor, b"12345")
    os.close(descriptor)
    os.mkdir(raw_root + b"/d\xff")
    for name in (b"one.py", b"two.py"):
        os.close(os.open(raw_root + b"/d\xff/" + name, os.O_CREAT | os.O_WRONLY, 0o644))

    inventory = collect_app_files(root)

    assert paths(inventory) == ["app.py", "caf\\xe9.txt", "d\\xff/one.py", "d\\xff/two.py"]
    assert file_at(inventory, "caf\\xe9.txt").bytes == 5
    # One problem per bad name: the folder's covers the files inside it.
    assert [(p.path, p.counted) for p in inventory.problems] == [("caf\\xe9.txt", True), ("d\\xff", True)]
    assert all("UTF-8" in p.reason for p in inventory.problems)


@pytest.mark.skipif(
    RUNNING_AS_ROOT, reason="root reads a chmod 000 file anyway, so it cannot be made unreadable"
)
def test_an_unreadable_file_is_counted_at_its_size_with_a_problem(
    tmp_path: Path, make_tree: MakeTree
) -> None:
    root = tmp_path / "app"
    make_tree(root, ["app.py", "secret.key"])
    (root / "secret.key").chmod(0)
    try:
        inventory = collect_app_files(root)
    finally:
        (root / "secret.key").chmod(0o644)

    assert file_at(inventory, "secret.key").bytes == len("secret.key")
    (problem,) = inventory.problems
    assert (problem.path, problem.counted) == ("secret.key", True)
    assert "cannot be read" in problem.reason


@pytest.mark.skipif(
    RUNNING_AS_ROOT, reason="root lists a chmod 000 folder anyway, so it cannot be made unreadable"
)
def test_an_unreadable_folder_is_a_problem(tmp_path: Path, make_tree: MakeTree) -> None:
    root = tmp_path / "app"
    make_tree(root, ["app.py", "private/data.bin"])
    (root / "private").chmod(0)
    try:
        inventory = collect_app_files(root)
    finally:
        (root / "private").chmod(0o755)

    assert paths(inventory) == ["app.py"]
    (problem,) = inventory.problems
    assert (problem.path, problem.counted) == ("private", False)


def test_a_very_deep_tree_does_not_hit_the_recursion_limit(tmp_path: Path) -> None:
    root = tmp_path / "app"
    levels = [str(root)]
    os.mkdir(levels[0])
    for _ in range(1000):  # one level at a time: Path.mkdir(parents=True) itself recurses
        levels.append(os.path.join(levels[-1], "d"))
        os.mkdir(levels[-1])
    bottom = os.path.join(levels[-1], "bottom.txt")
    with open(bottom, "w") as stream:
        stream.write("deep")
    try:
        inventory = collect_app_files(root)
    finally:
        # shutil.rmtree, and so pytest's own clean-up of tmp_path, recurses once per level.
        os.unlink(bottom)
        for level in reversed(levels):
            os.rmdir(level)

    assert paths(inventory) == ["/".join(["d"] * 1000) + "/bottom.txt"]
    assert inventory.bytes == 4


def test_progress_reports_the_stage_and_every_file(tmp_path: Path, make_tree: MakeTree) -> None:
    root = tmp_path / "app"
    make_tree(root, ["a.py", "b/c.py", "b/d.py"])
    recorder = RecordingProgress()

    collect_app_files(root, recorder)

    assert recorder.stages == [("Listing app files", None)]
    assert recorder.done == 3


# --- the app folder itself -------------------------------------------------------------------


def test_a_missing_app_folder_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such folder"):
        collect_app_files(tmp_path / "missing")


def test_a_file_given_as_the_app_folder_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("")
    with pytest.raises(UsageError, match="is a file"):
        collect_app_files(tmp_path / "app.py")
