"""SMTP AUTH through the real binaries: swaks PLAIN and LOGIN under STARTTLS, with yescrypt, bcrypt
and sha512-crypt hashes made by mkpasswd and openssl passwd; wrong passwords with growing delays,
AUTH in clear, --require-auth, a per-user sender restriction, and Postfix relaying with SASL over
TLS. Delivery checked at moto."""
import contextlib
import smtplib
import subprocess
import time
import uuid

import pytest

from conftest import client_context, proxy_environment, requires_root, run_postfix, wait_until

SENDER = "sender@example.com"
USERS = {"alice": ("yescrypt", "alice-pass-1"), "bob": ("bcrypt", "bob-pass-2"), "carol": ("sha512", "carol-pass-3")}


def hash_password(method, password):
    command = ["openssl", "passwd", "-6", "-stdin"] if method == "sha512" else ["mkpasswd", "-m", method, "--stdin"]
    return subprocess.run(command, input=password, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def users_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("auth") / "users"
    lines = ["# user:hash[:sender regex]"]
    for user, (method, password) in USERS.items():
        restriction = r":^other@example\.com$" if user == "carol" else ""  # a sender moto has verified
        lines.append(f"{user}:{hash_password(method, password)}{restriction}")
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def auth_proxy(moto, start_proxy, certificate, users_file):
    cert, key = certificate

    def start(*flags):
        return start_proxy(proxy_environment(moto), f"--tls-cert={cert}", f"--tls-key={key}",
                           f"--auth-users-file={users_file}", *flags)
    return start


@contextlib.contextmanager
def tls_session(port, cert):
    """An smtplib session past STARTTLS and the second EHLO."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.ehlo("client.test")
        client.starttls(context=client_context(cert))
        client.ehlo("client.test")
        yield client


def swaks(port, cert, *arguments):
    return subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{port}", "--tls", "--tls-ca-path", str(cert), "--from", SENDER,
         "--to", "to@example.net", *arguments], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("user", sorted(USERS))
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_swaks_authenticates_and_delivers(moto, auth_proxy, certificate, user, mechanism):
    proxy = auth_proxy("--require-auth")
    marker = uuid.uuid4().hex
    sender = "other@example.com" if user == "carol" else SENDER
    result = swaks(proxy.smtp_port, certificate[0], "--auth", mechanism, "--auth-user", user, "--auth-password",
                   USERS[user][1], "--from", sender, "--header", f"Subject: {marker}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "235 2.7.0 Authentication successful" in result.stdout
    assert moto.form_containing(marker.encode())
    proxy.metrics_reach({'smtpd_auth_total{result="success"}': 1, 'smtpd_auth_total{result="failure"}': 0})


def test_wrong_password_is_535_after_a_growing_delay(moto, auth_proxy, certificate):
    proxy = auth_proxy()
    with tls_session(proxy.smtp_port, certificate[0]) as client:
        assert "PLAIN" in client.esmtp_features["auth"] and "LOGIN" in client.esmtp_features["auth"]
        delays = []
        client.user, client.password = "alice", "not-her-password"
        for _ in range(3):
            started = time.monotonic()
            # One mechanism per attempt (smtplib's login() would try the next one after a 535).
            with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                client.auth("PLAIN", client.auth_plain)
            delays.append(time.monotonic() - started)
            assert refused.value.smtp_code == 535 and refused.value.smtp_error.startswith(b"5.7.8")
        # 250 ms, 500 ms, 1 s after the hash check: each failure from this address waits longer.
        assert delays[0] >= 0.2 and delays[2] >= 0.9 and delays[2] > delays[0], delays
        client.user, client.password = "alice", USERS["alice"][1]
        assert client.auth("LOGIN", client.auth_login)[0] == 235
    proxy.metrics_reach({'smtpd_auth_total{result="failure"}': 3, 'smtpd_auth_total{result="success"}': 1})


def test_unknown_user_is_refused_like_a_wrong_password(moto, auth_proxy, certificate):
    proxy = auth_proxy()
    result = swaks(proxy.smtp_port, certificate[0], "--auth", "PLAIN", "--auth-user", "mallory", "--auth-password", "x")
    assert result.returncode != 0
    assert "535 5.7.8 Authentication credentials invalid" in result.stdout


def test_auth_in_clear_is_refused_and_not_offered(moto, auth_proxy):
    proxy = auth_proxy()
    with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=30) as client:
        client.ehlo("client.test")
        assert not client.has_extn("auth")
        code, text = client.docmd("AUTH", "PLAIN AGFsaWNlAGFsaWNlLXBhc3MtMQ==")
        assert (code, text.decode().split(" ", 1)[0]) == (538, "5.7.11")


def test_require_auth_refuses_mail_before_login(moto, auth_proxy, certificate):
    proxy = auth_proxy("--require-auth")
    with tls_session(proxy.smtp_port, certificate[0]) as client:
        code, text = client.mail(SENDER)
        assert (code, text.decode().split(" ", 1)[0]) == (530, "5.7.0"), text


def test_per_user_sender_restriction(moto, auth_proxy, certificate):
    proxy = auth_proxy("--require-auth")
    with tls_session(proxy.smtp_port, certificate[0]) as client:
        client.login("carol", USERS["carol"][1])
        code, text = client.mail(SENDER)
        assert (code, text.decode().split(" ", 1)[0]) == (550, "5.7.1"), text
        assert client.mail("other@example.com")[0] == 250
    proxy.metrics_reach({'smtpd_policy_refusal_total{reason="sender"}': 1})


def test_users_file_errors_stop_the_start_naming_the_line(moto, start_proxy, certificate, tmp_path):
    bad = tmp_path / "users"
    bad.write_text("alice:$1$md5$weak\n")
    cert, key = certificate
    proxy = start_proxy(proxy_environment(moto), f"--tls-cert={cert}", f"--tls-key={key}", f"--auth-users-file={bad}", wait=False)
    assert proxy.process.wait(30) != 0
    assert "--auth-users-file: line 1: the hash of alice is not yescrypt, bcrypt or sha512-crypt" in proxy.log


@requires_root("the users file and key are readable by root only, and Postfix's master runs as root")
def test_postfix_relays_with_sasl_over_tls(moto, auth_proxy, certificate, users_file):
    assert users_file.stat().st_mode & 0o077 == 0
    proxy = auth_proxy("--require-auth", "--require-tls")
    cert = certificate[0]
    extra = (f"smtp_tls_security_level = encrypt\nsmtp_tls_CAfile = {cert}\nsmtp_sasl_auth_enable = yes\n"
             f"smtp_sasl_password_maps = static:bob:{USERS['bob'][1]}\nsmtp_sasl_security_options = noanonymous\n"
             "smtp_sasl_tls_security_options = noanonymous\nsmtp_sasl_mechanism_filter = plain, login\n")
    with run_postfix(proxy.smtp_port, extra) as (port, maillog):
        marker = uuid.uuid4().hex
        data = f"From: {SENDER}\r\nTo: to@example.net\r\nSubject: {marker}\r\n\r\nvia Postfix SASL\r\n".encode()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            assert client.sendmail(SENDER, ["to@example.net"], data) == {}
        wait_until(lambda: moto.forms_containing(marker.encode()), 60, "Postfix to deliver through the proxy with SASL")
        # moto has the message before the proxy's 250 reaches Postfix's log.
        wait_until(lambda: "status=sent (250 2.0.0 Ok: queued as" in maillog.read_text(errors="replace"), 30,
                   "Postfix to log the delivery")
    proxy.metrics_reach({'smtpd_auth_total{result="success"}': 1})
