"""STARTTLS and implicit TLS through the real binaries, with a certificate made for each test:
swaks, curl smtps://, openssl s_client, Python's ssl for the STARTTLS injection case, Postfix with
smtp_tls_security_level = encrypt; delivery checked at moto. As root, the key is readable by root
only: the supervisor opens it for the unprivileged worker."""
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from conftest import (client_context, free_port, make_certificate, proxy_environment, raw_message, requires_root,
                      run_postfix, wait_until)

SENDER = "sender@example.com"


def tls_proxy(moto, start_proxy, certificate, *flags):
    cert, key = certificate
    return start_proxy(proxy_environment(moto), f"--tls-cert={cert}", f"--tls-key={key}", *flags)


def message(marker):
    return f"From: {SENDER}\r\nTo: to@example.net\r\nSubject: {marker}\r\n\r\nover TLS\r\n".encode()


def test_swaks_starttls_delivers_and_is_counted(moto, start_proxy, certificate):
    proxy = tls_proxy(moto, start_proxy, certificate)
    marker = uuid.uuid4().hex
    result = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{proxy.smtp_port}", "--tls", "--tls-verify", "--tls-ca-path", str(certificate[0]),
         "--from", SENDER, "--to", "to@example.net", "--header", f"Subject: {marker}", "--body", "swaks over TLS"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "250-STARTTLS" in result.stdout or "250 STARTTLS" in result.stdout
    assert "TLS started" in result.stdout
    assert "250 2.0.0 Ok: queued as" in result.stdout
    assert moto.form_containing(marker.encode())
    proxy.metrics_reach({"smtpd_tls_sessions_total": 1})


def test_ehlo_after_starttls_no_longer_offers_it_and_a_second_one_is_refused(moto, start_proxy, certificate):
    proxy = tls_proxy(moto, start_proxy, certificate)
    with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=30) as client:
        client.ehlo("client.test")
        assert client.has_extn("starttls")
        assert client.starttls(context=client_context(certificate[0]))[0] == 220
        assert client.sock.version() in ("TLSv1.2", "TLSv1.3")
        client.ehlo("client.test")
        assert not client.has_extn("starttls")
        code, text = client.docmd("STARTTLS")
        assert (code, text.decode().split(" ", 1)[0]) == (503, "5.5.1")


def test_starttls_inside_a_transaction_is_refused(moto, start_proxy, certificate):
    proxy = tls_proxy(moto, start_proxy, certificate)
    with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=30) as client:
        client.ehlo("client.test")
        assert client.mail(SENDER)[0] == 250
        code, text = client.docmd("STARTTLS")
        assert (code, text.decode().split(" ", 1)[0]) == (503, "5.5.1")


def test_commands_pipelined_with_starttls_are_discarded(moto, start_proxy, certificate):
    """CVE-2011-0411: a man in the middle appends commands to STARTTLS in clear; the server must not
    run them inside the protected session."""
    proxy = tls_proxy(moto, start_proxy, certificate)
    with socket.create_connection(("127.0.0.1", proxy.smtp_port), timeout=10) as raw:
        reader = raw.makefile("rb")
        assert reader.readline().startswith(b"220 ")
        raw.sendall(b"EHLO client.test\r\n")
        while not reader.readline().startswith(b"250 "):
            pass
        raw.sendall(b"STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n")
        assert reader.readline().startswith(b"220 2.0.0 ")
        protected = client_context(certificate[0]).wrap_socket(raw, server_hostname="localhost")
        tls_reader = protected.makefile("rb")
        protected.sendall(b"RCPT TO:<to@example.net>\r\n")
        # Had the injected MAIL been taken, this would be "250 2.1.5"; a new session wants EHLO first.
        reply = tls_reader.readline()
        assert reply.startswith(b"503 5.5.1 "), reply
        protected.sendall(b"QUIT\r\n")


def test_require_tls_refuses_mail_in_clear(moto, start_proxy, certificate):
    proxy = tls_proxy(moto, start_proxy, certificate, "--require-tls")
    with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=30) as client:
        client.ehlo("client.test")
        code, text = client.mail(SENDER)
        assert (code, text.decode().split(" ", 1)[0]) == (530, "5.7.0"), text
        client.starttls(context=client_context(certificate[0]))
        client.ehlo("client.test")
        marker = uuid.uuid4().hex
        assert client.sendmail(SENDER, ["to@example.net"], message(marker)) == {}
    assert moto.form_containing(marker.encode())


def test_curl_over_implicit_tls(moto, start_proxy, certificate):
    tls_port = free_port()
    proxy = tls_proxy(moto, start_proxy, certificate, f"--tls-listen=127.0.0.1:{tls_port}")
    marker = uuid.uuid4().hex
    body = Path(tempfile.mkstemp(prefix="ses-mail-")[1])
    body.write_bytes(message(marker))
    result = subprocess.run(
        ["curl", "--silent", "--show-error", "--url", f"smtps://127.0.0.1:{tls_port}", "--cacert", str(certificate[0]),
         "--mail-from", SENDER, "--mail-rcpt", "to@example.net", "--upload-file", str(body)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert raw_message(moto.form_containing(marker.encode())) == message(marker)
    proxy.metrics_reach({"smtpd_tls_sessions_total": 1})
    # The implicit listener offers no STARTTLS: the session is protected already.
    with socket.create_connection(("127.0.0.1", tls_port), timeout=10) as raw:
        protected = client_context(certificate[0]).wrap_socket(raw, server_hostname="localhost")
        reader = protected.makefile("rb")
        assert reader.readline().startswith(b"220 ")
        protected.sendall(b"EHLO client.test\r\n")
        lines = []
        while not lines or not lines[-1].startswith(b"250 "):
            lines.append(reader.readline())
        assert not any(b"STARTTLS" in line for line in lines)


def test_openssl_s_client_starttls_verifies_and_old_tls_is_refused(moto, start_proxy, certificate):
    proxy = tls_proxy(moto, start_proxy, certificate)
    result = subprocess.run(
        ["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{proxy.smtp_port}", "-CAfile",
         str(certificate[0]), "-verify_return_error", "-brief"],
        input="QUIT\r\n", capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "Verification: OK" in result.stderr
    assert "Protocol version: TLSv1.3" in result.stderr
    # TLS 1.0 is below the minimum: the handshake fails (the client is allowed to try it).
    old = subprocess.run(
        ["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{proxy.smtp_port}", "-tls1",
         "-cipher", "DEFAULT:@SECLEVEL=0", "-brief"],
        input="QUIT\r\n", capture_output=True, text=True, timeout=30)
    assert old.returncode != 0
    assert "Protocol version" not in old.stderr


@pytest.mark.parametrize("swap, named", [
    ("key-is-cert", "--tls-key: not a PEM private key"),
    ("other-key", "--tls-cert and --tls-key do not make a usable pair"),
    ("missing", "--tls-cert"),
])
def test_unusable_certificate_or_key_stops_the_start_naming_the_flag(moto, start_proxy, certificate, swap, named):
    cert, key = certificate
    if swap == "key-is-cert":
        key = cert
    elif swap == "other-key":
        _, key = make_certificate(cert.parent, "other")
    else:
        cert = cert.parent / "absent.crt"
    proxy = start_proxy(proxy_environment(moto), f"--tls-cert={cert}", f"--tls-key={key}", wait=False)
    assert proxy.process.wait(30) != 0
    assert named in proxy.log, proxy.log


def fingerprint(port, cert):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        reader = raw.makefile("rb")
        reader.readline()
        raw.sendall(b"EHLO c\r\n")
        while not reader.readline().startswith(b"250 "):
            pass
        raw.sendall(b"STARTTLS\r\n")
        reader.readline()
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        protected = context.wrap_socket(raw, server_hostname="localhost")
        return protected.getpeercert(binary_form=True)


def test_sighup_loads_a_renewed_certificate_without_dropping_sessions(moto, start_proxy, certificate):
    cert, key = certificate
    proxy = tls_proxy(moto, start_proxy, certificate)
    before = fingerprint(proxy.smtp_port, cert)
    with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=30) as held:
        held.ehlo("client.test")
        held.starttls(context=client_context(cert))
        held.ehlo("client.test")
        renewed, renewed_key = make_certificate(cert.parent, "renewed")
        os.replace(renewed, cert)
        os.replace(renewed_key, key)
        cert.chmod(0o644)
        proxy.process.send_signal(signal.SIGHUP)
        wait_until(lambda: fingerprint(proxy.smtp_port, cert) != before, 20, "the new worker to serve the renewed certificate")
        marker = uuid.uuid4().hex
        assert held.sendmail(SENDER, ["to@example.net"], message(marker)) == {}, "the old session keeps working"
    assert moto.form_containing(marker.encode())


@requires_root("the key is readable by root only, and Postfix's master runs as root")
def test_root_only_key_and_postfix_relaying_with_tls_encrypt(moto, start_proxy, certificate):
    cert, key = certificate
    assert key.stat().st_mode & 0o077 == 0 and key.stat().st_uid == 0
    proxy = tls_proxy(moto, start_proxy, certificate, "--require-tls")
    worker = proxy.child_pids()["ses-smtp-worker"]
    open_files = [os.readlink(f"/proc/{worker}/fd/{fd}") for fd in os.listdir(f"/proc/{worker}/fd")]
    assert str(key) not in open_files and str(cert) not in open_files, "the worker closes what it has read"
    extra = f"smtp_tls_security_level = encrypt\nsmtp_tls_CAfile = {cert}\nsmtp_tls_loglevel = 1\n"
    with run_postfix(proxy.smtp_port, extra) as (port, maillog):
        marker = uuid.uuid4().hex
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            assert client.sendmail(SENDER, ["to@example.net"], message(marker)) == {}
        wait_until(lambda: moto.forms_containing(marker.encode()), 60, "Postfix to deliver through the proxy over TLS")
        # moto has the message before the proxy's 250 reaches Postfix's log.
        wait_until(lambda: "status=sent (250 2.0.0 Ok: queued as" in maillog.read_text(errors="replace"), 30,
                   "Postfix to log the delivery")
        log = maillog.read_text(errors="replace")
        assert "TLS connection established to 127.0.0.1" in log, log[-3000:]


def test_refused_client_on_the_implicit_listener_is_answered_in_tls_and_cannot_linger(moto, start_proxy, certificate):
    tls_port = free_port()
    tls_proxy(moto, start_proxy, certificate, f"--tls-listen=127.0.0.1:{tls_port}", "--allow-from=10.0.0.0/8")
    with socket.create_connection(("127.0.0.1", tls_port), timeout=10) as raw:
        protected = client_context(certificate[0]).wrap_socket(raw, server_hostname="localhost")
        assert protected.makefile("rb").readline().startswith(b"554 5.7.1 ")
    # A refused client that never starts the handshake is closed after RefusingHandler.patience (10 s).
    with socket.create_connection(("127.0.0.1", tls_port), timeout=30) as silent:
        started = time.monotonic()
        assert silent.recv(1024) == b""
        assert time.monotonic() - started < 20
