"""/health and /metrics as the Go original serves them, fed by the children and served by the supervisor."""
import json
import smtplib
import urllib.request
import uuid

from conftest import http_get, proxy_environment

SEED_METRICS = [
    "smtpd_email_send_success_total",
    "smtpd_ses_error_total",
    "smtpd_credential_renewal_success_total",
    "smtpd_credential_renewal_error_total",
]


def test_health_answers_the_seed_json(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto))
    status, body = proxy.health()
    assert status == 200
    # The seed's three keys first, as the Go original writes them; then what we add.
    assert body.startswith('{"name":"ses-smtp-proxy","status":"ok","version":"v0.1.0"')
    report = json.loads(body)
    assert report["children"] == {
        "ses-cred-agent": {"state": "running", "restarts": 0},
        "ses-smtp-worker": {"state": "running", "restarts": 0},
    }
    assert report["credentials_expire"] is None, "environment keys do not expire"


def test_metrics_have_the_seed_names_and_move(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto))
    before = proxy.metrics()
    for name in SEED_METRICS:
        assert name in before
    assert before["smtpd_credential_renewal_success_total"] >= 1
    with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=30) as client:
        client.sendmail("sender@example.com", ["to@example.net"], f"Subject: {uuid.uuid4().hex}\r\n\r\nx\r\n")
        try:
            client.sendmail("stranger@example.com", ["to@example.net"], "Subject: no\r\n\r\nx\r\n")
        except smtplib.SMTPDataError as refused:
            assert refused.smtp_code == 554
    proxy.metrics_reach({
        "smtpd_email_send_success_total": before["smtpd_email_send_success_total"] + 1,
        'smtpd_email_send_fail_total{type="rejected"}': 1,
        "smtpd_ses_error_total": 1,
    })


def test_health_and_metrics_on_separate_listeners(moto, start_proxy):
    from conftest import free_port

    metrics_port = free_port()
    # start_proxy puts both on one port; here the original's separate-port layout.
    proxy = start_proxy(proxy_environment(moto), f"--prometheus-bind=127.0.0.1:{metrics_port}")
    status, body = http_get(f"http://127.0.0.1:{metrics_port}/metrics")
    assert status == 200 and "smtpd_email_send_success_total" in body
    assert http_get(f"http://127.0.0.1:{metrics_port}/health")[0] == 404
    assert proxy.health()[0] == 200


def test_unknown_path_and_method(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto))
    assert http_get(f"http://127.0.0.1:{proxy.http_port}/nope")[0] == 404
    request = urllib.request.Request(f"http://127.0.0.1:{proxy.http_port}/health", data=b"x", method="POST")
    try:
        urllib.request.urlopen(request, timeout=5)
        raise AssertionError("POST /health was accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 405
