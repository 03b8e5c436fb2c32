from pathlib import Path

import pytest

from slugprof import heroku
from slugprof.config import Settings, load_settings
from slugprof.errors import UsageError
from slugprof.units import format_bytes, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500 MB", 500_000_000),
        ("500MB", 500_000_000),
        ("500M", 500_000_000),
        ("1 GiB", 1024**3),
        ("1.5 GB", 1_500_000_000),
        ("300 MiB", 300 * 1024**2),
        ("64 KiB", 65536),
        ("1234", 1234),
        (2048, 2048),
    ],
)
def test_parse_size_accepts_decimal_and_binary_units(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MB", "500 parsecs", "-3 MB", "1e3 MB", "five"])
def test_parse_size_rejects_garbage_with_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        parse_size(text)


def test_format_bytes_is_decimal_and_readable() -> None:
    assert format_bytes(512) == "512 B"
    assert format_bytes(12_345) == "12.3 kB"
    assert format_bytes(145_200_000) == "145 MB"
    assert format_bytes(45_200_000) == "45.2 MB"
    assert format_bytes(1_100_000_000) == "1.10 GB"
    assert format_bytes(-2_000_000) == "-2.0 MB"
    assert format_bytes(2_000_000, signed=True) == "+2.0 MB"


def test_defaults_are_the_limits_heroku_users_build_against(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, {})
    assert settings == Settings()
    assert settings.slug_limit == 500_000_000 == heroku.SLUG_BUDGET_BYTES
    assert settings.soft_limit == 300_000_000 == heroku.SOFT_LIMIT_BYTES
    assert settings.slug_limit < heroku.SLUG_HARD_LIMIT_BYTES == 1000 * 1000**2
    assert settings.default_python == heroku.DEFAULT_PYTHON == "3.14"


def test_pyproject_then_environment_then_flags(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.slugprof]\nslug-limit = "1 GiB"\nsoft-limit = "250 MB"\npip-size = 1000\n'
    )
    settings = load_settings(tmp_path, {"SLUGPROF_SOFT_LIMIT": "200MB"}, {"pip_size": "2 kB"})
    assert settings.slug_limit == 1024**3
    assert settings.soft_limit == 200_000_000
    assert settings.pip_size == 2000


def test_broken_pyproject_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.slugprof\nslug-limit = ")
    with pytest.raises(UsageError, match=r"pyproject.toml: not valid TOML"):
        load_settings(tmp_path, {})


def test_unknown_setting_names_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.slugprof]\nslug-limt = "1 GB"\n')
    with pytest.raises(UsageError, match=r"unknown setting 'slug-limt'.*slug-limit"):
        load_settings(tmp_path, {})


def test_bad_size_in_environment_names_its_source(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="environment: slug-limit"):
        load_settings(tmp_path, {"SLUGPROF_SLUG_LIMIT": "huge"})
