"""Client, sender and recipient policy through the real binaries: --allow-from (IPv4 and IPv6),
--allow-sender, --deny-recipient, the open-relay warning, and the refusal metrics."""
import smtplib
import socket
import uuid

from conftest import destinations, proxy_environment

SENDER = "sender@example.com"


def banner(host, port, expect_close=True):
    """The first reply and, if `expect_close`, whether the server closed the connection after it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.settimeout(10)
        client.connect((host, port))
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = client.recv(1024)
            if not chunk:
                break
            data += chunk
        closed = expect_close and client.recv(1024) == b""
    return data.decode(), closed


def message(marker):
    return f"From: {SENDER}\r\nTo: to@example.net\r\nSubject: {marker}\r\n\r\nHello.\r\n".encode()


def test_client_outside_the_allow_list_is_refused_in_the_banner(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto), "--allow-from=10.0.0.0/8,2001:db8::/32")
    reply, closed = banner("127.0.0.1", proxy.smtp_port)
    assert reply.startswith("554 5.7.1 "), reply
    assert closed
    proxy.metrics_reach({'smtpd_policy_refusal_total{reason="client"}': 1})
    assert "OPEN RELAY" not in proxy.log


def test_client_inside_the_allow_list_is_served(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto), "--allow-from=192.0.2.0/24,127.0.0.0/8")
    marker = uuid.uuid4().hex
    with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=30) as client:
        client.sendmail(SENDER, ["to@example.net"], message(marker))
    assert moto.form_containing(marker.encode())


def test_ipv6_clients_are_matched_as_ipv6(moto, start_proxy):
    refused = start_proxy(proxy_environment(moto), "--allow-from=127.0.0.0/8", listen_host="[::1]")
    reply, _ = banner("::1", refused.smtp_port)
    assert reply.startswith("554 5.7.1 "), reply
    served = start_proxy(proxy_environment(moto), "--allow-from=::1/128", listen_host="[::1]")
    reply, _ = banner("::1", served.smtp_port, expect_close=False)
    assert reply.startswith("220 "), reply


def test_sender_must_match_allow_sender(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto), r"--allow-sender=^[^@]+@example\.com$")
    with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=30) as client:
        client.ehlo("client.test")
        code, text = client.mail("someone@example.com.attacker.test")
        assert (code, text.decode().split(" ", 1)[0]) == (550, "5.7.1"), text
        assert client.mail(SENDER)[0] == 250, "the session survives a refusal"
    proxy.metrics_reach({'smtpd_policy_refusal_total{reason="sender"}': 1})


def test_denied_recipient_is_refused_and_the_others_get_the_message(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto), r"--deny-recipient=(?i)@blocked\.example$")
    marker = uuid.uuid4().hex
    with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=30) as client:
        client.ehlo("client.test")
        assert client.mail(SENDER)[0] == 250
        code, text = client.rcpt("x@Blocked.Example")
        assert (code, text.decode().split(" ", 1)[0]) == (550, "5.7.1"), text
        assert client.rcpt("to@example.net")[0] == 250
        assert client.data(message(marker))[0] == 250
    assert destinations(moto.form_containing(marker.encode())) == ["to@example.net"]
    proxy.metrics_reach({'smtpd_policy_refusal_total{reason="recipient"}': 1, "smtpd_email_send_success_total": 1})


def test_listening_beyond_loopback_without_allow_list_warns(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto), listen_host="")
    assert "OPEN RELAY" in proxy.log and "--allow-from" in proxy.log
    quiet = start_proxy(proxy_environment(moto))
    assert "OPEN RELAY" not in quiet.log


def test_bad_policy_flags_stop_the_start_naming_the_flag(moto, start_proxy):
    for flag, named in [("--allow-from=10.0.0.1/8", "did you mean 10.0.0.0/8"), ("--allow-sender=([a-z", "--allow-sender"),
                        ("--deny-recipient=*x", "--deny-recipient")]:
        proxy = start_proxy(proxy_environment(moto), flag, wait=False)
        assert proxy.process.wait(20) != 0
        assert named in proxy.log, proxy.log
