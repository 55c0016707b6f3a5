"""A Node agent backend answers turns under the installed units.

Under the user unit each run is a transient unit of alice's manager
(`openclaw-agent-*.service`, visible while it runs), with its CPU time and peak
memory in the result and in `status`. Under the system unit (whose unprivileged
User= may not start units) runs are forked in the gateway's sandbox, which is
why the system unit has no MemoryDenyWriteExecute=; `status.agent.forkReason`
says so. Both read the API key from the state dir's agent.env (0600).

Profiles "agentu" (user, port 18841) and "agents" (system, port 18842); removed afterwards.
"""

from __future__ import annotations

import json

from conftest import INSIDE, USER, figure, wait_for

BACKEND = f"{INSIDE}/agent_backend.js"


def configure(box, state):
    """Adds the agent section and the API key file to an installed profile's state dir."""
    script = (
        "import json,os;"
        f"p='{state}/openclaw.json';"
        "c=json.load(open(p)) if os.path.exists(p) else {};"
        f"c['agent']={{'command':['node','{BACKEND}'],'timeoutSeconds':60,'memoryMaxMB':512,'cpuQuotaPercent':150}};"
        "json.dump(c,open(p,'w'))"
    )
    box.run(f"python3 -c \"{script}\"", user=USER)
    box.run(f"umask 077 && printf 'OPENCLAW_TEST_API_KEY=k-123\\n' > {state}/agent.env", user=USER)


def agent(box, profile, message, session, system=False, background=False):
    cmd = (f"openclaw --profile {profile} agent --message '{message}' --session {session} --json"
           + (" --system" if system else ""))
    if background:
        return box.popen(f"exec runuser -u {USER} -- env XDG_RUNTIME_DIR=/run/user/$(id -u {USER}) {cmd}")
    r = box.run(cmd, user=USER, check=False, timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def test_node_backend_runs_as_a_transient_unit_under_the_user_unit(box):
    profile, port, state = "agentu", 18841, f"/home/{USER}/.openclaw-agentu"
    box.run(f"openclaw gateway uninstall --profile {profile}", user=USER, check=False)
    try:
        box.run(f"openclaw gateway install --profile {profile} --port {port}", user=USER)
        configure(box, state)
        box.run(f"systemctl --user restart openclaw-gateway-{profile}.service", user=USER)

        first = agent(box, profile, "hello", "node-test")
        print(json.dumps(first, indent=1))
        assert first["status"] == "ok", first
        assert first["result"]["text"].startswith("node v") and "says: hello (turns 0, key k-123" in first["result"]["text"]
        assert first["unit"].startswith("openclaw-agent-") and first["unit"].endswith(".service")
        usage = first["usage"]
        # "unit" with cgroup accounting (cgroup v2); on a cgroup v1 host the unit has none, and the
        # backend process's own figures, sampled from /proc while it runs, stand in.
        assert usage["scope"] in ("unit", "process") and usage["cpuUsageNSec"] > 0, usage
        assert usage["memoryPeakBytes"] > 1 << 20, usage
        figure("node turn as a transient unit: usage scope, CPU, peak memory",
               f"{usage['scope']}, {usage['cpuUsageNSec'] / 1e6:.0f} ms, {usage['memoryPeakBytes'] / 2**20:.1f} MiB")

        # A slow turn: its unit is there while it runs, with the limits from the config; the second turn sees the first.
        proc = agent(box, profile, "slow second", "node-test", background=True)

        def running_unit():
            out = box.run("systemctl --user list-units --no-legend --plain 'openclaw-agent-*'", user=USER).stdout
            return next((line.split()[0] for line in out.splitlines() if "running" in line), None)

        unit = wait_for(running_unit, 15, what="an openclaw-agent-* unit running")
        props = box.run(f"systemctl --user show {unit} -p MemoryMax -p CPUQuotaPerSecUSec -p MemoryDenyWriteExecute "
                        "-p Description", user=USER).stdout
        print(props)
        assert "MemoryMax=536870912" in props and "CPUQuotaPerSecUSec=1.500000s" in props
        assert "MemoryDenyWriteExecute=no" in props and "session node-test" in props
        status = json.loads(box.run(f"openclaw --profile {profile} gateway call status --json", user=USER).stdout)
        print(json.dumps(status.get("agent"), indent=1))
        assert status["agent"]["runner"] == "unit" and status["agent"]["manager"] == "user"
        assert [r["unit"] for r in status["agent"]["running"]] == [unit]
        out, _ = proc.communicate(timeout=60)
        second = json.loads(out)
        assert second["status"] == "ok" and "says: slow second (turns 2" in second["result"]["text"], second
        assert second["unit"] == unit
        # Gone once read: the manager forgets finished runs.
        wait_for(lambda: running_unit() is None, 10, what="the run's unit to go away")
        # Its stderr and start are in the journal under its own unit.
        journal = box.run(f"journalctl --user -u {unit} --no-pager -o cat", user=USER, check=False).stdout
        assert "OpenClaw agent run" in journal, journal
        # A backend that leaves a setsid'd process behind: the run's unit ends it with the run.
        # That needs the user manager to give units cgroups: on a cgroup v1 host (the nspawn container
        # on one) it has none, systemd cannot find the leftover, and the figure says so.
        third = agent(box, profile, "daemonize", "node-test")
        assert third["status"] == "ok", third
        has_cgroups = box.run(f"systemctl --user show -p ControlGroup --value openclaw-gateway-{profile}.service",
                              user=USER).stdout.strip() != ""
        leftover = int(third["result"]["text"].rsplit(" daemon ", 1)[1])
        if has_cgroups:
            wait_for(lambda: box.run(f"test -e /proc/{leftover}", check=False).returncode != 0, 10,
                     what=f"the setsid'd leftover (pid {leftover}) to die with the run's unit")
        else:
            figure("setsid'd leftover of a unit run", "not checked: this user manager has no cgroups (cgroup v1 host)")
            box.run(f"kill {leftover}", check=False)
        # API keys readable by others are refused, and doctor says so and fixes it.
        box.run(f"chmod 644 {state}/agent.env", user=USER)
        r = box.run(f"openclaw --profile {profile} doctor", user=USER, check=False)
        assert "agent.env (the agent backend's API keys) has mode 644" in r.stdout + r.stderr, r.stdout + r.stderr
        box.run(f"openclaw --profile {profile} doctor --fix", user=USER, check=False)
        assert box.run(f"stat -c %a {state}/agent.env").stdout.strip() == "600"
    finally:
        box.run(f"openclaw gateway uninstall --profile {profile}", user=USER, check=False)
        box.run(f"rm -rf {state}", check=False)


def test_node_backend_answers_under_the_system_unit(box):
    profile, port, state = "agents", 18842, f"/home/{USER}/.openclaw-agents"
    box.run(f"openclaw gateway uninstall --system --profile {profile}", check=False)
    try:
        box.run(f"openclaw gateway install --system --user-name {USER} --profile {profile} --port {port}")
        configure(box, state)
        box.run(f"systemctl restart openclaw-gateway-{profile}.service")
        answer = agent(box, profile, "hello system", "sys-test", system=True)
        print(json.dumps(answer, indent=1))
        assert answer["status"] == "ok", answer
        assert "says: hello system (turns 0, key k-123" in answer["result"]["text"]
        usage = answer["usage"]
        assert usage["cpuUsageNSec"] > 0 and usage["memoryPeakBytes"] > 1 << 20, usage
        figure("node turn under the system unit: runner, CPU, peak memory",
               f"{usage['scope']}, {usage['cpuUsageNSec'] / 1e6:.0f} ms, {usage['memoryPeakBytes'] / 2**20:.1f} MiB")
        status = json.loads(box.run(f"openclaw --profile {profile} gateway call status --system --json").stdout)
        print(json.dumps(status.get("agent"), indent=1))
        if "unit" not in answer:
            assert status["agent"]["runner"] == "fork" and status["agent"]["forkReason"], status["agent"]
    finally:
        box.run(f"openclaw gateway uninstall --system --profile {profile}", check=False)
        box.run(f"rm -rf {state}", check=False)
