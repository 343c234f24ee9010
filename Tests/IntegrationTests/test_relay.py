"""Mail through the real binaries to moto (SigV4 checked): what SES receives, and what the client is told."""
import smtplib
import subprocess
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import QuietHandler, destinations, forward, proxy_environment, raw_message, serve

SENDER = "sender@example.com"


@pytest.fixture
def proxy(moto, start_proxy):
    return start_proxy(proxy_environment(moto))


def message(marker, to="to@example.net", body=b"Hello.\r\n"):
    return (
        f"From: {SENDER}\r\nTo: {to}\r\nSubject: {marker}\r\n\r\n".encode() + body
    )


def send_with_smtplib(port, sender, recipients, data):
    """Returns (code, text) of the answer to the end of DATA."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("client.test")
        assert client.mail(sender)[0] == 250
        for recipient in recipients:
            assert client.rcpt(recipient)[0] == 250
        code, text = client.data(data)
        client.quit()
    return code, text.decode()


def test_smtplib_message_reaches_ses_byte_for_byte(moto, proxy):
    marker = uuid.uuid4().hex
    # Lines that need dot-stuffing, 8-bit UTF-8, a NUL-free binary-ish line and CRLF endings; smtplib
    # dot-stuffs on the way in, the worker must undo exactly that.
    body = (
        b".leading dot\r\n"
        b"..two dots\r\n"
        b".\xc3\xa9t\xc3\xa9 8-bit\r\n"
        b"tab\tand trailing space \r\n"
        b"last line without dot\r\n"
    )
    data = message(marker, body=body)
    code, text = send_with_smtplib(proxy.smtp_port, SENDER, ["to@example.net"], data)
    assert code == 250, text
    assert text.startswith("2.0.0 Ok: queued as ")
    form = moto.form_containing(marker.encode())
    assert raw_message(form) == data
    assert form["Source"] == [SENDER]
    assert destinations(form) == ["to@example.net"]
    assert "ConfigurationSetName" not in form
    message_id = text.rsplit(" ", 1)[1]
    assert f"message_id={message_id}" in proxy.log


def test_swaks_message_is_relayed_with_bcc_in_destinations(moto, proxy):
    marker = uuid.uuid4().hex
    # Only to@ is in the headers; bcc@ exists only in the envelope, as Bcc works.
    result = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{proxy.smtp_port}", "--pipeline", "--from", SENDER,
         "--to", "to@example.net,bcc@example.org", "--header", f"Subject: {marker}", "--header", "To: to@example.net",
         "--body", "swaks body"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "250 2.0.0 Ok: queued as" in result.stdout
    form = moto.form_containing(marker.encode())
    assert destinations(form) == ["to@example.net", "bcc@example.org"]
    assert b"bcc@example.org" not in raw_message(form)


def test_several_transactions_on_one_connection(moto, proxy):
    markers = [uuid.uuid4().hex for _ in range(3)]
    with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=30) as client:
        for marker in markers:
            refused = client.sendmail(SENDER, ["to@example.net"], message(marker))
            assert refused == {}
    for marker in markers:
        moto.form_containing(marker.encode())


def test_null_sender_sends_no_source_and_ses_uses_from(moto, proxy):
    marker = uuid.uuid4().hex
    code, text = send_with_smtplib(proxy.smtp_port, "<>", ["to@example.net"], message(marker))
    assert code == 250, text
    assert "Source" not in moto.form_containing(marker.encode())


def test_unverified_sender_is_refused_permanently(moto, proxy):
    marker = uuid.uuid4().hex
    data = f"From: stranger@example.com\r\nSubject: {marker}\r\n\r\nx\r\n".encode()
    code, text = send_with_smtplib(proxy.smtp_port, "stranger@example.com", ["to@example.net"], data)
    assert code == 554, text
    assert text.startswith("5.7.1 ")
    assert "ses_code=MessageRejected" in proxy.log
    # The session survives a failed relay.
    with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=30) as client:
        assert client.noop()[0] == 250


def test_sends_in_flight_are_not_bounded_by_a_thread_pool(moto, start_proxy):
    """SES answers in tens of milliseconds: a relay that holds a thread per request caps its rate at
    threads / latency. Here SES answers nothing until 24 sends are waiting at once (more than the
    worker's thread pool holds), then all of them."""
    sessions = 24
    everyone_waiting = threading.Barrier(sessions, timeout=20)

    class Handler(QuietHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if b"Action=SendRawEmail" in body:
                try:
                    everyone_waiting.wait()
                except threading.BrokenBarrierError:
                    self.send_error(500)
                    return
            forward(self, moto.endpoint, body)

    server, endpoint = serve(Handler)
    try:
        proxy = start_proxy(proxy_environment(moto, AWS_ENDPOINT_URL_SES=endpoint), "--ses-timeout=60")
        markers = [uuid.uuid4().hex for _ in range(sessions)]
        with ThreadPoolExecutor(sessions) as pool:
            answers = list(pool.map(
                lambda marker: send_with_smtplib(proxy.smtp_port, SENDER, ["to@example.net"], message(marker)), markers))
        assert [code for code, _ in answers] == [250] * sessions, answers
        assert [moto.stored(marker.encode()) for marker in markers] == [1] * sessions
    finally:
        server.shutdown()
        server.server_close()


def test_configuration_set_is_passed_to_ses(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto), "--configuration-set-name=relay-set")
    marker = uuid.uuid4().hex
    code, _ = send_with_smtplib(proxy.smtp_port, SENDER, ["to@example.net"], message(marker))
    assert code == 250
    assert moto.form_containing(marker.encode())["ConfigurationSetName"] == ["relay-set"]


def test_wrong_secret_is_a_temporary_failure(moto, start_proxy):
    env = proxy_environment(moto, AWS_SECRET_ACCESS_KEY="not-" + moto.secret_access_key)
    proxy = start_proxy(env)
    code, text = send_with_smtplib(proxy.smtp_port, SENDER, ["to@example.net"], message(uuid.uuid4().hex))
    assert code == 451, text
    assert text.startswith("4.7.0 ")
    assert "ses_code=SignatureDoesNotMatch" in proxy.log
    proxy.metrics_reach({
        'smtpd_email_send_fail_total{type="credentials"}': 1,
        "smtpd_ses_error_total": 1,
        "smtpd_email_send_success_total": 0,
    })


def test_unreachable_ses_is_a_temporary_failure_never_250(moto, start_proxy):
    from conftest import free_port

    closed = free_port()
    proxy = start_proxy(proxy_environment(moto, AWS_ENDPOINT_URL_SES=f"http://127.0.0.1:{closed}"))
    code, text = send_with_smtplib(proxy.smtp_port, SENDER, ["to@example.net"], message(uuid.uuid4().hex))
    assert code == 451, text
    assert text.startswith("4.4.1 ")
    proxy.metrics_reach({'smtpd_email_send_fail_total{type="network"}': 1})


def test_general_endpoint_override_is_honoured(moto, start_proxy):
    env = proxy_environment(moto, AWS_ENDPOINT_URL_SES=None, AWS_ENDPOINT_URL=moto.endpoint)
    proxy = start_proxy(env)
    marker = uuid.uuid4().hex
    code, _ = send_with_smtplib(proxy.smtp_port, SENDER, ["to@example.net"], message(marker))
    assert code == 250
    moto.form_containing(marker.encode())


def test_credentials_from_a_shared_file_profile(moto, start_proxy, tmp_path):
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[relay]\naws_access_key_id = {moto.access_key_id}\naws_secret_access_key = {moto.secret_access_key}\n")
    credentials.chmod(0o600)  # readable by root only when run as root: the supervisor opens it for the agent
    config = tmp_path / "config"
    config.write_text("[profile relay]\nregion = us-east-1\n")
    env = proxy_environment(moto, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None, AWS_REGION=None,
                            AWS_PROFILE="relay", AWS_SHARED_CREDENTIALS_FILE=str(credentials),
                            AWS_CONFIG_FILE=str(config))
    proxy = start_proxy(env)
    marker = uuid.uuid4().hex
    code, _ = send_with_smtplib(proxy.smtp_port, SENDER, ["to@example.net"], message(marker))
    assert code == 250
    moto.form_containing(marker.encode())
    assert "source=profile relay in" in proxy.log
