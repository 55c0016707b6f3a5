"""Root never follows the service user's symlinks (issue 14, item 4).

`install --system` and `doctor --fix` run as root but write the token and the
config into the service user's state dir. With `gateway.token -> /etc/shadow`
or a state dir symlinked to a root-only directory, root once chmod/chowned the
target to that user; and reading through it, root presented the target's first
line as its token. Profile "evil" on port 18811, alice's ~/.openclaw-evil.
"""

from __future__ import annotations

import pytest

from conftest import USER

PROFILE, PORT = "evil", 18811
STATE = f"/home/{USER}/.openclaw-{PROFILE}"
FLAGS = f"--system --profile {PROFILE}"


def owner_and_mode(box, path: str) -> str:
    return box.run(f"stat -c '%U:%G %a' {path}").stdout.strip()


@pytest.fixture(autouse=True)
def clean_evil_profile(box):
    box.run(f"openclaw gateway uninstall {FLAGS}", check=False)
    box.run(f"rm -rf {STATE}", check=False)
    yield
    box.run(f"openclaw gateway uninstall {FLAGS}", check=False)
    box.run(f"rm -rf {STATE} /srv/rootonly", check=False)


def test_install_refuses_a_token_file_symlinked_to_shadow(box):
    before = owner_and_mode(box, "/etc/shadow")
    box.run(f"mkdir -m 700 {STATE} && ln -s /etc/shadow {STATE}/gateway.token", user=USER)
    r = box.run(f"openclaw gateway install {FLAGS} --user-name {USER} --port {PORT}", check=False)
    print(r.stdout, r.stderr)
    assert r.returncode != 0
    assert f"{STATE}/gateway.token" in r.stderr and "symbolic link" in r.stderr
    assert owner_and_mode(box, "/etc/shadow") == before


def test_install_refuses_a_state_dir_symlinked_to_a_root_directory(box):
    box.run("mkdir -p -m 700 /srv/rootonly")
    before = owner_and_mode(box, "/srv/rootonly")
    box.run(f"ln -s /srv/rootonly {STATE}", user=USER)
    r = box.run(f"openclaw gateway install {FLAGS} --user-name {USER} --port {PORT}", check=False)
    print(r.stdout, r.stderr)
    assert r.returncode != 0 and "symbolic link" in r.stderr
    assert owner_and_mode(box, "/srv/rootonly") == before
    assert box.run("ls -A /srv/rootonly").stdout.strip() == ""


def test_doctor_fix_does_not_chown_through_a_token_symlink(box):
    """Installed for alice; alice then swaps her token file for a symlink and waits for root's doctor --fix."""
    box.run(f"openclaw gateway install {FLAGS} --user-name {USER} --port {PORT}")
    before = owner_and_mode(box, "/etc/shadow")
    box.run(f"rm -f {STATE}/gateway.token && ln -s /etc/shadow {STATE}/gateway.token", user=USER)
    r = box.run(f"openclaw doctor {FLAGS} --fix", check=False)
    print(r.stdout, r.stderr)
    assert r.returncode != 0
    assert "token-symlink" in r.stdout and "symbolic link" in r.stdout
    assert owner_and_mode(box, "/etc/shadow") == before


def test_root_writes_into_the_users_state_dir_as_the_user(box):
    """A token file that is a hard link or lives behind the user's own symlinked
    parent is still only written with the user's rights; the normal install works."""
    r = box.run(f"openclaw gateway install {FLAGS} --user-name {USER} --port {PORT}", check=False)
    print(r.stdout, r.stderr)
    assert r.returncode == 0, r.stderr
    assert owner_and_mode(box, STATE) == f"{USER}:{USER} 700"
    # The token is root's (/etc/credstore): the state dir holds none the service user could swap.
    assert owner_and_mode(box, f"/etc/credstore/openclaw-gateway-{PROFILE}.token") == "root:root 600"
    assert box.run(f"test -e {STATE}/gateway.token", check=False).returncode != 0


FAKE_GATEWAY = """
import asyncio, json, sys
import websockets

async def main(port, out):
    done = asyncio.get_running_loop().create_future()
    async def serve(ws):
        await ws.send(json.dumps({"type": "event", "event": "connect.challenge", "payload": {"nonce": "n", "ts": 0}}))
        with open(out, "w") as f:
            f.write(await ws.recv())
        done.set_result(None)
    async with websockets.serve(serve, "127.0.0.1", port):
        print("listening", flush=True)
        await asyncio.wait_for(done, 30)

asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
"""


def test_root_never_presents_a_secret_read_through_the_users_symlink(box):
    """`sudo openclaw gateway status --system` with nothing installed acts on SUDO_USER's state dir:
    root once read her `gateway.token -> /etc/shadow` and sent it to the port her config names."""
    box.run(f"mkdir -m 700 {STATE} && echo '{{\"gateway\": {{\"port\": {PORT}}}}}' > {STATE}/openclaw.json "
            f"&& ln -s /etc/shadow {STATE}/gateway.token", user=USER)
    box.write("/usr/local/lib/fake_gateway.py", FAKE_GATEWAY)
    captured = f"/home/{USER}/captured"
    fake = box.popen(f"exec runuser -u {USER} -- python3 /usr/local/lib/fake_gateway.py {PORT} {captured}")
    try:
        assert fake.stdout.readline().strip() == "listening"
        r = box.run(f"SUDO_USER={USER} openclaw gateway status {FLAGS} --timeout 3000", check=False)
        print(r.stdout, r.stderr)
        sent = box.run(f"cat {captured}", check=False).stdout
        assert "root:" not in sent, sent
        assert "symbolic link" in r.stdout + r.stderr, "the refusal names the cause"
    finally:
        fake.kill()
        box.run(f"rm -f {captured} /usr/local/lib/fake_gateway.py", check=False)
