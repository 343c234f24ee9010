"""Integration fixtures: the real binaries on 127.0.0.1 against real peers.

- `moto`: one moto server for the session, SigV4 checking on, with an IAM user allowed to send,
  verified senders, and its request recorder on (so a test can read the exact SendRawEmail form
  SES received, byte for byte).
- `start_proxy`: starts `ses-smtpd-proxy` from SES_PROXY_BIN_DIR with a controlled environment and
  waits until /health says ok; stops it with SIGTERM (by PID) at the end of the test.
"""
import contextlib
import json
import http.server
import shutil
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import ses_emulator  # noqa: E402

BIN_DIR = Path(os.environ.get("SES_PROXY_BIN_DIR", ROOT / ".build" / "debug"))
PROXY = BIN_DIR / "ses-smtpd-proxy"
VERIFIED_SENDERS = ["sender@example.com", "other@example.com"]
STARTUP_SECONDS = 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def http_get(url):
    """(status, body) of a GET; an HTTP error status is an answer, not an exception."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class Moto:
    def __init__(self, endpoint, recording, process, keys):
        self.endpoint = endpoint
        self.recording = recording
        self.process = process
        self.access_key_id = keys["AWS_ACCESS_KEY_ID"]
        self.secret_access_key = keys["AWS_SECRET_ACCESS_KEY"]
        self.role_arn = keys["ROLE_ARN"]
        self.rotated_key = keys["ROTATED_KEY"]

    def forms_containing(self, marker):
        """Every SendRawEmail form whose raw message contains `marker` (bytes)."""
        return [f for f in ses_emulator.send_raw_email_forms(self.recording) if marker in raw_message(f)]

    def signing_key_id(self, marker):
        """The access key id that signed the one SendRawEmail carrying `marker`, and whether a session
        token came with it."""
        for entry in ses_emulator.recorded_requests(self.recording):
            form = entry["form"]
            if form.get("Action") == ["SendRawEmail"] and marker in raw_message(form):
                headers = {name.lower(): value for name, value in entry["headers"].items()}
                key_id = headers["authorization"].split("Credential=", 1)[1].split("/", 1)[0]
                return key_id, "x-amz-security-token" in headers
        raise AssertionError(f"no SendRawEmail with {marker!r}")

    def v2_requests_containing(self, marker):
        """Every SESv2 SendEmail body (parsed JSON) whose raw message contains `marker` (bytes)."""
        return [r for r in ses_emulator.send_email_requests(self.recording) if marker in ses_emulator.v2_raw_message(r)]

    def stored(self, marker):
        """How many sends carrying `marker` moto received, by either API (each one it accepted is
        stored once: moto answers every signed, verified send with a MessageId)."""
        return len(self.forms_containing(marker)) + len(self.v2_requests_containing(marker))

    def form_containing(self, marker):
        """The one SendRawEmail form whose raw message contains `marker`."""
        found = self.forms_containing(marker)
        assert len(found) == 1, f"expected one SendRawEmail with {marker!r}, found {len(found)}"
        return found[0]


raw_message = ses_emulator.raw_message
v2_raw_message = ses_emulator.v2_raw_message
destinations = ses_emulator.destinations


@pytest.fixture(scope="session")
def moto(tmp_path_factory):
    state = tmp_path_factory.mktemp("moto")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    recording = state / "requests.jsonl"
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="1000", MOTO_ENABLE_RECORDING="1",
               MOTO_RECORDER_FILEPATH=str(recording))
    log = open(state / "moto.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_until(lambda: _answers(f"{endpoint}/moto-api/"), 30, "moto server")
        keys = ses_emulator.setup(endpoint, VERIFIED_SENDERS)
        yield Moto(endpoint, recording, process, keys)
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def _answers(url):
    try:
        urllib.request.urlopen(url, timeout=1).read()
        return True
    except OSError:
        return False


class Proxy:
    def __init__(self, process, smtp_port, http_port, log_path):
        self.process = process
        self.smtp_port = smtp_port
        self.http_port = http_port
        self.log_path = log_path

    @property
    def log(self):
        return self.log_path.read_text(errors="replace")

    def health(self):
        return http_get(f"http://127.0.0.1:{self.http_port}/health")

    def metrics(self):
        status, body = http_get(f"http://127.0.0.1:{self.http_port}/metrics")
        assert status == 200
        values = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values

    def metrics_reach(self, expected, seconds=10):
        """Waits until every metric in `expected` has its value: children report counts over IPC,
        so the supervisor may serve them a moment after the SMTP reply. Returns the last scrape."""
        last = {}

        def reached():
            last.update(self.metrics())
            return all(last.get(name) == value for name, value in expected.items())

        try:
            wait_until(reached, seconds, f"metrics {expected}")
        except AssertionError:
            raise AssertionError(f"metrics never reached {expected}; last {last}") from None
        return last

    def child_pids(self):
        """{'ses-cred-agent': pid, 'ses-smtp-worker': pid} of the newest children, from the log."""
        pids = {}
        for child, pid in re.findall(r"child=(ses-[a-z-]+) pid=(\d+)", self.log):
            pids[child] = int(pid)
        return pids

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A fixture's request handler that keeps the test output clean."""

    def log_message(self, *args):
        pass


def serve(handler_class):
    """Serves `handler_class` on a free loopback port from a daemon thread: (server, endpoint)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def relay(handler, endpoint, body, headers=None):
    """Sends the request `handler` is serving to `endpoint` unchanged (headers included, so a SigV4
    signature still verifies there, unless `headers` replaces them); returns (status, answer)."""
    request = urllib.request.Request(endpoint + handler.path, data=body, method=handler.command)
    for name, value in (headers or handler.headers).items():
        if name.lower() not in ("content-length", "connection"):
            request.add_header(name, value)
    try:
        response = urllib.request.urlopen(request, timeout=30)
        return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def forward(handler, endpoint, body, headers=None):
    """`relay`, answering the client with what came back. For fixtures that sit in front of moto to
    add the one behaviour moto lacks."""
    status, answer = relay(handler, endpoint, body, headers)
    handler.send_response(status)
    handler.send_header("Content-Length", str(len(answer)))
    handler.end_headers()
    handler.wfile.write(answer)


def proxy_environment(moto, **overrides):
    """A minimal environment: what the proxy needs to reach moto, nothing of the test runner's."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": tempfile.mkdtemp(prefix="proxy-home-"),
        "AWS_ACCESS_KEY_ID": moto.access_key_id,
        "AWS_SECRET_ACCESS_KEY": moto.secret_access_key,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_SES": moto.endpoint,
        # Off EC2, the chain's last step would wait for 169.254.169.254; tests that want IMDS use a fixture.
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@pytest.fixture
def start_proxy(tmp_path):
    started = []

    def start(env, *flags, wait=True, smtp_port=None, listen_host="127.0.0.1"):
        smtp_port, http_port = smtp_port or free_port(), free_port()
        log_path = tmp_path / f"proxy-{len(started)}.log"
        log = open(log_path, "wb")
        process = subprocess.Popen(
            [str(PROXY), "--enable-health-check", f"--health-check-bind=127.0.0.1:{http_port}",
             "--enable-prometheus", f"--prometheus-bind=127.0.0.1:{http_port}", *flags, f"{listen_host}:{smtp_port}"],
            stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        proxy = Proxy(process, smtp_port, http_port, log_path)
        started.append(proxy)
        if wait:
            def ready():
                if process.poll() is not None:
                    raise AssertionError(f"proxy exited with {process.returncode}:\n{proxy.log}")
                try:
                    return proxy.health()[0] == 200
                except OSError:
                    return False
            wait_until(ready, STARTUP_SECONDS, "the proxy's /health to say ok")
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def requires_root(reason):
    return pytest.mark.skipif(os.geteuid() != 0, reason=f"needs root: {reason}")


POSTFIX_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = postfix.test
mydestination =
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{relay_port}
smtp_tls_security_level = none
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
alias_maps =
alias_database =
debug_peer_list = 127.0.0.1
debug_peer_level = 2
"""


@contextlib.contextmanager
def run_postfix(relay_port, extra_main_cf=""):
    """A throwaway Postfix whose relayhost is 127.0.0.1:`relay_port`; yields its smtpd port and maillog
    path. `extra_main_cf` is appended to main.cf (later lines win in Postfix)."""
    if not shutil.which("postfix"):
        pytest.skip("postfix is not installed (scripts/deps.sh installs it)")
    # Not under pytest's tmp_path: that is private to root, and Postfix's daemons run as postfix.
    d = Path(tempfile.mkdtemp(prefix="ses-postfix-"))
    d.chmod(0o755)
    (d / "etc").mkdir(parents=True)
    (d / "data").mkdir()
    (d / "queue").mkdir()
    shutil.chown(d / "data", user="postfix")
    port = free_port()
    (d / "etc" / "main.cf").write_text(POSTFIX_MAIN_CF.format(d=d, relay_port=relay_port) + extra_main_cf)
    master = open("/etc/postfix/master.cf").read().splitlines()
    master = [f"127.0.0.1:{port} inet n - n - - smtpd" if line.startswith("smtp      inet") else line for line in master]
    (d / "etc" / "master.cf").write_text("\n".join(master) + "\n")
    config = str(d / "etc")
    subprocess.run(["postconf", "-c", config, "-F", "*/*/chroot = n"], check=True)
    started = subprocess.run(["postfix", "-c", config, "start"], capture_output=True, text=True)
    maillog = d / "maillog"
    assert started.returncode == 0, started.stderr + (maillog.read_text() if maillog.exists() else "")
    try:
        wait_until(lambda: _accepts(port), 30, "postfix smtpd")
        yield port, maillog
    finally:
        try:
            subprocess.run(["postfix", "-c", config, "stop"], capture_output=True, timeout=30)
        except subprocess.TimeoutExpired:
            pass  # seen once: postlogd blocked logging to its own full socket, and every daemon with it
        _kill_processes_in(d)
        shutil.rmtree(d, ignore_errors=True)


def _kill_processes_in(directory):
    """SIGKILL, by PID, what is left of a Postfix instance: its daemons work in its queue directory."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd == directory or directory in cwd.parents:
            with contextlib.suppress(OSError):
                os.kill(int(entry.name), signal.SIGKILL)


def _accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            return sock.recv(100).startswith(b"220")
    except OSError:
        return False


def make_certificate(directory, name="localhost"):
    """A self-signed EC certificate for localhost and 127.0.0.1; returns (cert, key) paths."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True)
    key.chmod(0o600)
    return cert, key


@pytest.fixture
def certificate():
    # Not pytest's tmp_path (0700): the test clients, and Postfix's user, must read the certificate.
    directory = Path(tempfile.mkdtemp(prefix="ses-tls-"))
    directory.chmod(0o755)
    cert, key = make_certificate(directory)
    cert.chmod(0o644)
    return cert, key


def client_context(cert):
    """A TLS client context that trusts `cert` only."""
    return ssl.create_default_context(cafile=str(cert))


class SESFaults:
    """An HTTP fixture in front of moto, for what moto cannot do on demand. Answers each send (v1
    SendRawEmail, v2 SendEmail) with the next scripted fault, or forwards it to moto once the script
    is used up (or, with `choose`, with the fault that function picks); other calls (GetSendQuota) are
    forwarded, GetAccount is answered with `max_send_rate`. Faults in SES's own XML/JSON shapes:
    throttle, daily, 500, 503, v2-throttle, v2-daily, garbage, hang; and two after moto stored the
    message, which make the request ambiguous: stored-hang (no answer) and stored-reset (the answer
    cut off). Counts sends seen and sends moto accepted."""

    V1_ERROR = ("<ErrorResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\"><Error><Type>{kind}</Type>"
                "<Code>{code}</Code><Message>{message}</Message></Error><RequestId>fixture-{n}</RequestId></ErrorResponse>")
    FAULTS = {
        "throttle": (400, "Sender", "Throttling", "Maximum sending rate exceeded."),
        "daily": (400, "Sender", "Throttling", "Daily message quota exceeded."),
        "500": (500, "Receiver", "InternalFailure", "An internal error occurred."),
        "503": (503, "Receiver", "ServiceUnavailable", "Service is unavailable."),
        "v2-throttle": (429, None, "TooManyRequestsException", "Maximum sending rate exceeded."),
        "v2-daily": (429, None, "TooManyRequestsException", "Daily message quota exceeded."),
    }

    def __init__(self, moto, script=(), max_send_rate=None, choose=None):
        self.moto = moto
        self.script = list(script)
        self.choose = choose
        self.max_send_rate = max_send_rate
        self.sends = 0
        self.accepted = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        faults = self

        class Handler(QuietHandler):
            def do_GET(self):
                faults.handle(self, b"")

            def do_POST(self):
                faults.handle(self, self.rfile.read(int(self.headers.get("Content-Length", 0))))

        self.server, self.endpoint = serve(Handler)
        # A client that went away (a killed worker, a curl timeout) is part of the test, not an error.
        self.server.handle_error = lambda request, address: None

    def handle(self, handler, body):
        if handler.path.endswith("/v2/email/account") and self.max_send_rate is not None:
            return self.answer(handler, 200, json.dumps({"SendQuota": {"MaxSendRate": self.max_send_rate,
                                                                        "Max24HourSend": 50000.0}}).encode(), {})
        is_send = b"Action=SendRawEmail" in body or handler.path.endswith("/v2/email/outbound-emails")
        if not is_send:
            return forward(handler, self.moto.endpoint, body)
        with self.lock:
            self.sends += 1
            fault = self.script.pop(0) if self.script else (self.choose() if self.choose else "forward")
            n = self.sends
        if fault == "hang":
            self.release.wait(60)  # then close without a word: a request sent, never answered
            return
        if fault == "garbage":
            return self.answer(handler, 200, b"<SendRawEmailResponse><Trunc", {})
        if fault in self.FAULTS:
            status, kind, code, text = self.FAULTS[fault]
            if kind is None:
                return self.answer(handler, status, json.dumps({"message": text}).encode(),
                                   {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazonaws.sesv2/"})
            return self.answer(handler, status, self.V1_ERROR.format(kind=kind, code=code, message=text, n=n).encode(),
                               {"Content-Type": "text/xml"})
        if fault in ("stored-hang", "stored-reset"):
            status, _ = relay(handler, self.moto.endpoint, body)
            if status == 200:
                with self.lock:
                    self.accepted += 1
            if fault == "stored-hang":
                self.release.wait(60)
            else:
                handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n<SendRawEmailResponse>")
                handler.wfile.flush()
                handler.close_connection = True
            return
        status, answer = relay(handler, self.moto.endpoint, body)
        if status == 200:
            with self.lock:
                self.accepted += 1
        self.answer(handler, status, answer, {})

    @staticmethod
    def answer(handler, status, body, headers):
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ses_faults(moto):
    made = []

    def make(script, **options):
        faults = SESFaults(moto, script, **options)
        made.append(faults)
        return faults

    yield make
    for faults in made:
        faults.close()
