"""Static checks of the shipped and the installer-rendered units, and their sandbox."""

import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import REPO, USER, figure, unit_props

RENDER = REPO / "packaging/render-units.sh"


def verify(box, paths, user=None):
    scope = "--user " if user else ""
    r = box.run(f"systemd-analyze {scope}verify --man=no {' '.join(paths)}", user=user, check=False)
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", (
        f"systemd-analyze verify {paths}:\n{r.stdout}{r.stderr}")


def test_packaged_system_units_verify(box):
    verify(box, ["/usr/lib/systemd/system/openclaw-gateway.socket",
                 "/usr/lib/systemd/system/openclaw-gateway.service"])


def test_packaged_user_units_verify(box):
    verify(box, ["/usr/lib/systemd/user/openclaw-gateway.socket",
                 "/usr/lib/systemd/user/openclaw-gateway.service"], user=USER)


@pytest.mark.parametrize("kind", ["user", "system"])
def test_profile_rendered_units_verify(box, kind):
    """What the CLI installer writes for `--profile work` (units/README.md's placeholders)."""
    home = f"/home/{USER}/.openclaw-work"
    values = ["UNIT=openclaw-gateway-work", "DESCRIPTION=OpenClaw Gateway (profile work, v0.1.0)",
              "EXEC=/usr/bin/openclaw", "ARGS=gateway --port 18790 --profile work",
              "BIND=127.0.0.1", "PORT=18790", f"STATE_DIR={home}", f"TOKEN_FILE={home}/gateway.token",
              f"WANTED_BY={'default.target' if kind == 'user' else 'multi-user.target'}", f"USER={USER}"]
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([str(RENDER), kind, out, *values], check=True)
        paths = []
        for f in sorted(Path(out).iterdir()):
            inside = f"/var/tmp/rendered-{kind}/{f.name}"
            box.write(inside, f.read_text())
            paths.append(inside)
    text = box.run(f"cat {' '.join(paths)}").stdout
    assert "ListenStream=127.0.0.1:18790" in text and "Requires=openclaw-gateway-work.socket" in text
    verify(box, paths, user=USER if kind == "user" else None)


def exposure(box, unit, user=None):
    scope = "--user " if user else ""
    out = box.run(f"systemd-analyze {scope}security --no-pager {unit}", user=user, check=False).stdout
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\S+)", out)
    assert m, out
    return float(m.group(1)), m.group(2), out


def test_system_service_security_exposure(box):
    score, label, out = exposure(box, "openclaw-gateway.service")
    figure("systemd-analyze security (system service)", f"{score} {label}")
    unsafe = [line for line in out.splitlines() if line.startswith("✗")]
    print("\n".join(unsafe))
    assert score <= 1.5, out


def test_user_service_security_exposure(box):
    score, label, out = exposure(box, "openclaw-gateway.service", user=USER)
    figure("systemd-analyze --user security (user service)", f"{score} {label}")
    assert score <= 2.0, out
