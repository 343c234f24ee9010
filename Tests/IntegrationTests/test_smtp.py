"""The SMTP side through the real binaries with real clients: curl, swaks, smtplib and Postfix as a relay
client; limits, big messages, concurrency and timeouts. What SES receives is read from moto's recorder."""
import smtplib
import socket
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import destinations, proxy_environment, raw_message, requires_root, run_postfix, wait_until

SENDER = "sender@example.com"


@pytest.fixture
def proxy(moto, start_proxy):
    return start_proxy(proxy_environment(moto))


def banner(sock):
    data = sock.recv(4096)
    assert data.startswith(b"220 "), data
    return data


def read_reply(sock, timeout=15):
    """Reads one (possibly multi-line) SMTP reply from a raw socket."""
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
        lines = data.split(b"\r\n")
        if len(lines) > 1 and len(lines[-2]) >= 4 and lines[-2][3:4] == b" ":
            return data


def test_curl_sends_a_message_byte_for_byte(moto, proxy, tmp_path):
    marker = uuid.uuid4().hex
    data = f"From: {SENDER}\r\nTo: to@example.net\r\nSubject: {marker}\r\n\r\n.curl dot line\r\nend\r\n".encode()
    message_file = tmp_path / "message.eml"
    message_file.write_bytes(data)
    result = subprocess.run(
        ["curl", "-sS", f"smtp://127.0.0.1:{proxy.smtp_port}", "--mail-from", SENDER, "--mail-rcpt", "to@example.net",
         "--upload-file", str(message_file)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert raw_message(moto.form_containing(marker.encode())) == data


def test_size_parameter_over_the_limit_is_refused_at_mail(proxy):
    with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=30) as client:
        client.ehlo("client.test")
        assert client.has_extn("size") and client.esmtp_features["size"] == "10485760"
        assert client.has_extn("chunking") and not client.has_extn("smtputf8")
        code, text = client.mail(SENDER, ["SIZE=10485761"])
        assert (code, text[:5]) == (552, b"5.3.4")
        assert client.mail(SENDER, ["SIZE=10485760", "BODY=8BITMIME"])[0] == 250


def test_fifty_first_recipient_is_deferred_and_fifty_are_sent(moto, proxy):
    marker = uuid.uuid4().hex
    recipients = [f"r{n}@example.net" for n in range(1, 52)]
    with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=30) as client:
        client.ehlo("client.test")
        client.mail(SENDER)
        codes = [client.rcpt(r) for r in recipients]
        assert [c for c, _ in codes[:50]] == [250] * 50
        assert codes[50][0] == 452 and codes[50][1].startswith(b"4.5.3")
        assert client.data(f"Subject: {marker}\r\n\r\nx\r\n".encode())[0] == 250
    assert destinations(moto.form_containing(marker.encode())) == recipients[:50]


def big_message(marker, size):
    header = f"From: {SENDER}\r\nTo: to@example.net\r\nSubject: {marker}\r\n\r\n".encode()
    line = b"0123456789abcdef" * 6 + b"\xc3\xa9\r\n"  # 100 octets, 8-bit
    body = line * ((size - len(header)) // len(line))
    return header + body


def test_nine_and_a_half_megabytes_are_relayed_byte_for_byte(moto, proxy):
    marker = uuid.uuid4().hex
    data = big_message(marker, 9_500_000)
    with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=120) as client:
        client.ehlo("client.test")
        client.mail(SENDER, [f"SIZE={len(data)}"])
        client.rcpt("to@example.net")
        code, text = client.data(data)
        assert code == 250, text
    assert raw_message(moto.form_containing(marker.encode())) == data


def test_ten_and_a_half_megabytes_are_refused_and_the_session_goes_on(moto, proxy):
    marker = uuid.uuid4().hex
    with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=120) as client:
        client.ehlo("client.test")
        client.mail(SENDER)  # no SIZE=: the limit must hold during DATA
        client.rcpt("to@example.net")
        code, text = client.data(big_message(marker, 10_500_000))
        assert (code, text[:5]) == (552, b"5.3.4")
        assert client.noop()[0] == 250
        assert client.sendmail(SENDER, ["to@example.net"], f"Subject: after-{marker}\r\n\r\nx\r\n") == {}
    assert len(moto.forms_containing(marker.encode())) == 1, "only the small message reached SES"


def test_bdat_pipelined_with_the_dialogue(moto, proxy):
    marker = uuid.uuid4().hex
    content = f"Subject: {marker}\r\n\r\n.no stuffing in BDAT\r\n".encode()
    with socket.create_connection(("127.0.0.1", proxy.smtp_port), timeout=15) as sock:
        banner(sock)
        sock.sendall(b"EHLO c\r\nMAIL FROM:<sender@example.com>\r\nRCPT TO:<to@example.net>\r\n"
                     + b"BDAT 10\r\n" + content[:10] + f"BDAT {len(content) - 10} LAST\r\n".encode() + content[10:]
                     + b"QUIT\r\n")
        replies = b""
        while b"221 " not in replies:
            chunk = sock.recv(4096)
            assert chunk, replies
            replies += chunk
    assert b"250 2.0.0 10 octets received\r\n250 2.0.0 Ok: queued as " in replies
    assert raw_message(moto.form_containing(marker.encode())) == content


def test_hundred_concurrent_sessions_all_relay(moto, proxy):
    marker = uuid.uuid4().hex

    def send(n):
        with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=120) as client:
            return client.sendmail(SENDER, ["to@example.net"], f"Subject: {marker}-{n}-\r\n\r\nx\r\n")

    with ThreadPoolExecutor(100) as pool:
        assert list(pool.map(send, range(100))) == [{}] * 100
    for n in range(100):
        moto.form_containing(f"{marker}-{n}-".encode())


def test_idle_session_is_closed_with_421(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto), "--idle-timeout=1")
    with socket.create_connection(("127.0.0.1", proxy.smtp_port), timeout=15) as sock:
        banner(sock)
        assert read_reply(sock).startswith(b"421 4.4.2 ")
        assert sock.recv(100) == b""
    # The timer also runs while the client is silent in the middle of DATA.
    with socket.create_connection(("127.0.0.1", proxy.smtp_port), timeout=15) as sock:
        banner(sock)
        sock.sendall(b"EHLO c\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.net>\r\nDATA\r\npartial")
        replies = b""
        while b"421 " not in replies:
            chunk = sock.recv(4096)
            assert chunk, replies
            replies += chunk
        assert b"354 " in replies and b"421 4.4.2 " in replies


def connect_from(address, port):
    sock = socket.socket()
    sock.settimeout(15)
    sock.bind((address, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def test_connection_limits_answer_421(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto), "--max-connections=3", "--max-connections-per-ip=2")
    held = [connect_from("127.0.0.1", proxy.smtp_port) for _ in range(2)]
    try:
        for sock in held:
            banner(sock)
        with connect_from("127.0.0.1", proxy.smtp_port) as third:
            assert read_reply(third).startswith(b"421 4.7.0 "), "over the per-address limit"
        other = connect_from("127.0.0.2", proxy.smtp_port)
        held.append(other)
        banner(other)
        with connect_from("127.0.0.3", proxy.smtp_port) as fourth:
            assert read_reply(fourth).startswith(b"421 4.7.0 "), "over the total limit"
        held.pop().close()
        # A slot freed is a slot usable again.
        def admitted():
            with connect_from("127.0.0.3", proxy.smtp_port) as sock:
                return read_reply(sock).startswith(b"220 ")
        wait_until(admitted, 10, "a freed connection slot")
    finally:
        for sock in held:
            sock.close()


def test_received_header_when_asked(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto), "--add-received-header", "--hostname=relay.test")
    marker = uuid.uuid4().hex
    data = f"Subject: {marker}\r\n\r\nx\r\n".encode()
    with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=30) as client:
        client.ehlo("client.test")
        assert client.sendmail(SENDER, ["to@example.net", "bcc@example.org"], data) == {}
    raw = raw_message(moto.form_containing(marker.encode()))
    header, rest = raw.split(b"\r\n\t", 1)[0], raw
    assert header == b"Received: from client.test ([127.0.0.1])"
    assert b"by relay.test (ses-smtpd-proxy) with ESMTP id " in raw
    assert b"bcc@example.org" not in raw, "a Bcc recipient must not show"
    assert rest.endswith(data)


@pytest.fixture
def postfix(proxy):
    with run_postfix(proxy.smtp_port) as started:
        yield started


@requires_root("Postfix's master runs as root and drops to the postfix user")
def test_postfix_relays_through_the_proxy_with_pipelining(moto, proxy, postfix):
    port, maillog = postfix
    marker = uuid.uuid4().hex
    data = (f"From: {SENDER}\r\nTo: to@example.net\r\nSubject: {marker}\r\nDate: Wed, 02 Dec 2026 07:00:00 +0000\r\n"
            f"Message-ID: <{marker}@client.test>\r\n\r\n.dot line\r\n8-bit \xc3\xa9\r\n").encode("latin-1")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        assert client.sendmail(SENDER, ["to@example.net", "bcc@example.org"], data) == {}

    def relayed():
        forms = moto.forms_containing(marker.encode())
        return forms[0] if forms else None

    form = wait_until(relayed, 60, "Postfix to deliver through the proxy")
    raw = raw_message(form)
    assert raw.startswith(b"Received: ") and raw.endswith(data), "Postfix adds its trace header, nothing else changes"
    assert sorted(destinations(form)) == ["bcc@example.org", "to@example.net"]
    # moto has the message before the proxy's 250 reaches Postfix's log.
    wait_until(lambda: "status=sent (250 2.0.0 Ok: queued as" in maillog.read_text(errors="replace"), 30,
               "Postfix to log the delivery")
    log = maillog.read_text(errors="replace")
    # Pipelining seen on the wire: Postfix sent DATA before it read the answer to MAIL. (Postfix's SMTP
    # client has no BDAT, only its server does; BDAT is covered by test_bdat_pipelined_with_the_dialogue.)
    sent_data = log.index(f":{proxy.smtp_port}: DATA")
    assert sent_data < log.index(f":{proxy.smtp_port}: 250 2.1.0 Sender ok")



def test_a_slow_client_does_not_delay_others(moto, proxy):
    import threading

    slow_done = threading.Event()

    def slowloris():
        with socket.create_connection(("127.0.0.1", proxy.smtp_port), timeout=30) as sock:
            banner(sock)
            for byte in b"EHLO slow.client.test\r\n":
                sock.sendall(bytes([byte]))
                if slow_done.wait(0.25):
                    return
            slow_done.set()

    slow = threading.Thread(target=slowloris)
    slow.start()
    try:
        marker = uuid.uuid4().hex
        with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=30) as client:
            assert client.sendmail(SENDER, ["to@example.net"], f"Subject: {marker}\r\n\r\nx\r\n") == {}
        assert not slow_done.is_set(), "the normal client finished only after the slow one"
    finally:
        slow_done.set()
        slow.join()
    moto.form_containing(marker.encode())
