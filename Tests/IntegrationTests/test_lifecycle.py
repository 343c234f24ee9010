"""Lifecycle through the real binaries: restarts of each child on its own, drain, reload, systemd
integration, and what each process holds (descriptors, sockets)."""
import os
import signal
import smtplib
import socket
import subprocess
import threading
import uuid


from conftest import PROXY, Proxy, QuietHandler, forward, serve, free_port, proxy_environment, requires_root, wait_until

SENDER = "sender@example.com"


def send(proxy, marker, timeout=30):
    with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=timeout) as client:
        return client.sendmail(SENDER, ["to@example.net"], f"Subject: {marker}\r\n\r\nx\r\n")


def sends_ok(proxy):
    try:
        return send(proxy, uuid.uuid4().hex, timeout=5) == {}
    except (OSError, smtplib.SMTPException):
        return False


def new_pid(proxy, child, old):
    pid = proxy.child_pids().get(child)
    return pid if pid and pid != old and os.path.exists(f"/proc/{pid}") else None


def test_killed_worker_is_replaced_and_totals_survive(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto))
    assert send(proxy, uuid.uuid4().hex) == {}
    proxy.metrics_reach({"smtpd_email_send_success_total": 1})
    old = proxy.child_pids()["ses-smtp-worker"]
    agent = proxy.child_pids()["ses-cred-agent"]
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: new_pid(proxy, "ses-smtp-worker", old), 5, "a new worker")
    # Clients that connect meanwhile wait in the listening socket's backlog; mail flows within 5 s.
    wait_until(lambda: sends_ok(proxy), 5, "mail accepted again after kill -9 of the worker")
    proxy.metrics_reach({"smtpd_email_send_success_total": 2})
    assert proxy.child_pids()["ses-cred-agent"] == agent, "the agent was not restarted with the worker"
    health = proxy.health()[1]
    assert '"ses-smtp-worker":{"state":"running","restarts":1}' in health
    assert '"ses-cred-agent":{"state":"running","restarts":0}' in health


def test_killed_agent_is_replaced_while_the_worker_keeps_sending(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto))
    assert send(proxy, uuid.uuid4().hex) == {}  # the worker now holds credentials
    worker = proxy.child_pids()["ses-smtp-worker"]
    old = proxy.child_pids()["ses-cred-agent"]
    os.kill(old, signal.SIGKILL)
    assert send(proxy, uuid.uuid4().hex) == {}, "the worker signs with what it holds while the agent is gone"
    wait_until(lambda: new_pid(proxy, "ses-cred-agent", old), 5, "a new agent")
    wait_until(lambda: "credentials channel replaced" in proxy.log, 5, "the worker to take the new agent's channel")
    assert proxy.child_pids()["ses-smtp-worker"] == worker
    assert send(proxy, uuid.uuid4().hex) == {}
    wait_until(lambda: '"ses-cred-agent":{"state":"running","restarts":1}' in proxy.health()[1], 5, "health to show the restart")


def test_children_die_with_the_supervisor(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto))
    children = proxy.child_pids().values()
    proxy.process.kill()
    proxy.process.wait()
    for pid in children:
        wait_until(lambda: not _alive(pid), 5, f"child {pid} to exit after the supervisor")


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return not stat.read().split(") ", 1)[1].startswith("Z")
    except OSError:
        return False


class SlowSES:
    """Holds each SES request until released, then forwards it to moto: the one thing moto cannot do
    is answer slowly. Everything it forwards is moto's own answer, signature check included."""

    def __init__(self, moto_endpoint):
        self.arrived = threading.Event()
        self.release = threading.Event()
        fixture = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                fixture.arrived.set()
                fixture.release.wait(30)
                forward(self, moto_endpoint, body)

        self.server, self.endpoint = serve(Handler)

    def close(self):
        self.release.set()
        self.server.shutdown()


def test_sigterm_lets_the_message_in_flight_reach_ses(moto, start_proxy):
    slow = SlowSES(moto.endpoint)
    try:
        proxy = start_proxy(proxy_environment(moto, AWS_ENDPOINT_URL_SES=slow.endpoint))
        marker = uuid.uuid4().hex
        result = {}
        def deliver():
            try:
                result["answer"] = send(proxy, marker)
            except Exception as error:
                result["error"] = repr(error)

        sender = threading.Thread(target=deliver)
        sender.start()
        assert slow.arrived.wait(20), "the message never reached SES"
        proxy.process.send_signal(signal.SIGTERM)
        wait_until(lambda: "draining" in proxy.log, 10, "the worker to start draining")
        slow.release.set()
        sender.join(30)
        assert result.get("answer") == {}, f"the client in flight got {result}:\n{proxy.log}"
        assert proxy.process.wait(40) == 0
        moto.form_containing(marker.encode())
    finally:
        slow.close()


def test_sighup_reload_loses_no_connection_and_no_message(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto))
    old = proxy.child_pids()["ses-smtp-worker"]
    failures, sent, stop = [], [], threading.Event()

    def client_loop():
        while not stop.is_set():
            marker = uuid.uuid4().hex
            try:
                assert send(proxy, marker) == {}
                sent.append(marker)
            except Exception as error:  # every failure is counted, whatever it is
                failures.append(repr(error))

    loop = threading.Thread(target=client_loop)
    loop.start()
    try:
        wait_until(lambda: len(sent) >= 5, 20, "the client loop to get going")
        proxy.process.send_signal(signal.SIGHUP)
        wait_until(lambda: new_pid(proxy, "ses-smtp-worker", old), 10, "the new worker")
        wait_until(lambda: not _alive(old), 40, "the old worker to drain and exit")
        count = len(sent)
        wait_until(lambda: len(sent) >= count + 5, 20, "mail through the new worker")
    finally:
        stop.set()
        loop.join(60)
    assert failures == []
    assert proxy.process.poll() is None
    assert '"ses-smtp-worker":{"state":"running","restarts":0}' in proxy.health()[1], "a reload is not a restart"


def test_systemd_notify_ready_watchdog_and_stopping(moto, start_proxy, tmp_path):
    path = str(tmp_path / "notify")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(20)
    try:
        proxy = start_proxy(proxy_environment(moto, NOTIFY_SOCKET=path, WATCHDOG_USEC="200000"))
        messages = set()
        while not {b"READY=1", b"WATCHDOG=1"} <= messages:
            messages.add(listener.recv(4096))
        proxy.process.send_signal(signal.SIGTERM)
        while b"STOPPING=1" not in messages:
            messages.add(listener.recv(4096))
        assert proxy.process.wait(40) == 0
    finally:
        listener.close()


def test_socket_activation_uses_the_passed_socket(moto, tmp_path):
    activated = socket.socket()
    activated.bind(("127.0.0.1", 0))
    activated.listen(16)
    port = activated.getsockname()[1]
    http_port = free_port()
    log_path = tmp_path / "activated.log"
    env = proxy_environment(moto, LISTEN_FDS="1")

    def place_socket_at_3():
        os.dup2(activated.fileno(), 3)

    # LISTEN_PID must be the proxy's own pid: a shell exports its pid and execs the proxy.
    script = 'LISTEN_PID=$$ exec "$0" "$@"'
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["sh", "-c", script, str(PROXY), "--enable-health-check", f"--health-check-bind=127.0.0.1:{http_port}",
             "127.0.0.1:1"],
            env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=place_socket_at_3, pass_fds=(3,))
    activated.close()
    proxy = Proxy(process, port, http_port, log_path)
    try:
        wait_until(lambda: _health_ok(proxy), 20, "the socket-activated proxy")
        assert "accepting SMTP on the socket systemd passed" in proxy.log
        assert send(proxy, uuid.uuid4().hex) == {}
    finally:
        proxy.stop()


def _health_ok(proxy):
    if proxy.process.poll() is not None:
        raise AssertionError(proxy.log)
    try:
        return proxy.health()[0] == 200
    except OSError:
        return False


def socket_inodes(pid):
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def unix_socket_paths():
    """inode -> path (empty for unnamed) of every Unix socket on the machine."""
    paths = {}
    with open("/proc/net/unix") as table:
        next(table)
        for line in table:
            fields = line.split()
            paths[fields[6]] = fields[7] if len(fields) > 7 else ""
    return paths


def listening_tcp_inodes():
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[3] == "0A":  # LISTEN
                    inodes.add(fields[9])
    return inodes


def test_no_process_has_a_socket_another_process_could_connect_to(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto))
    pids = dict(proxy.child_pids(), supervisor=proxy.process.pid)
    unix = unix_socket_paths()
    for name, pid in pids.items():
        named = [unix[i] for i in socket_inodes(pid) if unix.get(i)]
        assert named == [], f"{name} has named or abstract Unix sockets {named}: another user could connect"


def test_only_the_worker_holds_the_smtp_listener(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto))
    listening = listening_tcp_inodes()
    pids = proxy.child_pids()
    assert socket_inodes(pids["ses-cred-agent"]) & listening == set(), "the agent holds a listening socket"
    assert socket_inodes(pids["ses-smtp-worker"]) & listening, "the worker does not hold the SMTP listener"


@requires_root("binding a port below 1024")
def test_port_below_1024_served_by_an_unprivileged_worker(moto, start_proxy):
    port = next(p for p in range(1000, 600, -1) if _free(p))
    env = proxy_environment(moto)
    proxy = start_proxy(env, smtp_port=port)
    assert send(proxy, uuid.uuid4().hex) == {}
    with open(f"/proc/{proxy.child_pids()['ses-smtp-worker']}/status") as status:
        uid_line = next(line for line in status if line.startswith("Uid:"))
    assert uid_line.split()[1] != "0"


def _free(port):
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def test_sigterm_tells_sessions_left_at_the_deadline_421(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto), "--shutdown-timeout=1")
    with socket.create_connection(("127.0.0.1", proxy.smtp_port), timeout=15) as sock:
        assert sock.recv(4096).startswith(b"220 ")
        sock.sendall(b"EHLO c\r\n")
        replies = sock.recv(4096)
        proxy.process.send_signal(signal.SIGTERM)
        sock.sendall(b"NOOP\r\n")  # before the deadline a session is served as usual
        while b"421 " not in replies:
            chunk = sock.recv(4096)
            assert chunk, replies
            replies += chunk
    assert b"250 2.0.0 Ok\r\n" in replies
    assert b"421 4.3.2 Service shutting down" in replies
    assert proxy.process.wait(40) == 0
