"""Issue 10 items 4 and 6: one gateway per profile (also beside systemd's), serialized installs,
token rotation."""

from __future__ import annotations

from conftest import USER, USER_TOKEN, as_user as user, gwclient, unit_props, wait_for

SERVICE = "openclaw-gateway.service"


def test_a_gateway_by_hand_beside_the_systemd_one_is_refused(box, user_gateway):
    pid = wait_for(lambda: int(unit_props(box, SERVICE, "MainPID")["MainPID"]), 10, what="a main pid")
    r = user(box, "timeout 20 openclaw gateway --port 18799", check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"pid {pid}" in r.stderr and f"/home/{USER}/.openclaw" in r.stderr, r.stderr
    assert unit_props(box, SERVICE, "MainPID")["MainPID"] == str(pid)


def test_concurrent_installs_are_serialized_and_truthful(box):
    profile = "conc"
    try:
        out = user(box, f"for i in 1 2 3; do openclaw --profile {profile} gateway install --port 18797 "
                        f"> /tmp/install-$i.out 2>&1 & done; wait; cat /tmp/install-*.out; "
                        f"echo EXITS; grep -c . /tmp/install-*.out >/dev/null", check=False).stdout
        print(out)
        assert out.count("(generated)") == 1, out
        assert out.count("(existing)") == 2, out
        assert out.count("Installed openclaw-gateway-conc.service") == 1, out
        assert "error" not in out.lower(), out
        token = user(box, f"cat /home/{USER}/.openclaw-{profile}/gateway.token").stdout.strip()
        hello = gwclient(box, "hello", token=f"/home/{USER}/.openclaw-{profile}/gateway.token",
                         url="ws://127.0.0.1:18797")[0]
        assert hello["type"] == "hello-ok" and token
    finally:
        user(box, f"openclaw --profile {profile} gateway uninstall --purge --yes; rm -f /tmp/install-*.out",
             check=False)
    assert user(box, f"test -e /home/{USER}/.openclaw-{profile}", check=False).returncode != 0, "purge left state"


def test_token_rotate_restarts_with_a_new_secret(box, user_gateway):
    old = user(box, f"cat {USER_TOKEN}").stdout.strip()
    user(box, f"cp {USER_TOKEN} /tmp/old.token")
    r = user(box, "openclaw gateway token rotate", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    new = user(box, f"cat {USER_TOKEN}").stdout.strip()
    assert new and new != old
    assert user(box, f"stat -c %a {USER_TOKEN}").stdout.strip() == "600"
    assert gwclient(box, "hello")[0]["type"] == "hello-ok"
    refused = gwclient(box, "until-hello", 0, token="/tmp/old.token", check=False)
    assert refused and "AUTH_TOKEN_MISMATCH" in str(refused), refused
