"""A system unit's secret is root's: the service user cannot hand the gateway a root-only file.

systemd reads `LoadCredential=` as root at every start. The token file once lived in the service
user's state dir, so that user could swap it for `gateway.token -> /etc/shadow` and the next start
made /etc/shadow the gateway's credential. Now the unit loads /etc/credstore/<unit>.token (root's,
0600), which `install --system`, `token rotate --system`, `doctor --fix --system` and the package's
postinst write; status and doctor name it and report a second copy or an old unit that still loads
the state dir's file, and both the package and `doctor --fix` migrate an install of the previous
layout, keeping its token. Profile "cred" on port 18812 for alice; the packaged unit last.
"""

from __future__ import annotations

import json

import pytest

from conftest import SYSTEM_TOKEN, USER, gwclient, wait_for

PROFILE, PORT = "cred", 18812
UNIT = f"openclaw-gateway-{PROFILE}"
STATE = f"/home/{USER}/.openclaw-{PROFILE}"
CRED = f"/etc/credstore/{UNIT}.token"
FLAGS = f"--system --profile {PROFILE}"
URL = f"ws://127.0.0.1:{PORT}"


def read(box, path: str) -> str:
    return box.run(f"cat {path}").stdout.strip()


def gateway_credential(box, unit: str) -> str:
    """What the running service got as its credential (systemd's copy, readable by root)."""
    return read(box, f"/run/credentials/{unit}.service/gateway-token")


def loaded_credential(box, flags: str) -> str:
    """The file the loaded unit's LoadCredential= names, as systemd reports it over D-Bus."""
    status = json.loads(box.run(f"openclaw gateway status {flags} --json", check=False).stdout)
    return status["service"]["tokenFile"]


def restart_and_wait(box, unit: str, url: str, token: str):
    box.run(f"systemctl restart {unit}.service")
    wait_for(lambda: gwclient(box, "hello", token=token, url=url, check=False), 20, what=f"{unit} answering")


@pytest.fixture
def installed(box):
    box.run(f"openclaw gateway uninstall {FLAGS}", check=False)
    box.run(f"rm -rf {STATE} {CRED}", check=False)
    box.run(f"openclaw gateway install {FLAGS} --user-name {USER} --port {PORT}")
    yield
    box.run(f"openclaw gateway uninstall {FLAGS} --purge --yes", check=False)
    box.run(f"rm -rf {STATE} {CRED}", check=False)


def test_the_service_user_cannot_swap_the_credential_for_a_root_file(box, installed):
    assert loaded_credential(box, FLAGS) == CRED
    assert box.run(f"stat -c '%U:%G %a' {CRED} /etc/credstore").stdout.split() == ["root:root", "600", "root:root", "700"]
    assert box.run(f"test -e {STATE}/gateway.token", check=False).returncode != 0, "a second token file"
    # The attack: alice plants the symlink where the token used to be and waits for the next start.
    box.run(f"rm -f {STATE}/gateway.token && ln -s /etc/shadow {STATE}/gateway.token", user=USER)
    assert box.run(f"ln -sf /etc/shadow {CRED}", user=USER, check=False).returncode != 0
    restart_and_wait(box, UNIT, URL, CRED)
    credential = gateway_credential(box, UNIT)
    assert "root:" not in credential and credential == read(box, CRED)
    # Root's CLI does not read through the planted link either: it names it.
    r = box.run(f"openclaw gateway call health {FLAGS}", check=False)
    assert r.returncode == 1 and f"{STATE}/gateway.token" in r.stderr and "symbolic link" in r.stderr, r.stderr
    # Without it, the CLI presents the secret the gateway checks.
    box.run(f"rm -f {STATE}/gateway.token", user=USER)
    r = box.run(f"openclaw gateway call health {FLAGS}", check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_rotate_writes_roots_file_and_the_cli_still_authenticates(box, installed):
    before = read(box, CRED)
    r = box.run(f"openclaw gateway token rotate {FLAGS}", check=False)
    print(r.stdout, r.stderr)
    assert r.returncode == 0 and CRED in r.stdout
    after = read(box, CRED)
    assert after != before and len(after) == 64
    assert box.run(f"stat -c '%U %a' {CRED}").stdout.split() == ["root", "600"]
    assert gateway_credential(box, UNIT) == after
    status = json.loads(box.run(f"openclaw gateway status {FLAGS} --json").stdout)
    assert status["exitCode"] == 0 and status["service"]["tokenFile"] == CRED, status
    assert gwclient(box, "hello", token=CRED, url=URL)[0]["type"] == "hello-ok"


def test_status_and_doctor_name_the_token_file_and_a_stale_copy(box, installed):
    text = box.run(f"openclaw gateway status {FLAGS}").stdout
    assert f"Token:       {CRED}" in text, text
    box.run(f"umask 077 && echo stale > {STATE}/gateway.token", user=USER)
    status = box.run(f"openclaw gateway status {FLAGS}", check=False)
    assert "second token file" in status.stdout + status.stderr
    r = box.run(f"openclaw doctor {FLAGS}", check=False)
    print(r.stdout)
    assert r.returncode != 0 and "token-stale-copy" in r.stdout and CRED in r.stdout
    r = box.run(f"openclaw doctor {FLAGS} --fix", check=False)
    print(r.stdout, r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    assert box.run(f"test -e {STATE}/gateway.token", check=False).returncode != 0


@pytest.fixture
def previous_layout(box, installed) -> str:
    """A system install of the previous version: the unit loads the token from alice's state dir
    (running on it); the token clients have is returned."""
    token = read(box, CRED)
    unit_file = f"/etc/systemd/system/{UNIT}.service"
    box.run(f"sed -i 's|^LoadCredential=.*|LoadCredential=gateway-token:{STATE}/gateway.token|' {unit_file}")
    box.run(f"sed -i 's|^AssertPathExists=.*|AssertPathExists={STATE}/gateway.token|' /etc/systemd/system/{UNIT}.socket")
    box.run(f"umask 077 && echo {token} > {STATE}/gateway.token", user=USER)
    box.run(f"rm {CRED} && systemctl daemon-reload")
    restart_and_wait(box, UNIT, URL, f"{STATE}/gateway.token")
    return token


def assert_migrated(box, token: str):
    """The unit loads root's file, holding the token clients have; the state dir's copy is gone."""
    assert read(box, CRED) == token, "the migration kept the token clients have"
    assert box.run(f"test -e {STATE}/gateway.token", check=False).returncode != 0
    assert loaded_credential(box, FLAGS) == CRED
    assert gwclient(box, "hello", token=CRED, url=URL)[0]["type"] == "hello-ok"


def test_doctor_fix_migrates_a_unit_that_loads_the_state_dirs_token(box, previous_layout):
    r = box.run(f"openclaw doctor {FLAGS}", check=False)
    print(r.stdout)
    assert r.returncode != 0 and "credential-unsafe" in r.stdout and "token-missing" not in r.stdout
    status = box.run(f"openclaw gateway status {FLAGS}", check=False)
    assert "systemd reads as root" in status.stdout + status.stderr
    r = box.run(f"openclaw doctor {FLAGS} --fix", check=False)
    print(r.stdout, r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    assert_migrated(box, previous_layout)


def test_package_upgrade_migrates_a_profile_unit_that_loads_the_state_dirs_token(box, previous_layout):
    """The package's postinst migrates what an earlier `install --system` wrote, instead of leaving
    the profile exposed until someone runs doctor: the same fix, run for each such unit in /etc."""
    r = box.run("dpkg -i /root/openclaw.deb", timeout=180)
    print(r.stdout, r.stderr)
    assert f"{UNIT}.service now loads its token from {CRED}" in r.stdout, r.stdout + r.stderr
    assert_migrated(box, previous_layout)


@pytest.mark.parametrize("old_token", ["copied", "symlink"])
def test_package_upgrade_migrates_the_state_dir_token(box, old_token):
    """postinst of an upgrade from the layout with /var/lib/openclaw/gateway.token: the token moves
    to /etc/credstore (a regular file's bytes are kept; a symlink is never followed as root)."""
    old = "/var/lib/openclaw/gateway.token"
    box.run(f"systemctl --user stop openclaw-gateway.socket openclaw-gateway.service", user=USER, check=False)
    token = read(box, SYSTEM_TOKEN)
    if old_token == "copied":
        box.run(f"install -m 600 -o openclaw -g openclaw {SYSTEM_TOKEN} {old}")
    else:
        box.run(f"ln -s /etc/shadow {old} && chown -h openclaw:openclaw {old}")
    box.run(f"rm {SYSTEM_TOKEN}")
    box.run("dpkg -i /root/openclaw.deb", timeout=120)
    assert box.run(f"test -e {old} || test -L {old}", check=False).returncode != 0, "the old copy stayed"
    assert box.run(f"stat -c '%U %a' {SYSTEM_TOKEN}").stdout.split() == ["root", "600"]
    migrated = read(box, SYSTEM_TOKEN)
    if old_token == "copied":
        assert migrated == token
    else:
        assert "root:" not in migrated and len(migrated) == 64
    box.run("systemctl start openclaw-gateway.socket")
    try:
        assert gwclient(box, "hello", token=SYSTEM_TOKEN)[0]["type"] == "hello-ok"
        assert gateway_credential(box, "openclaw-gateway") == migrated
    finally:
        box.run("systemctl stop openclaw-gateway.socket openclaw-gateway.service", check=False)
