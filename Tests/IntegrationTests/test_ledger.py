"""The ledger: K clients send N numbered messages each through the real binaries while SES misbehaves
at random (the SESFaults fixture in front of moto) and the worker and the agent are killed once each.
At the end, against what moto stored:

- every message answered 250 is stored exactly once;
- every message refused (4xx/5xx) is stored zero times, except the ambiguous ones: the request
  reached SES but its answer did not come back (451 4.4.2, or the worker killed mid-request), which
  may be stored once and are counted apart;
- a message whose connection was lost without a reply is stored at most once, and counted.
"""
import os
import random
import signal
import smtplib
import threading
import uuid
from collections import Counter

from conftest import SESFaults, proxy_environment, wait_until

SENDER = "sender@example.com"
CLIENTS = 8
MESSAGES = 25
FAULTS = ["forward"] * 70 + ["throttle"] * 6 + ["503"] * 6 + ["500"] * 4 + ["daily"] * 3 + ["garbage"] * 3 + \
         ["stored-reset"] * 4 + ["stored-hang"] * 2 + ["hang"] * 2


def send_all(port, client, outcomes):
    """Sends this client's messages, one session each, recording (marker, outcome) per message."""
    for number in range(MESSAGES):
        marker = f"ledger-{client}-{number}-{uuid.uuid4().hex}"
        data = f"From: {SENDER}\r\nTo: to@example.net\r\nSubject: {marker}\r\n\r\nmessage {number}\r\n".encode()
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as session:
                session.ehlo("ledger.test")
                session.mail(SENDER)
                session.rcpt("to@example.net")
                code, text = session.data(data)
                outcome = f"{code} {text.decode().split(' ', 1)[0]}"
        except (smtplib.SMTPException, OSError) as error:
            outcome = f"lost ({type(error).__name__})"
        outcomes.append((marker, outcome))


def test_nothing_is_lost_or_doubled_under_faults(moto, start_proxy, capsys):
    rng = random.Random(20261202)
    lock = threading.Lock()

    def choose():
        with lock:
            return rng.choice(FAULTS)

    faults = SESFaults(moto, choose=choose)
    try:
        proxy = start_proxy(proxy_environment(moto, AWS_ENDPOINT_URL_SES=faults.endpoint), "--ses-timeout=3")
        outcomes = []
        clients = [threading.Thread(target=send_all, args=(proxy.smtp_port, k, outcomes)) for k in range(CLIENTS)]
        for thread in clients:
            thread.start()
        # Kill each child once while mail flows; the supervisor restarts it.
        wait_until(lambda: len(outcomes) >= CLIENTS * MESSAGES // 3, 120, "a third of the messages")
        os.kill(proxy.child_pids()["ses-smtp-worker"], signal.SIGKILL)
        wait_until(lambda: len(outcomes) >= CLIENTS * MESSAGES * 2 // 3, 120, "two thirds of the messages")
        os.kill(proxy.child_pids()["ses-cred-agent"], signal.SIGKILL)
        for thread in clients:
            thread.join(300)
        assert len(outcomes) == CLIENTS * MESSAGES
    finally:
        faults.close()

    counts = Counter()
    ambiguous_stored = 0
    problems = []
    for marker, outcome in outcomes:
        stored = len(moto.forms_containing(marker.encode()))
        if outcome.startswith("250 "):
            counts["250"] += 1
            if stored != 1:
                problems.append(f"{marker}: answered 250, stored {stored} times")
        elif outcome == "451 4.4.2" or outcome.startswith("lost"):
            counts["ambiguous" if outcome == "451 4.4.2" else "lost"] += 1
            ambiguous_stored += stored
            if stored > 1:
                problems.append(f"{marker}: {outcome}, stored {stored} times")
        else:
            counts[outcome] += 1
            if stored != 0:
                problems.append(f"{marker}: answered {outcome}, stored {stored} times")
    with capsys.disabled():
        print(f"\nledger: {len(outcomes)} messages; " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
              + f"; ambiguous or lost and stored anyway: {ambiguous_stored}; SES requests {faults.sends}, stored {faults.accepted}")
    assert not problems, "\n".join(problems)
    assert counts["250"] > CLIENTS * MESSAGES // 2, "most messages should get through"
    # Each restarted child is back, and the relay serves again.
    wait_until(lambda: proxy.health()[0] == 200, 30, "the relay to be healthy again")
