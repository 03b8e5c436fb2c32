from pathlib import Path

import pytest

from slugprof.config import load_settings
from slugprof.errors import UsageError
from slugprof.heroku import DEFAULT_DYNO, DYNO_PLANS, web_concurrency_for
from slugprof.sources.dyno import DYNO_SIZES, dyno_by_name, dyno_environment, dyno_sizes, generation_of
from slugprof.sources.procfile import ProcessType, declared_lines, read_procfile

# --- Procfile ---------------------------------------------------------------------------------


def test_procfile_lines_as_heroku_reads_them(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text(
        "# comment lines never match\n"
        "release: python manage.py migrate --noinput\r\n"
        "web: gunicorn mysite.wsgi --log-file -   \n"
        "\n"
        "worker_2:   celery -A proj worker\n"
        "clock python clock.py\n"  # the old compiler's colon is optional
        "bad-name: ignored (a hyphen is not alphanumeric)\n"
        "  indented: ignored\n"
        "web: gunicorn mysite.wsgi --workers 3\n",  # a repeated type: the last wins
        encoding="utf-8",
    )
    assert read_procfile(tmp_path) == {
        "release": ProcessType("release", "python manage.py migrate --noinput"),
        "web": ProcessType("web", "gunicorn mysite.wsgi --workers 3"),
        "worker_2": ProcessType("worker_2", "celery -A proj worker"),
        "clock": ProcessType("clock", "python clock.py"),
    }


def test_the_line_each_process_type_runs_is_numbered_as_written() -> None:
    data = b"# comment\r\nweb: gunicorn a:app\nworker:   celery -A proj worker\nweb: gunicorn b:app -w 2\n"
    lines = declared_lines(data)
    assert [(name, line.number, line.text) for name, line in lines.items()] == [
        ("web", 4, "web: gunicorn b:app -w 2"),  # a repeated type: the last line, in the first's place
        ("worker", 3, "worker:   celery -A proj worker"),
    ]
    assert lines["worker"].prefix == "worker:   "
    assert lines["worker"].process == ProcessType("worker", "celery -A proj worker")


def test_sample_apps_procfiles() -> None:
    sample_apps = Path(__file__).resolve().parent.parent / "sample_apps"
    django = read_procfile(sample_apps / "django_whitenoise")
    assert django["web"].command == "gunicorn mysite.wsgi"
    assert django["release"].command == "python manage.py migrate --noinput"
    assert read_procfile(sample_apps / "fastapi_gunicorn")["web"].command == (
        "gunicorn -k uvicorn_worker.UvicornWorker main:app"
    )


def test_missing_procfile_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no Procfile in .*create one .*web: gunicorn"):
        read_procfile(tmp_path)
    (tmp_path / "procfile").write_text("web: gunicorn app:app\n")
    if not (tmp_path / "Procfile").exists():  # a case-sensitive file system
        with pytest.raises(UsageError, match="named exactly `Procfile`; rename it"):
            read_procfile(tmp_path)


@pytest.mark.parametrize(
    "content",
    [b"", b"\n\n# only comments\n", b"web:\n", b"-web: x\n", b"web: gunicorn\0app:app\n"],
)
def test_procfile_without_a_process_type(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "Procfile").write_bytes(content)
    with pytest.raises(UsageError, match="declares no process type") as error:
        read_procfile(tmp_path)
    assert "\n" not in str(error.value)


def test_procfile_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "Procfile").mkdir()
    with pytest.raises(UsageError, match="is a folder"):
        read_procfile(tmp_path)


# --- dyno sizes -------------------------------------------------------------------------------

MIB = 1024 * 1024


def test_web_concurrency_formula() -> None:
    assert web_concurrency_for(512, 8) == 2
    assert web_concurrency_for(2560, 2) == 5
    assert web_concurrency_for(128, 8) == 1  # never zero
    assert web_concurrency_for(100_000, 1) == 3


def test_dyno_table_matches_the_buildpacks_published_web_concurrency() -> None:
    # heroku-facts 4.4: the table in WEB_CONCURRENCY.sh, asserted by the buildpack's own spec.
    published = {
        "eco": 2, "basic": 2, "standard-1x": 2,
        "standard-2x": 4, "private-s": 4, "shield-s": 4,
        "performance-m": 5, "private-m": 5, "shield-m": 5,
        "performance-l": 17, "private-l": 17, "shield-l": 17,
        "performance-l-ram": 9, "private-l-ram": 9, "shield-l-ram": 9,
        "performance-xl": 17, "private-xl": 17, "shield-xl": 17,
        "performance-2xl": 33, "private-2xl": 33, "shield-2xl": 33,
    }  # fmt: skip
    cedar = dyno_sizes("cedar")
    assert {size.name: size.web_concurrency for size in cedar} == published
    for size in cedar:
        assert size.web_concurrency == web_concurrency_for(size.memory_bytes // MIB, size.cores)
    # Fir's buildpack sets none (heroku-facts 3.11, 4.4): gunicorn's own default, 1, is what runs.
    assert {size.web_concurrency for size in dyno_sizes("fir")} == {None}
    assert {size.workers for size in dyno_sizes("fir")} == {1}


def test_dyno_memory_and_r15_rules() -> None:
    cgroup_mib = {
        "standard-1x": 512, "standard-2x": 1024, "performance-m": 2560, "performance-l": 14336,
        "performance-l-ram": 30720, "performance-xl": 63488, "performance-2xl": 129024,
        "private-s": 1024, "shield-l-ram": 30720,
    }  # fmt: skip
    for name, mib in cgroup_mib.items():
        assert dyno_by_name(name).memory_bytes == mib * MIB
    assert dyno_by_name("eco").r15_multiplier == 2.0
    assert dyno_by_name("performance-l").r15_multiplier == 2.0
    assert dyno_by_name("performance-xl").r15_multiplier == 1.2
    for size in DYNO_SIZES:
        if size.name.startswith(("private-", "shield-")):
            assert size.r15_multiplier == 1.0
            twin = size.name.split("-", 1)[1]
            if twin != "s":
                performance = dyno_by_name(f"performance-{twin}")
                assert (size.memory_bytes, size.cores) == (performance.memory_bytes, performance.cores)
    # R15 at "1 GB" on standard-1x, "74 GB" on performance-xl (heroku-facts 4.2)
    assert dyno_by_name("standard-1x").memory_bytes * 2.0 == 1024 * MIB
    assert round(dyno_by_name("performance-xl").memory_bytes * 1.2 / 1024**3) == 74


def test_dyno_sizes_are_herokus_table_in_its_order() -> None:
    assert [size.name for size in DYNO_SIZES] == [plan.name for plan in DYNO_PLANS]
    for size, plan in zip(DYNO_SIZES, DYNO_PLANS, strict=True):
        assert (size.memory_bytes, size.r15_multiplier, size.cores, size.web_concurrency) == (
            plan.memory_bytes(),
            plan.r15_multiplier,
            plan.cores,
            plan.web_concurrency,
        )
    assert dyno_by_name(DEFAULT_DYNO).memory_bytes == 512 * MIB


def test_dyno_by_name_is_case_insensitive_and_lists_valid_names() -> None:
    assert dyno_by_name("Standard-2X").name == "standard-2x"
    with pytest.raises(UsageError, match=r"unknown dyno size 'hobby'; choose one of: eco, basic, standard"):
        dyno_by_name("hobby")


# --- the web dyno's environment ---------------------------------------------------------------


def test_dyno_environment_layers(tmp_path: Path) -> None:
    base = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "WEB_CONCURRENCY": "9", "HOME": "/home/dev"}
    env = dyno_environment(
        tmp_path,
        dyno_by_name("performance-m"),
        port=5123,
        dotenv={"SECRET_KEY": "dev", "PYTHONUNBUFFERED": "0", "PORT": "80"},
        base_env=base,
        env_bin="/app/.venv/bin",
    )
    assert env["PATH"] == "/app/.venv/bin:/usr/bin:/bin"
    assert env["LANG"] == "C.UTF-8"  # ${LANG:-en_US.UTF-8}
    assert env["WEB_CONCURRENCY"] == "5"  # the dyno's, not the developer's shell's
    assert env["WEB_CONCURRENCY_SET_BY"] == "heroku/python"
    assert env["DYNO_RAM"] == "2560"
    assert env["FORWARDED_ALLOW_IPS"] == "*"
    assert env["GUNICORN_CMD_ARGS"] == "--access-logfile -"
    assert env["PYTHONPATH"] == str(tmp_path)
    assert env["SECRET_KEY"] == "dev"
    assert env["PYTHONUNBUFFERED"] == "0"  # config vars win over .profile.d
    assert env["PORT"] == "5123"  # Heroku sets PORT last
    assert env["DYNO"] == "web.1"
    assert env["HOME"] == str(tmp_path)  # the app, as /app on a dyno: never the user's home
    assert "PYTHONHOME" not in env
    assert base["WEB_CONCURRENCY"] == "9"  # not modified


def test_dyno_environment_when_the_app_sets_web_concurrency(tmp_path: Path) -> None:
    env = dyno_environment(
        tmp_path,
        dyno_by_name("standard-1x"),
        port=5000,
        dotenv={"WEB_CONCURRENCY": "3", "GUNICORN_CMD_ARGS": "--timeout 20"},
        base_env={"GUNICORN_CMD_ARGS": "--preload", "WEB_CONCURRENCY_SET_BY": "heroku/python"},
        env_bin=None,
    )
    assert env["WEB_CONCURRENCY"] == "3"
    assert "WEB_CONCURRENCY_SET_BY" not in env
    assert env["DYNO_RAM"] == "512"  # exported before the script checks WEB_CONCURRENCY
    assert env["GUNICORN_CMD_ARGS"] == "--timeout 20"
    assert env["LANG"] == "en_US.UTF-8"
    assert "PATH" not in env


# --- Fir ----------------------------------------------------------------------------------------


def test_the_fir_sizes_are_the_cli_s_seventeen_with_cores_and_memory_from_their_names() -> None:
    fir = dyno_sizes("fir")
    # heroku-facts 9.4: the 17 names heroku/cli lists.
    assert len(fir) == 17 and len({size.name for size in fir}) == 17
    assert {size.generation for size in fir} == {"fir"}
    assert not {size.name for size in fir} & {size.name for size in dyno_sizes("cedar")}
    small = dyno_by_name("dyno-1c-0.5gb")
    assert (small.cores, small.memory_bytes) == (1, 512 * MIB)
    large = dyno_by_name("DYNO-16C-128GB")
    assert (large.cores, large.memory_bytes) == (16, 128 * 1024**3)
    # Fir restarts a dyno at 100% of its quota, with no R14 grace (heroku-facts 4.2, 9.4).
    assert {size.r15_multiplier for size in fir} == {1.0}


def test_a_fir_dyno_s_gb_is_gib_by_default_and_gb_with_the_setting(tmp_path: Path) -> None:
    assert dyno_by_name("dyno-2c-1gb").memory_bytes == 1024**3
    assert dyno_by_name("dyno-2c-1gb", "GB").memory_bytes == 1000**3
    assert dyno_by_name("dyno-1c-0.5gb", "GB").memory_bytes == 500_000_000
    assert dyno_by_name("standard-2x", "GB").memory_bytes == 1024 * MIB  # Cedar's is measured: GiB
    assert load_settings(tmp_path, {}).fir_memory_unit == "GiB"
    assert load_settings(tmp_path, {"SLUGPROF_FIR_MEMORY_UNIT": "gb"}).fir_memory_unit == "GB"
    (tmp_path / "pyproject.toml").write_text('[tool.slugprof]\nfir-memory-unit = "GB"\n')
    settings = load_settings(tmp_path, {})
    assert dyno_by_name("dyno-4c-16gb", settings.fir_memory_unit).memory_bytes == 16 * 1000**3
    with pytest.raises(UsageError, match=r"fir-memory-unit = 'MB' is not one of: GiB, GB"):
        load_settings(tmp_path, {"SLUGPROF_FIR_MEMORY_UNIT": "MB"})


def test_a_dyno_of_the_other_generation_is_a_usage_error() -> None:
    assert generation_of("dyno-2c-1gb", "fir") == generation_of("dyno-2c-1gb", None) == "fir"
    assert generation_of(None, None) == generation_of("standard-2x", None) == "cedar"
    with pytest.raises(
        UsageError, match=r"standard-2x is a Cedar dyno size, not a Fir one: choose one of dyno-"
    ):
        generation_of("standard-2x", "fir")
    with pytest.raises(UsageError, match=r"dyno-2c-1gb is a Fir dyno size"):
        generation_of("dyno-2c-1gb", "cedar")


def test_a_fir_dyno_s_environment_has_no_web_concurrency_from_the_platform(tmp_path: Path) -> None:
    fir = dyno_by_name("dyno-2c-1gb")
    base = {"PATH": "/usr/bin", "WEB_CONCURRENCY": "9", "DYNO_RAM": "4096"}
    env = dyno_environment(tmp_path, fir, port=5000, dotenv={}, base_env=base, env_bin=None)
    assert "WEB_CONCURRENCY" not in env and "WEB_CONCURRENCY_SET_BY" not in env and "DYNO_RAM" not in env
    # The app's own config var is what sets it there.
    env = dyno_environment(
        tmp_path, fir, port=5000, dotenv={"WEB_CONCURRENCY": "3"}, base_env=base, env_bin=None
    )
    assert env["WEB_CONCURRENCY"] == "3" and "WEB_CONCURRENCY_SET_BY" not in env
