"""Issue 10 item 3 (and the package side of 5): the .deb behaves like a Debian service.

Upgrade to a rebuilt package with a higher version (the same binary, stamped with the new
version by packaging/build-deb.sh), then remove, then purge; the original package is
installed again at the end for the modules that follow.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from conftest import SYSTEM_TOKEN, USER, as_user as user, gwclient, gwclient_background, unit_props, wait_for

SERVICE, SOCKET = "openclaw-gateway.service", "openclaw-gateway.socket"
PROFILE, PROFILE_PORT = "pkg", 18796


def nothing_running(box):
    return box.run("pgrep -x openclaw", check=False).stdout.strip() == ""


def dangling_links(box):
    return box.run(f"find /etc/systemd /home/{USER}/.config/systemd -xtype l", check=False).stdout.strip()


@pytest.fixture(scope="module", autouse=True)
def restore_package(box):
    """Whatever the tests did, the original package is installed (and nothing enabled) afterwards."""
    user(box, f"systemctl --user stop {SOCKET} {SERVICE}", check=False)
    yield
    user(box, f"openclaw --profile {PROFILE} gateway uninstall --purge --yes", check=False)
    box.run(f"systemctl disable --now {SOCKET} {SERVICE}", check=False)
    box.run("dpkg -i /root/openclaw.deb", timeout=120)


def test_completions_and_documents_are_installed(box):
    for path in ["/usr/share/bash-completion/completions/openclaw", "/usr/share/zsh/vendor-completions/_openclaw",
                 "/usr/share/fish/vendor_completions.d/openclaw.fish", "/usr/share/man/man1/openclaw.1.gz",
                 "/usr/lib/sysusers.d/openclaw.conf", "/usr/lib/tmpfiles.d/openclaw.conf"]:
        box.run(f"test -s {path}")
    words = box.run("bash -c 'source /usr/share/bash-completion/completions/openclaw; "
                    "COMP_WORDS=(openclaw gateway re); COMP_CWORD=2; _openclaw; echo ${COMPREPLY[@]}'").stdout.split()
    assert {"reload", "restart"} <= set(words), words
    # Every document --help or the manual names is in the package.
    texts = box.run("openclaw manual; for c in 'gateway status' 'gateway' 'logs' ''; do openclaw $c --help; done")
    named = set(re.findall(r"/usr/share/doc/openclaw/[\w-]+\.md", texts.stdout.replace("\\-", "-")))
    assert named, "no document named"
    for path in named:
        box.run(f"test -s {path}")
    assert box.run("getent passwd openclaw").stdout.split(":")[5] == "/var/lib/openclaw"
    assert box.run("stat -c '%U %a' /var/lib/openclaw").stdout.strip() == "openclaw 700"


def test_upgrade_restarts_the_system_gateway_and_names_old_user_gateways(box, newer_deb):
    old, new = newer_deb
    box.run(f"systemctl enable --now {SOCKET} {SERVICE}")
    assert gwclient(box, "hello", token=SYSTEM_TOKEN)[0]["server"]["version"] == old
    user(box, f"openclaw --profile {PROFILE} gateway install --port {PROFILE_PORT}")
    loop = gwclient_background(box, "loop", 10, token=SYSTEM_TOKEN)
    time.sleep(1)  # the loop is connecting before and through the upgrade
    upgrade = box.run("dpkg -i /root/openclaw-newer.deb", timeout=120)
    print(upgrade.stdout)
    counts = json.loads(loop.communicate(timeout=30)[0].splitlines()[-1])
    assert counts["refused"] == 0 and counts["ok"] > 0, counts
    hello = gwclient(box, "hello", token=SYSTEM_TOKEN)[0]
    assert hello["server"]["version"] == new, hello
    assert f"the gateway of user {USER}" in upgrade.stdout and "openclaw gateway restart" in upgrade.stdout

    status = user(box, f"openclaw --profile {PROFILE} gateway status", check=False).stdout
    assert f"runs version {old}" in status and f"openclaw --profile {PROFILE} gateway restart" in status, status
    user(box, f"openclaw --profile {PROFILE} gateway restart")
    status = user(box, f"openclaw --profile {PROFILE} gateway status", check=False).stdout
    assert "runs version" not in status, status
    version = json.loads(box.run("openclaw --version --json").stdout)
    assert version["version"] == new and version["commit"] and version["buildDate"], version


def test_remove_stops_everything_and_leaves_no_dangling_links(box):
    assert unit_props(box, SERVICE, "ActiveState", user=None)["ActiveState"] == "active"
    assert box.run("systemctl is-enabled openclaw-gateway.socket").stdout.strip() == "enabled"
    box.run("dpkg -r openclaw", timeout=120)
    wait_for(lambda: nothing_running(box), 10, what="every openclaw process gone")
    assert dangling_links(box) == ""
    assert box.run(f"test -d /var/lib/openclaw && test -s {SYSTEM_TOKEN}", check=False).returncode == 0, "remove kept state"


def test_purge_removes_state_after_stopping(box):
    box.run("dpkg -i /root/openclaw.deb", timeout=120)
    box.run(f"systemctl enable --now {SOCKET} {SERVICE}")
    assert gwclient(box, "hello", token=SYSTEM_TOKEN)[0]["type"] == "hello-ok"
    box.run("dpkg -P openclaw", timeout=120)
    assert nothing_running(box)
    assert box.run(f"test -e /var/lib/openclaw || test -e {SYSTEM_TOKEN}", check=False).returncode != 0
    assert dangling_links(box) == ""
    # The gateway stopped cleanly before its state went away.
    journal = box.run(f"journalctl -u {SERVICE} -o cat --no-pager -n 20").stdout
    assert "gateway stopped" in journal, journal
