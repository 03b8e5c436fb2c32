"""requirements.txt read as pip reads it: which names, extras and markers the app asks for."""

from __future__ import annotations

from pathlib import Path

import pytest
from filetree import write_files
from packaging.markers import default_environment

from slugprof.sources.requirements import RequirementLine, RequirementsFile, read_requirements_txt

# A Python that is not the one running the tests: markers must be evaluated against the target.
PY312 = {key: str(value) for key, value in default_environment().items()}
PY312.update(python_version="3.12", python_full_version="3.12.4")


def read(root: Path, text: str | bytes, environment: dict[str, str] | None = None) -> RequirementsFile:
    write_files(root, {"requirements.txt": text})
    return read_requirements_txt(root, environment or PY312)


def by_name(result: RequirementsFile) -> dict[str | None, RequirementLine]:
    return {line.name: line for line in result.requirements}


def test_plain_names_are_canonical_with_sources(tmp_path: Path) -> None:
    result = read(tmp_path, "Flask==3.0.0\n\nrequests>=2\nzope.interface\nMy_Package~=1.2\n")
    assert [line.name for line in result.requirements] == [
        "flask",
        "requests",
        "zope-interface",
        "my-package",
    ]
    assert [line.source for line in result.requirements] == [
        "requirements.txt:1",
        "requirements.txt:3",
        "requirements.txt:4",
        "requirements.txt:5",
    ]
    assert result.requirements[0].text == "Flask==3.0.0"
    assert all(line.applies for line in result.requirements)
    assert result.files == ("requirements.txt",)
    assert result.notes == ()


def test_comments(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        "# a comment\n"
        "   # an indented comment\n"
        "flask  # the web framework\n"
        "gunicorn\t# tab before the hash\n"
        "https://example.com/wheels/pkg_one-1.0-py3-none-any.whl#sha256=abc\n",
    )
    assert [line.name for line in result.requirements] == ["flask", "gunicorn", "pkg-one"]
    assert result.requirements[0].text == "flask"


def test_line_continuations_and_trailing_hashes(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        "alpha==1.0 \\\n"
        "    --hash=sha256:aaaa \\\n"
        "    --hash=sha256:bbbb\n"
        "beta[x]\\\n"
        "==2.0\n"
        "gamma==1.0 --hash sha256:cccc\n",
    )
    lines = by_name(result)
    assert list(lines) == ["alpha", "beta", "gamma"]
    assert lines["alpha"].source == "requirements.txt:1"
    assert lines["alpha"].text == "alpha==1.0"
    assert lines["beta"].source == "requirements.txt:4"
    assert lines["beta"].extras == ("x",)
    assert result.notes == ()


def test_a_comment_ends_a_continuation(tmp_path: Path) -> None:
    result = read(tmp_path, "alpha \\\n# comment \\\nbeta\n")
    assert [line.name for line in result.requirements] == ["alpha", "beta"]


def test_includes_are_relative_to_the_including_file(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "requirements/base.txt": "-r common.txt\nflask\n",
            "requirements/common.txt": "requests\n",
            "requirements/prod.txt": "--requirement=base.txt\ngunicorn\n",
        },
    )
    result = read(tmp_path, "-r requirements/prod.txt\n-rrequirements/base.txt\nsentry-sdk\n")
    assert result.files == (
        "requirements.txt",
        "requirements/prod.txt",
        "requirements/base.txt",
        "requirements/common.txt",
    )
    assert [(line.name, line.source) for line in result.requirements] == [
        ("requests", "requirements/common.txt:1"),
        ("flask", "requirements/base.txt:2"),
        ("gunicorn", "requirements/prod.txt:2"),
        ("sentry-sdk", "requirements.txt:3"),
    ]
    assert result.notes == ()


def test_include_cycles_are_read_once(tmp_path: Path) -> None:
    write_files(tmp_path, {"more.txt": "-r requirements.txt\nbeta\n"})
    result = read(tmp_path, "alpha\n-r more.txt\n")
    assert [line.name for line in result.requirements] == ["alpha", "beta"]
    assert result.files == ("requirements.txt", "more.txt")
    assert any("cycle" in note and "requirements.txt" in note for note in result.notes)


def test_missing_include_is_a_problem(tmp_path: Path) -> None:
    result = read(tmp_path, "alpha\n-r missing.txt\n")
    assert [line.name for line in result.requirements] == ["alpha"]
    assert [(p.file, p.line, p.text) for p in result.problems] == [("requirements.txt", 2, "-r missing.txt")]
    assert result.problems[0].reason == "`missing.txt` cannot be opened: file not found"


def test_include_outside_the_app_is_read_and_noted(tmp_path: Path) -> None:
    app = tmp_path / "app"
    write_files(tmp_path, {"shared.txt": "shared-lib\n"})
    result = read(app, "-r ../shared.txt\n")
    assert [line.name for line in result.requirements] == ["shared-lib"]
    assert result.files == ("requirements.txt", "../shared.txt")
    assert any("outside the app" in note for note in result.notes)


def test_constraints_add_no_packages(tmp_path: Path) -> None:
    write_files(tmp_path, {"constraints.txt": "urllib3<2\nidna==3.4\n"})
    result = read(tmp_path, "-c constraints.txt\nrequests\n")
    assert [line.name for line in result.requirements] == ["requests"]
    assert "constraints.txt" in result.files
    assert "-c constraints.txt: constraints do not add packages" in result.notes


def test_option_lines_are_ignored(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        "--index-url https://pypi.example.com/simple\n"
        "-i https://pypi.example.com/simple\n"
        "--extra-index-url=https://download.pytorch.org/whl/cpu\n"
        "-f ./wheels\n"
        "--find-links https://example.com/links\n"
        "--no-binary :all:\n"
        "--only-binary=numpy\n"
        "--prefer-binary\n"
        "--pre\n"
        "--trusted-host example.com\n"
        "--no-index\n"
        "--require-hashes\n"
        "torch==2.3.0\n",
    )
    assert [line.name for line in result.requirements] == ["torch"]
    assert result.notes == ()


def test_unknown_option_is_a_problem(tmp_path: Path) -> None:
    result = read(tmp_path, "--frobnicate yes\nflask\n")
    assert [line.name for line in result.requirements] == ["flask"]
    assert [(p.line, p.reason) for p in result.problems] == [
        (1, "pip has no option `--frobnicate` in a requirements file")
    ]
    assert result.notes == ()


def test_markers_are_evaluated_against_the_given_environment(tmp_path: Path) -> None:
    text = (
        'zeta; python_version < "3.0"\n'
        'new-thing; python_version >= "3.12"\n'
        'old-thing ; python_version < "3.12"\n'
        'winonly; sys_platform == "win32"\n'
    )
    lines = by_name(read(tmp_path, text, PY312))
    assert {name: line.applies for name, line in lines.items()} == {
        "zeta": False,
        "new-thing": True,
        "old-thing": False,
        "winonly": PY312["sys_platform"] == "win32",
    }
    py311 = {**PY312, "python_version": "3.11", "python_full_version": "3.11.9"}
    lines = by_name(read(tmp_path, text, py311))
    assert lines["new-thing"].applies is False
    assert lines["old-thing"].applies is True


def test_extras(tmp_path: Path) -> None:
    lines = by_name(read(tmp_path, "requests[socks]\nCelery[Redis, SQS]>=5\nplain\n"))
    assert lines["requests"].extras == ("socks",)
    assert lines["celery"].extras == ("redis", "sqs")
    assert lines["plain"].extras == ()


def test_direct_references(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        "my_lib @ https://example.com/my_lib-1.0.tar.gz\n"
        "other[fast]@ git+https://github.com/org/other.git@v2\n"
        'gated @ https://example.com/gated.zip ; python_version < "3"\n',
    )
    lines = by_name(result)
    assert lines["my-lib"].text == "my_lib @ https://example.com/my_lib-1.0.tar.gz"
    assert lines["other"].extras == ("fast",)
    assert lines["gated"].applies is False
    assert result.notes == ()


def test_editables(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        "-e git+https://github.com/org/repo.git@main#egg=Bar_Baz\n"
        "--editable=git+https://github.com/org/ext.git#egg=ext[speed]&subdirectory=pkg\n"
        "-e .\n"
        "-e ./libs/thing\n"
        '-e git+https://github.com/org/gated.git#egg=gated ; python_version < "3" --config-settings a=b\n'
        "-egit+https://github.com/org/tight.git#egg=tight\n",
    )
    assert [(line.name, line.extras) for line in result.requirements] == [
        ("bar-baz", ()),
        ("ext", ("speed",)),
        (None, ()),
        (None, ()),
        ("gated", ()),
        ("tight", ()),
    ]
    assert result.requirements[2].text == "."
    assert result.requirements[4].applies is False
    unknown = [note for note in result.notes if "name unknown" in note]
    assert [note.split(":")[1] for note in unknown] == ["3", "4"]


def test_urls_and_paths_take_the_name_from_the_file_name(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        "https://example.com/files/My_Pkg-2.0-py3-none-any.whl\n"
        "./wheels/other_pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl\n"
        "vendored/third_pkg-3.1.tar.gz\n"
        "local_pkg-0.1-py3-none-any.whl\n"
        'https://example.com/files/marked-1.0-py3-none-any.whl ; python_version < "3"\n'
        "git+https://github.com/org/anonymous.git\n",
    )
    assert [(line.name, line.applies) for line in result.requirements] == [
        ("my-pkg", True),
        ("other-pkg", True),
        ("third-pkg", True),
        ("local-pkg", True),
        ("marked", False),
        (None, True),
    ]
    assert len([note for note in result.notes if "name unknown" in note]) == 1


def test_garbage_lines_are_problems_not_errors(tmp_path: Path) -> None:
    result = read(
        tmp_path, "flask\nthis is not a requirement!!\nnumpy>=\nrequests; python_version <<< 3\ngunicorn\n"
    )
    assert [line.name for line in result.requirements] == ["flask", "gunicorn"]
    assert [(p.file, p.line) for p in result.problems] == [
        ("requirements.txt", 2),
        ("requirements.txt", 3),
        ("requirements.txt", 4),
    ]
    assert result.notes == ()


def test_missing_requirements_txt_is_an_empty_result_with_a_note(tmp_path: Path) -> None:
    result = read_requirements_txt(tmp_path, PY312)
    assert result.files == ()
    assert result.requirements == ()
    assert len(result.notes) == 1
    assert "requirements.txt" in result.notes[0]


def test_non_utf8_file_is_decoded_with_replacement(tmp_path: Path) -> None:
    result = read(tmp_path, b"# caf\xe9 au lait\nflask\nr\xe9sum\xe9\n")
    assert [line.name for line in result.requirements] == ["flask"]
    assert any("not UTF-8" in note for note in result.notes)
    assert [(p.line, p.reason) for p in result.problems] == [(3, "`\ufffd` cannot be part of a package name")]


def test_byte_order_mark_and_crlf(tmp_path: Path) -> None:
    result = read(tmp_path, b"\xef\xbb\xbfflask\r\nrequests \\\r\n  [socks]\r\n")
    assert [(line.name, line.extras) for line in result.requirements] == [
        ("flask", ()),
        ("requests", ("socks",)),
    ]
    assert result.notes == ()


@pytest.mark.parametrize(
    ("line", "reason"),
    [("-r", "`-r` names no file"), ("-e", "`-e` names no project: give a folder or a VCS URL")],
)
def test_options_without_their_value_are_problems(tmp_path: Path, line: str, reason: str) -> None:
    result = read(tmp_path, f"{line}\nflask\n")
    assert [line.name for line in result.requirements] == ["flask"]
    assert [(p.line, p.reason) for p in result.problems] == [(1, reason)]
    assert result.notes == ()
