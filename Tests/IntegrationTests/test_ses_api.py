"""SES beyond the original, through the real binaries: SESv2, sending-authorization ARNs, tags, the
send-rate limit and retries.

moto (signatures checked) receives every message that SES would have. What moto cannot produce on
demand — throttling, the daily quota, HTTP 500/503, an endpoint that never answers, GetAccount — comes
from `SESFaults`, a small HTTP fixture in front of moto that answers in SES's own XML/JSON error shapes
and forwards everything else unchanged, so a 250 still means moto stored the message."""
import smtplib
import time
import uuid


from conftest import proxy_environment, raw_message, v2_raw_message

SENDER = "sender@example.com"
SOURCE_ARN = "arn:aws:ses:us-east-1:123456789012:identity/example.com"
FROM_ARN = "arn:aws:ses:us-east-1:123456789012:identity/from.example.com"
RETURN_PATH_ARN = "arn:aws:ses:us-east-1:123456789012:identity/bounce.example.com"


def message(marker, extra_headers=b""):
    return (f"From: {SENDER}\r\nTo: to@example.net\r\nSubject: {marker}\r\n".encode() + extra_headers
            + b"\r\nHello.\r\n..leading dot\r\n")


def send(port, data, recipients=("to@example.net",)):
    """(code, text, seconds) of the answer to the end of DATA."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.ehlo("client.test")
        assert client.mail(SENDER)[0] == 250
        for recipient in recipients:
            assert client.rcpt(recipient)[0] == 250
        started = time.monotonic()
        code, text = client.data(data)
        elapsed = time.monotonic() - started
        client.quit()
    return code, text.decode(), elapsed


def v2_environment(moto, endpoint=None):
    return proxy_environment(moto, AWS_ENDPOINT_URL_SES=None, AWS_ENDPOINT_URL_SESV2=endpoint or moto.endpoint)


def test_v2_sends_raw_content_byte_for_byte_with_bcc_in_destinations(moto, start_proxy):
    proxy = start_proxy(v2_environment(moto), "--ses-api=v2")
    marker = uuid.uuid4().hex
    data = message(marker)
    code, text, _ = send(proxy.smtp_port, data, ["to@example.net", "bcc@example.org"])
    assert code == 250, text
    [request] = moto.v2_requests_containing(marker.encode())
    # smtplib dot-stuffs the line with the leading dots; SES must get it as the client meant it.
    assert v2_raw_message(request) == data
    assert request["Destination"] == {"ToAddresses": ["to@example.net", "bcc@example.org"]}
    assert request["FromEmailAddress"] == SENDER
    assert moto.forms_containing(marker.encode()) == [], "v2 only: no SendRawEmail"
    assert "ses_api=v2" in proxy.log


def test_v2_lifts_ses_headers_into_parameters_and_removes_them(moto, start_proxy):
    proxy = start_proxy(
        v2_environment(moto), "--ses-api=v2", "--configuration-set-name=default-set", "--tag=app=cron", "--tag=env=prod",
        f"--source-arn={SOURCE_ARN}", f"--return-path-arn={RETURN_PATH_ARN}")
    marker = uuid.uuid4().hex
    data = message(marker, b"X-SES-CONFIGURATION-SET: per-message\r\nX-SES-MESSAGE-TAGS: env=staging,\r\n campaign=42\r\n")
    code, text, _ = send(proxy.smtp_port, data)
    assert code == 250, text
    [request] = moto.v2_requests_containing(marker.encode())
    raw = v2_raw_message(request)
    assert b"X-SES-" not in raw
    assert raw.startswith(f"From: {SENDER}\r\nTo: to@example.net\r\nSubject: {marker}\r\n\r\nHello.".encode())
    assert request["ConfigurationSetName"] == "per-message"
    assert request["EmailTags"] == [{"Name": "app", "Value": "cron"}, {"Name": "env", "Value": "staging"},
                                    {"Name": "campaign", "Value": "42"}]
    assert request["FromEmailAddressIdentityArn"] == SOURCE_ARN
    assert request["FeedbackForwardingEmailAddressIdentityArn"] == RETURN_PATH_ARN


def test_v2_refuses_a_tag_header_it_cannot_honour(moto, start_proxy):
    proxy = start_proxy(v2_environment(moto), "--ses-api=v2")
    marker = uuid.uuid4().hex
    code, text, _ = send(proxy.smtp_port, message(marker, b"X-SES-MESSAGE-TAGS: not a tag\r\n"))
    assert (code, text.split(" ", 1)[0]) == (554, "5.6.0"), text
    assert "X-SES-MESSAGE-TAGS" in text and "not a tag" not in text
    assert moto.stored(marker.encode()) == 0


def test_v1_sends_arns_and_tags_and_leaves_the_message_alone(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto), "--tag=app=cron", f"--source-arn={SOURCE_ARN}",
                        f"--from-arn={FROM_ARN}", f"--return-path-arn={RETURN_PATH_ARN}")
    marker = uuid.uuid4().hex
    data = message(marker, b"X-SES-CONFIGURATION-SET: native\r\n")
    code, text, _ = send(proxy.smtp_port, data)
    assert code == 250, text
    form = moto.form_containing(marker.encode())
    assert form["SourceArn"] == [SOURCE_ARN] and form["FromArn"] == [FROM_ARN] and form["ReturnPathArn"] == [RETURN_PATH_ARN]
    assert form["Tags.member.1.Name"] == ["app"] and form["Tags.member.1.Value"] == ["cron"]
    # SendRawEmail honours the header itself: v1 sends the message exactly as received.
    assert raw_message(form) == data


def test_auto_rate_is_read_from_get_send_quota_and_limits_recipients(moto, start_proxy):
    # moto's GetSendQuota says MaxSendRate 1: five recipients take five seconds of sending, so the
    # next message would wait longer than half of --ses-timeout and is told to come back.
    proxy = start_proxy(proxy_environment(moto), "--max-send-rate=auto", "--ses-timeout=4")
    assert "max_send_rate=1.0" in proxy.log
    first = uuid.uuid4().hex
    code, text, _ = send(proxy.smtp_port, message(first), [f"r{i}@example.net" for i in range(5)])
    assert code == 250, text
    second = uuid.uuid4().hex
    code, text, elapsed = send(proxy.smtp_port, message(second))
    assert (code, text.split(" ", 1)[0]) == (451, "4.7.0"), text
    assert moto.stored(second.encode()) == 0
    proxy.metrics_reach({'smtpd_email_send_fail_total{type="rate_limited"}': 1, "smtpd_email_send_success_total": 1})


def test_fixed_rate_spaces_messages_out(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto), "--max-send-rate=2")
    markers = [uuid.uuid4().hex for _ in range(4)]
    started = time.monotonic()
    for marker in markers:
        assert send(proxy.smtp_port, message(marker))[0] == 250
    # A bucket of 2 recipients refilled at 2/s: the 3rd and 4th wait 0.5 s each.
    assert time.monotonic() - started >= 0.9
    assert all(moto.stored(m.encode()) == 1 for m in markers)


def test_throttling_is_retried_inside_the_transaction(moto, start_proxy, ses_faults):
    faults = ses_faults(["throttle", "throttle"])
    proxy = start_proxy(proxy_environment(moto, AWS_ENDPOINT_URL_SES=faults.endpoint))
    marker = uuid.uuid4().hex
    code, text, _ = send(proxy.smtp_port, message(marker))
    assert code == 250, text
    assert (faults.sends, faults.accepted, moto.stored(marker.encode())) == (3, 1, 1)
    proxy.metrics_reach({"smtpd_ses_retry_total": 2, "smtpd_ses_error_total": 2, "smtpd_email_send_success_total": 1})


def test_ses_5xx_is_retried_at_most_three_times(moto, start_proxy, ses_faults):
    faults = ses_faults(["503", "500", "503", "503"])
    proxy = start_proxy(proxy_environment(moto, AWS_ENDPOINT_URL_SES=faults.endpoint))
    marker = uuid.uuid4().hex
    code, text, _ = send(proxy.smtp_port, message(marker))
    assert (code, text.split(" ", 1)[0]) == (451, "4.3.0"), text
    assert (faults.sends, moto.stored(marker.encode())) == (3, 0)
    proxy.metrics_reach({'smtpd_email_send_fail_total{type="ses_unavailable"}': 1, "smtpd_ses_retry_total": 2})
    # SES is back: the next message goes through at once.
    marker = uuid.uuid4().hex
    assert send(proxy.smtp_port, message(marker))[0] == 250
    assert (faults.sends, faults.accepted) == (5, 1)


def test_daily_quota_is_answered_at_once_without_retrying(moto, start_proxy, ses_faults):
    faults = ses_faults(["daily"])
    proxy = start_proxy(proxy_environment(moto, AWS_ENDPOINT_URL_SES=faults.endpoint))
    marker = uuid.uuid4().hex
    code, text, _ = send(proxy.smtp_port, message(marker))
    assert (code, text.split(" ", 1)[0]) == (451, "4.7.0"), text
    assert "daily" in text
    assert (faults.sends, moto.stored(marker.encode())) == (1, 0)
    proxy.metrics_reach({'smtpd_email_send_fail_total{type="daily_quota"}': 1, "smtpd_ses_retry_total": 0})


def test_unanswered_request_is_not_retried_and_ends_within_the_timeout(moto, start_proxy, ses_faults):
    faults = ses_faults(["hang"])
    proxy = start_proxy(proxy_environment(moto, AWS_ENDPOINT_URL_SES=faults.endpoint), "--ses-timeout=3")
    marker = uuid.uuid4().hex
    code, text, elapsed = send(proxy.smtp_port, message(marker))
    assert (code, text.split(" ", 1)[0]) == (451, "4.4.2"), text
    assert 2.5 <= elapsed < 6, f"the reply came after {elapsed:.1f} s with --ses-timeout=3"
    assert faults.sends == 1, "SES may have the message: no second request"
    proxy.metrics_reach({'smtpd_email_send_fail_total{type="no_answer"}': 1, "smtpd_ses_retry_total": 0})
    assert "request_sent=true" in proxy.log


def test_throttling_past_the_timeout_gives_up_in_time(moto, start_proxy, ses_faults):
    faults = ses_faults(["throttle"] * 10)
    proxy = start_proxy(proxy_environment(moto, AWS_ENDPOINT_URL_SES=faults.endpoint), "--ses-timeout=2")
    marker = uuid.uuid4().hex
    code, text, elapsed = send(proxy.smtp_port, message(marker))
    assert (code, text.split(" ", 1)[0]) == (451, "4.7.0"), text
    assert elapsed < 4, f"the reply came after {elapsed:.1f} s with --ses-timeout=2"
    assert 1 <= faults.sends <= 3 and moto.stored(marker.encode()) == 0


def test_answer_without_message_id_is_never_250(moto, start_proxy, ses_faults):
    faults = ses_faults(["garbage"])
    proxy = start_proxy(proxy_environment(moto, AWS_ENDPOINT_URL_SES=faults.endpoint))
    marker = uuid.uuid4().hex
    code, text, _ = send(proxy.smtp_port, message(marker))
    assert (code, text.split(" ", 1)[0]) == (451, "4.3.0"), text
    assert faults.sends == 1
    proxy.metrics_reach({'smtpd_email_send_fail_total{type="no_message_id"}': 1})


def test_v2_throttling_and_get_account(moto, start_proxy, ses_faults):
    faults = ses_faults(["v2-throttle"], max_send_rate=40.5)
    proxy = start_proxy(v2_environment(moto, faults.endpoint), "--ses-api=v2", "--max-send-rate=auto")
    assert "max_send_rate=40.5" in proxy.log
    marker = uuid.uuid4().hex
    code, text, _ = send(proxy.smtp_port, message(marker))
    assert code == 250, text
    assert (faults.sends, faults.accepted, moto.stored(marker.encode())) == (2, 1, 1)
    faults.script = ["v2-daily"]
    code, text, _ = send(proxy.smtp_port, message(uuid.uuid4().hex))
    assert (code, text.split(" ", 1)[0]) == (451, "4.7.0") and faults.sends == 3, text


def test_connection_refused_is_retried(moto, start_proxy):
    from conftest import free_port

    proxy = start_proxy(proxy_environment(moto, AWS_ENDPOINT_URL_SES=f"http://127.0.0.1:{free_port()}"))
    code, text, _ = send(proxy.smtp_port, message(uuid.uuid4().hex))
    assert (code, text.split(" ", 1)[0]) == (451, "4.4.1"), text
    proxy.metrics_reach({'smtpd_email_send_fail_total{type="network"}': 1, "smtpd_ses_retry_total": 2})


def test_auto_rate_that_cannot_be_read_stops_the_start(moto, start_proxy):
    # GetAccount is not in moto (404): the relay must not start sending without its limit.
    proxy = start_proxy(v2_environment(moto), "--ses-api=v2", "--max-send-rate=auto", wait=False)
    assert proxy.process.wait(30) != 0
    assert "--max-send-rate auto: cannot read the account's sending rate: GetAccount" in proxy.log
    assert "failed before the relay could start" in proxy.log
