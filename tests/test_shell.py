"""The shell lexer against the real /bin/sh: words, operators, lists, quoting."""

from __future__ import annotations

import subprocess

import pytest

from slugprof.shell import Operator, ShellSyntaxError, Word, command_list, join, quote, tokens


def sh_words(text: str) -> list[str]:
    """The arguments /bin/sh passes for `text` (no expansion in it): one per printed line."""
    completed = subprocess.run(
        ["/bin/sh", "-c", f"printf '%s\\0' {text}"], capture_output=True, check=True, timeout=10
    )
    return completed.stdout.decode().split("\0")[:-1]


def values(text: str) -> list[str]:
    return [token.value for token in tokens(text) if isinstance(token, Word)]


@pytest.mark.parametrize(
    "text",
    [
        "gunicorn app:app --workers 3",
        "  spaced\tout  words ",
        "-c 'conf/g unicorn.py' ALLOW='*'",
        '"double \\"quoted\\" \\\\ \\x" mixed\'single\'"double"bare',
        "back\\ slashed\\'s \\\\ end",
        "a\\\nb 'line\ncontinued'",
        "'' \"\" empty",
        "hash#inside word # a comment",
    ],
)
def test_word_values_are_what_sh_passes(text: str) -> None:
    assert values(text) == sh_words(text)


@pytest.mark.parametrize(
    "value", ["plain", "with space", "it's", 'say "hi"', "$PORT", "`date`", "a\\b", "", "*", "new\nline"]
)
def test_quote_gives_sh_the_value_back(value: str) -> None:
    assert sh_words(quote(value)) == [value]
    assert sh_words(join([value, "next"])) == [value, "next"]


def test_words_know_where_they_are() -> None:
    text = "FOO=1 exec  gunicorn 'a b'"
    words = [token for token in tokens(text) if isinstance(token, Word)]
    assert [text[word.start : word.end] for word in words] == ["FOO=1", "exec", "gunicorn", "'a b'"]
    assert words[-1].value == "a b"


def test_expansions_stay_whole_and_unexpanded() -> None:
    assert values('gunicorn -b 0.0.0.0:$PORT --name "$(hostname -s)" x$(echo "a b" `id`)y') == [
        "gunicorn",
        "-b",
        "0.0.0.0:$PORT",
        "--name",
        "$(hostname -s)",
        'x$(echo "a b" `id`)y',
    ]
    assert values("${WEB_CONCURRENCY:-2 x} `date +%s`") == ["${WEB_CONCURRENCY:-2 x}", "`date +%s`"]
    assert values("$(( 1 + (2) ))") == ["$(( 1 + (2) ))"]


def test_brackets_quoted_or_escaped_inside_an_expansion_do_not_close_it() -> None:
    assert values('$(echo \')\' ")" \\) ${X:-"}"}) next') == ['$(echo \')\' ")" \\) ${X:-"}"})', "next"]
    assert values("`echo \\` x` next") == ["`echo \\` x`", "next"]
    assert values("${A:-$(echo })} next") == ["${A:-$(echo })}", "next"]


def test_operators_and_redirections() -> None:
    text = "a&&b||c|d&e;f\ng 2>&1 >|log &>all <in"
    found = [
        (type(token).__name__, token.value if isinstance(token, Word) else token.text)
        for token in tokens(text)
    ]
    assert found == [
        ("Word", "a"),
        ("Operator", "&&"),
        ("Word", "b"),
        ("Operator", "||"),
        ("Word", "c"),
        ("Operator", "|"),
        ("Word", "d"),
        ("Operator", "&"),
        ("Word", "e"),
        ("Operator", ";"),
        ("Word", "f"),
        ("Operator", "\n"),
        ("Word", "g"),
        ("Operator", "2>&"),
        ("Word", "1"),
        ("Operator", ">|"),
        ("Word", "log"),
        ("Operator", "&>"),
        ("Word", "all"),
        ("Operator", "<"),
        ("Word", "in"),
    ]
    redirection = tokens("x 2>&1")[1]
    assert isinstance(redirection, Operator) and redirection.is_redirection
    assert values("app:app>log 2x>y") == ["app:app", "log", "2x", "y"]  # only digits make a descriptor


def test_command_list() -> None:
    def words(text: str) -> list[list[str]] | None:
        commands = command_list(text)
        return None if commands is None else [[word.value for word in command] for command in commands]

    assert words("cd backend && python manage.py migrate; gunicorn p.wsgi 2>&1 ;") == [
        ["cd", "backend"],
        ["python", "manage.py", "migrate"],
        ["gunicorn", "p.wsgi"],
    ]
    assert words("release\nweb > log.txt") == [["release"], ["web"]]
    assert words("") == []
    for not_a_list in ("gunicorn app | tee log", "a || b", "worker & gunicorn app", "gunicorn &"):
        assert words(not_a_list) is None, not_a_list
    assert words("echo '|' \"&&\" \\; $(a | b)") == [["echo", "|", "&&", ";", "$(a | b)"]]


@pytest.mark.parametrize(
    ("text", "message", "sh_rejects"),
    [
        ("gunicorn 'app:app", "a quote is not closed", True),
        ('say "hi', "a quote is not closed", True),
        ("echo $(date", "a $( is not closed", True),
        ("echo `date", "a ` is not closed", True),
        # sh's parser takes a last backslash as a literal one; the lexer refuses it all the same
        ("trailing \\", "ends with a backslash", False),
    ],
)
def test_text_the_shell_would_not_run(text: str, message: str, sh_rejects: bool) -> None:
    with pytest.raises(ShellSyntaxError, match=message.replace("$", r"\$").replace("(", r"\(")):
        tokens(text)
    completed = subprocess.run(["/bin/sh", "-n", "-c", text], capture_output=True, timeout=10)
    assert (completed.returncode != 0) is sh_rejects, completed.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [("(cd x && gunicorn app)", "subshells"), ("gunicorn >", "no file"), ("a > ; b", "no file")],
)
def test_lists_this_reader_refuses(text: str, message: str) -> None:
    with pytest.raises(ShellSyntaxError, match=message):
        command_list(text)
