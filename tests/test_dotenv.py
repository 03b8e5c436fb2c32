from pathlib import Path

from slugprof.sources.dotenv import read_dotenv


def test_heroku_local_style_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# config vars for heroku local\n"
        "SECRET_KEY=dev-not-secret\n"
        "export WEB_CONCURRENCY=3\n"
        "DATABASE_URL = 'postgres://u:p@localhost/db'\n"
        'GREETING="hello\\nworld"\n'
        "PIP_EXTRA_INDEX_URL=https://download.example.org/whl/cpu  # cpu wheels\n"
        "EMPTY=\n"
        "this is not a variable\n",
        encoding="utf-8",
    )
    values, notes = read_dotenv(tmp_path)
    assert values == {
        "SECRET_KEY": "dev-not-secret",
        "WEB_CONCURRENCY": "3",
        "DATABASE_URL": "postgres://u:p@localhost/db",
        "GREETING": "hello\nworld",
        "PIP_EXTRA_INDEX_URL": "https://download.example.org/whl/cpu",
        "EMPTY": "",
    }
    assert notes == (".env:8: not a KEY=VALUE line, skipped",)


def test_missing_or_binary_env_file(tmp_path: Path) -> None:
    assert read_dotenv(tmp_path) == ({}, ())
    (tmp_path / ".env").write_bytes(bytes(range(256)))
    values, notes = read_dotenv(tmp_path)
    assert values == {}  # no line of it is KEY=VALUE
    assert notes and all(note.endswith(": not a KEY=VALUE line, skipped") for note in notes)


def test_binary_lines_around_a_variable_do_not_hide_it(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"\x00\xff\xfe junk\nSECRET_KEY=dev\n\x80\x81=\x82\n")
    values, notes = read_dotenv(tmp_path)
    assert values == {"SECRET_KEY": "dev"}
    assert notes == (".env:1: not a KEY=VALUE line, skipped", ".env:3: not a KEY=VALUE line, skipped")
