"""Installs the Autobahn TestSuite (`wstest`) where `make test` can find it.

autobahntestsuite runs only under Python 2.7. The 2.7 interpreter comes from
pyenv (PYTHON2, default /root/.pyenv/versions/2.7.18/bin/python); it has no
setuptools, so virtualenv 16 (which bundles setuptools and pip) is installed
into the cache first and makes a virtualenv there. Everything lives under
${OPENCLAW_TEST_CACHE:-/var/cache/openclaw-gateway-tests}/autobahn and is
reused by later runs; a failed install leaves nothing half-made behind.
"""
import os
import shutil
import subprocess

CACHE = os.path.join(os.environ.get("OPENCLAW_TEST_CACHE", "/var/cache/openclaw-gateway-tests"), "autobahn")
PYTHON2 = os.environ.get("PYTHON2", "/root/.pyenv/versions/2.7.18/bin/python")
# Pinned: the last release, and what the results in docs/RELIABILITY.md were measured with.
PACKAGE = "autobahntestsuite==25.10.1"


def wstest() -> str:
    """Path of `wstest`, installing it on first use."""
    venv = os.path.join(CACHE, "venv")
    binary = os.path.join(venv, "bin", "wstest")
    stamp = os.path.join(venv, ".installed-" + PACKAGE)
    if os.path.exists(stamp):
        return binary
    if not os.access(PYTHON2, os.X_OK):
        raise RuntimeError(f"Python 2.7 not found at {PYTHON2} (autobahntestsuite needs it; set PYTHON2=path)")
    shutil.rmtree(CACHE, ignore_errors=True)
    os.makedirs(CACHE)
    tools = os.path.join(CACHE, "virtualenv")
    quiet = ["-q", "--disable-pip-version-check"]
    try:
        subprocess.run([PYTHON2, "-m", "pip", "install", *quiet, "--target", tools, "virtualenv<20"], check=True)
        subprocess.run([PYTHON2, "-m", "virtualenv", "-q", venv], check=True, env={**os.environ, "PYTHONPATH": tools})
        subprocess.run([os.path.join(venv, "bin", "pip"), "install", *quiet, PACKAGE], check=True)
        subprocess.run([binary, "--help"], check=True, stdout=subprocess.DEVNULL)
    except Exception:
        shutil.rmtree(CACHE, ignore_errors=True)
        raise
    open(stamp, "w").close()
    return binary
