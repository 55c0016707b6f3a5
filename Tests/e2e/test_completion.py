"""`openclaw completion bash|zsh|fish` loaded into the real shells: what a user gets on TAB."""
import shutil
import subprocess

import pytest

from conftest import BIN


def script(shell):
    return subprocess.run([BIN, "completion", shell], capture_output=True, text=True, check=True).stdout


def bash_complete(line):
    words = line.split(" ")
    program = (script("bash") + "\nCOMP_WORDS=(" + " ".join(f"'{w}'" for w in words) + ")\n"
               f"COMP_CWORD={len(words) - 1}\n_openclaw\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    out = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def zsh_complete(line):
    words = line.split(" ")
    # Outside the completion system `words`, `CURRENT` and `PREFIX` are plain variables, and
    # _describe/_message are stand-ins that print what the real ones would offer.
    program = ("_describe() { local n=${@[-1]}; print -l -- ${${(P)n}%%:*} }\n_message() { print MESSAGE }\n"
               + script("zsh").replace('_openclaw "$@"', "")
               + "\nwords=(" + " ".join(f"'{w}'" for w in words) + f")\nCURRENT={len(words)}\n"
               f"PREFIX='{words[-1]}'\n_openclaw | grep -- \"^$PREFIX\"\n")
    out = subprocess.run(["zsh", "-fc", program], capture_output=True, text=True).stdout
    return set(out.split())


def fish_complete(line):
    program = f"source (echo {shlex_quote(script('fish'))} | psub); complete -C {shlex_quote(line)}"
    out = subprocess.run(["fish", "--no-config", "-c", program], capture_output=True, text=True, check=True).stdout
    return {row.split("\t")[0] for row in out.splitlines()}


def shlex_quote(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


COMPLETERS = {"bash": bash_complete, "zsh": zsh_complete, "fish": fish_complete}
CASES = [
    ("openclaw gat", {"gateway"}),
    ("openclaw gateway re", {"restart", "reload"}),
    ("openclaw gateway status --j", {"--json"}),
    ("openclaw --profile work gateway sta", {"start", "status"}),
    ("openclaw logs --limit 5 --fo", {"--follow"}),
    ("openclaw completion ", {"bash", "zsh", "fish"}),
    ("openclaw message send --t", {"--target", "--token"}),
]


@pytest.mark.parametrize("shell", sorted(COMPLETERS))
@pytest.mark.parametrize("line,expected", CASES)
def test_tab_offers_what_the_parser_accepts(shell, line, expected):
    if shutil.which(shell) is None:
        pytest.fail(f"{shell} is not installed (make deps-test installs it)")
    got = COMPLETERS[shell](line)
    assert expected <= got, f"{shell}: '{line}' offered {sorted(got)}"
