"""One gateway per profile: a second one on the same state directory is refused, naming the holder."""
import subprocess

from conftest import BIN, free_port, handshake, wait_port


def test_second_gateway_on_the_same_state_dir_is_refused(gateway):
    second = subprocess.run([BIN, "gateway", "--port", str(free_port())], env=gateway.env,
                            capture_output=True, text=True, timeout=20)
    assert second.returncode == 1, second.stderr
    assert f"pid {gateway.proc.pid}" in second.stderr, second.stderr
    assert gateway.state in second.stderr and "openclaw gateway stop" in second.stderr, second.stderr
    # The first one is untouched.
    ws, hello = handshake(gateway.url)
    assert hello["type"] == "hello-ok"
    ws.close()


def test_the_lock_goes_with_the_process(make_gateway):
    first = make_gateway()
    first.stop()
    port = free_port()
    again = subprocess.Popen([BIN, "gateway", "--port", str(port)], env=first.env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        assert again.poll() is None
    finally:
        again.terminate()
        again.wait(timeout=10)
