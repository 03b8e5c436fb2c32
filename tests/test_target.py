"""The target dyno: stack and architecture checks, marker values, wheel tags, uv's platform."""

from __future__ import annotations

import pytest
from packaging.markers import Marker
from packaging.tags import Tag

from slugprof.config import Settings
from slugprof.errors import UsageError
from slugprof.heroku import HEROKU_26_GLIBC_DEFAULT, LATEST_PYTHON_PATCH, STACK_GLIBC
from slugprof.sources.target import (
    choose_filename,
    make_target,
    platform_tags,
    python_full_version,
    tag_ranks,
    target_marker_environment,
    target_tags,
    uv_python_platform,
)


def test_stacks_carry_their_glibc() -> None:
    assert make_target("heroku-22", "amd64", "3.12", "pip").glibc == "2.35" == STACK_GLIBC["heroku-22"]
    assert make_target("heroku-24", "arm64", "3.13", "uv").glibc == "2.39"
    assert make_target("heroku-26", "amd64", "3.14", "pip").glibc == HEROKU_26_GLIBC_DEFAULT
    overridden = make_target("heroku-26", "amd64", "3.14", "pip", glibc_overrides={"heroku-26": "2.43"})
    assert overridden.glibc == "2.43"


def test_one_heroku_26_glibc_default_for_the_target_and_the_setting() -> None:
    # Unverified (heroku-facts 3.5): Heroku-24's 2.39 until the heroku-26-glibc setting says otherwise.
    assert HEROKU_26_GLIBC_DEFAULT == Settings().heroku_26_glibc == STACK_GLIBC["heroku-24"] == "2.39"
    assert make_target("heroku-26", "amd64", "3.14", "pip").glibc == Settings().heroku_26_glibc


def test_a_minor_version_installs_the_buildpacks_latest_patch() -> None:
    for minor, patch in LATEST_PYTHON_PATCH.items():
        assert python_full_version(make_target("heroku-24", "amd64", minor, "pip")) == patch
    assert python_full_version(make_target("heroku-24", "amd64", "3.14", "pip")) == "3.14.8"
    assert python_full_version(make_target("heroku-24", "amd64", "3.12.3", "pip")) == "3.12.3"


@pytest.mark.parametrize(
    ("stack", "arch", "python", "manager", "message"),
    [
        ("heroku-20", "amd64", "3.12", "pip", "unknown stack 'heroku-20'"),
        ("heroku-24", "x86", "3.12", "pip", "unknown architecture 'x86'"),
        ("heroku-22", "arm64", "3.12", "pip", "heroku-22 runs on amd64 only"),
        ("heroku-24", "amd64", "python-3.12", "pip", "not of the form 3.N"),
        ("heroku-24", "amd64", "3.12", "conda", "unknown package manager 'conda'"),
    ],
)
def test_unknown_targets_are_usage_errors(
    stack: str, arch: str, python: str, manager: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        make_target(stack, arch, python, manager)


def test_a_bad_glibc_setting_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="glibc"):
        make_target("heroku-26", "amd64", "3.14", "pip", glibc_overrides={"heroku-26": "latest"})


def test_marker_environment_is_the_dynos() -> None:
    environment = target_marker_environment(make_target("heroku-24", "amd64", "3.13", "pip"))
    assert environment["sys_platform"] == "linux"
    assert environment["platform_system"] == "Linux"
    assert environment["platform_machine"] == "x86_64"
    assert environment["implementation_name"] == "cpython"
    assert environment["python_version"] == "3.13"
    assert environment["python_full_version"] == "3.13.16"  # the buildpack's latest 3.13
    assert not Marker('sys_platform == "win32"').evaluate(environment)
    assert Marker('python_version >= "3.12" and platform_machine == "x86_64"').evaluate(environment)

    arm = target_marker_environment(make_target("heroku-24", "arm64", "3.11.2", "pip"))
    assert arm["platform_machine"] == "aarch64"
    assert arm["python_full_version"] == "3.11.2"  # a patch the app pins is kept
    assert Marker('python_version < "3.12"').evaluate(arm)


def test_tags_follow_the_stacks_glibc_and_never_musl() -> None:
    tags = target_tags(make_target("heroku-24", "amd64", "3.13", "pip"))
    assert tags[0] == Tag("cp313", "cp313", "manylinux_2_39_x86_64")
    for wanted in (
        Tag("cp313", "cp313", "manylinux_2_17_x86_64"),
        Tag("cp313", "cp313", "manylinux2014_x86_64"),
        Tag("cp313", "cp313", "manylinux2010_x86_64"),
        Tag("cp313", "cp313", "manylinux1_x86_64"),
        Tag("cp313", "abi3", "manylinux_2_28_x86_64"),
        Tag("cp38", "abi3", "manylinux2014_x86_64"),
        Tag("py3", "none", "manylinux_2_17_x86_64"),
        Tag("py3", "none", "any"),
        Tag("py313", "none", "any"),
    ):
        assert wanted in tags, wanted
    platforms = {tag.platform for tag in tags}
    assert "manylinux_2_40_x86_64" not in platforms
    assert not any("musllinux" in platform for platform in platforms)
    assert not any("win" in platform or "macosx" in platform for platform in platforms)
    assert not any(tag.interpreter == "cp312" and tag.abi == "cp312" for tag in tags)
    assert platform_tags(make_target("heroku-22", "amd64", "3.13", "pip"))[0] == "manylinux_2_35_x86_64"


def test_arm64_tags_are_aarch64_only() -> None:
    platforms = platform_tags(make_target("heroku-24", "arm64", "3.13", "pip"))
    assert platforms[0] == "manylinux_2_39_aarch64"
    assert "manylinux2014_aarch64" in platforms
    assert "manylinux1_aarch64" not in platforms  # manylinux1 and 2010 never existed for aarch64
    assert all(platform.endswith("aarch64") for platform in platforms)


def test_uv_python_platform() -> None:
    assert uv_python_platform(make_target("heroku-24", "amd64", "3.13", "pip")) == "x86_64-manylinux_2_39"
    assert uv_python_platform(make_target("heroku-22", "amd64", "3.13", "pip")) == "x86_64-manylinux_2_35"
    assert uv_python_platform(make_target("heroku-24", "arm64", "3.13", "pip")) == "aarch64-manylinux_2_39"
    high = make_target("heroku-26", "amd64", "3.14", "pip", glibc_overrides={"heroku-26": "2.43"})
    assert uv_python_platform(high) == "x86_64-manylinux_2_40"  # the highest uv names


def test_choose_filename_picks_the_dynos_best_file() -> None:
    ranks = tag_ranks(target_tags(make_target("heroku-24", "amd64", "3.13", "pip")))
    files = [
        "pkg-1.0-cp313-cp313-manylinux_2_40_x86_64.whl",
        "pkg-1.0-cp313-cp313-musllinux_1_2_x86_64.whl",
        "pkg-1.0-cp313-cp313-win_amd64.whl",
        "pkg-1.0-cp313-cp313-manylinux_2_17_aarch64.whl",
        "pkg-1.0-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "pkg-1.0-cp38-abi3-manylinux_2_28_x86_64.whl",
        "pkg-1.0.tar.gz",
    ]
    assert (
        choose_filename(files, ranks) == "pkg-1.0-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    )
    assert choose_filename([*files[:4], "pkg-1.0.zip", "pkg-1.0.tar.gz"], ranks) == "pkg-1.0.tar.gz"
    assert choose_filename(files[:4], ranks) is None
