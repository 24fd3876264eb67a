"""Statement splitting, prompts, scripts and backslash commands of the shell, over a
recording session (the SQL itself is not run; see test_cli.py for the real engine)."""

from __future__ import annotations

import io

import pytest

from sqlvec import errors
from sqlvec.result import Result
from sqlvec.shell import Shell, StatementSplitter


class Recorder:
    """execute_iter records the text it gets; 'nope' fails with a position, like PostgreSQL."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.transaction_status = "I"

    def execute_iter(self, sql: str, params=None):
        self.sent.append(sql)
        if "nope" in sql:
            raise errors.UndefinedTable(
                'relation "nope" does not exist', position=sql.index("nope") + 1
            )
        yield Result(sql.split()[0].upper().rstrip(";"))


def split(text: str) -> list[str]:
    sp = StatementSplitter()
    out = []
    for n, line in enumerate(text.split("\n"), 1):
        out.extend(s for s, _ in sp.feed(line, n))
    return out


def test_split_on_semicolons_outside_quotes_comments_and_parens():
    assert split("select 1; select 2;") == ["select 1;", "select 2;"]
    assert split("select ';' as a;") == ["select ';' as a;"]
    assert split("select 'it''s;' ;") == ["select 'it''s;' ;"]
    assert split('select 1 as "a;b";') == ['select 1 as "a;b";']
    assert split("select E'\\';' ;") == ["select E'\\';' ;"]
    assert split("select $$a;b$$, $t$x;$$;y$t$;") == ["select $$a;b$$, $t$x;$$;y$t$;"]
    assert split("select $1; select 2;") == ["select $1;", "select 2;"]
    assert split("select 1 /* ; /* nested ; */ ; */ ;") == ["select 1 /* ; /* nested ; */ ; */ ;"]
    assert split("create rule r as on insert to t do (select 1; select 2);") == [
        "create rule r as on insert to t do (select 1; select 2);"
    ]
    assert split("select 1 -- trailing; comment\n;") == ["select 1 -- trailing; comment\n;"]


def test_split_keeps_lines_and_drops_leading_comments():
    sp = StatementSplitter()
    assert sp.feed("-- just a comment;", 1) == []
    assert sp.state == "="
    assert sp.feed("  select", 2) == []
    assert sp.state == "-"
    assert sp.feed("  1;  select 2;", 3) == [("select\n  1;", 2), ("select 2;", 3)]
    assert sp.state == "="


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("select 'abc", "'"),
        ('select "ab', '"'),
        ("select $$x", "$"),
        ("select (1,", "("),
        ("select /* c", "*"),
        ("select 1", "-"),
    ],
)
def test_prompt_state_shows_what_is_open(text, state):
    sp = StatementSplitter()
    sp.feed(text)
    assert sp.state == state


def make_shell():
    out, err = io.StringIO(), io.StringIO()
    rec = Recorder()
    return Shell(rec, out=out, err=err), rec, out, err


def test_script_runs_each_statement_and_prefixes_errors_with_file_and_line():
    shell, rec, out, err = make_shell()
    ok = shell.run_lines(
        ["create table t (a int);", "", "select *", "from nope;", "insert into t values (1)"],
        name="s.sql",
    )
    assert not ok
    assert rec.sent == [
        "create table t (a int);",
        "select *\nfrom nope;",
        "insert into t values (1)",
    ]
    assert out.getvalue() == "CREATE\nINSERT\n"
    assert err.getvalue() == (
        'sqlvec:s.sql:3: ERROR:  relation "nope" does not exist\n'
        "LINE 2: from nope;\n"
        "             ^\n"
    )


def test_stop_on_error():
    shell, rec, out, err = make_shell()
    assert not shell.run_lines(["select nope;", "select 2;"], stop_on_error=True)
    assert rec.sent == ["select nope;"]


def test_prompt_follows_psql():
    shell, rec, _, _ = make_shell()
    assert shell.prompt() == "postgres=# "
    shell.splitter.feed("select (")
    assert shell.prompt() == "postgres(# "
    shell.splitter.reset()
    rec.transaction_status = "T"
    assert shell.prompt() == "postgres=*# "
    rec.transaction_status = "E"
    assert shell.prompt() == "postgres=!# "


def test_backslash_commands():
    shell, rec, out, err = make_shell()
    shell.run_lines(
        ["\\timing on", "\\?", "select 1", "\\g", "\\d t", "\\bogus", "\\q", "select 2;"]
    )
    text = out.getvalue()
    assert text.startswith("Timing is on.\n")
    assert "\\timing [on|off]" in text
    assert rec.sent == ["select 1"]  # \g ran the buffer; \q stopped before "select 2"
    assert "Time: " in text
    assert "\\d is not supported yet" in err.getvalue()
    assert "invalid command \\bogus\nTry \\? for help.\n" in err.getvalue()


def test_run_command_prints_every_result():
    shell, rec, out, err = make_shell()
    assert shell.run_command("create x; drop y")
    assert out.getvalue() == "CREATE\n"  # the recorder yields one result per call
    assert not shell.run_command("select nope")
    assert err.getvalue().startswith(
        'ERROR:  relation "nope" does not exist\nLINE 1: select nope\n'
    )
