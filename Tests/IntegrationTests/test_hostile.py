"""Hostile and broken clients against the real binaries, all at once, while a well-behaved client
sends mail: slowloris sessions (a byte every second), a thousand connection attempts, many past the limits,
random bytes, NUL bytes, a 4 MB line, and clients that vanish in the middle of DATA. The process tree
must stay up with no child restarted, the honest client's messages must arrive, and service must be
normal afterwards."""
import json
import random
import smtplib
import socket
import threading
import time
import uuid

from conftest import proxy_environment

SENDER = "sender@example.com"


def read_some(sock, seconds=5):
    sock.settimeout(seconds)
    try:
        return sock.recv(4096)
    except OSError:
        return b""


def slowloris(port, stop, settled):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            read_some(sock)
            settled.release()
            for byte in b"EHLO slow.test\r\nMAIL FROM:<slow@example.com>\r\n" * 100:
                if stop.is_set():
                    return
                sock.sendall(bytes([byte]))
                time.sleep(1)
    except OSError:
        settled.release()  # closed by the server: allowed; the flood need not wait for this one


def flood_connections(port, batches, batch=100):
    """Connections held open a batch at a time, so that many go past the per-address limit."""
    refused = 0
    for _ in range(batches):
        held = []
        for _ in range(batch):
            try:
                held.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            except OSError:
                pass
        # All read before any is closed: a slot freed early would admit the next one of the batch, and
        # whether the limit is passed would depend on how fast the worker accepts.
        for sock in held:
            if read_some(sock, 10).startswith(b"421 "):
                refused += 1
        for sock in held:
            sock.close()
    return refused


def garbage(port, payload, chunk=65536):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            read_some(sock)
            for start in range(0, len(payload), chunk):
                sock.sendall(payload[start:start + chunk])
            read_some(sock, 2)
    except OSError:
        pass  # cut off by the server: allowed


def vanish_mid_data(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            read_some(sock)
            sock.sendall(b"EHLO gone.test\r\nMAIL FROM:<sender@example.com>\r\nRCPT TO:<to@example.net>\r\nDATA\r\n")
            time.sleep(0.2)
            sock.sendall(b"Subject: half\r\n\r\nhalf a message and then nothing")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
    except OSError:
        pass


def send(port, marker):
    data = f"From: {SENDER}\r\nTo: to@example.net\r\nSubject: {marker}\r\n\r\nhonest\r\n".encode()
    with smtplib.SMTP("127.0.0.1", port, timeout=60, source_address=("127.0.0.2", 0)) as client:
        return client.sendmail(SENDER, ["to@example.net"], data)


def test_hostile_clients_do_not_hurt_the_relay(moto, start_proxy):
    # The attackers share 127.0.0.1 and its 150 slots; the honest client comes from 127.0.0.2.
    proxy = start_proxy(proxy_environment(moto), "--max-connections=400", "--max-connections-per-ip=150")
    before = proxy.child_pids()
    rng = random.Random(4242)
    stop = threading.Event()
    settled = threading.Semaphore(0)
    slow = [threading.Thread(target=slowloris, args=(proxy.smtp_port, stop, settled)) for _ in range(100)]
    flood_result = []
    others = [threading.Thread(target=lambda: flood_result.append(flood_connections(proxy.smtp_port, 10)))]
    payloads = [bytes(rng.randrange(256) for _ in range(200_000)), b"\x00" * 100_000 + b"\r\n",
                b"EHLO x\r\n" + b"A" * (4 << 20) + b"\r\nQUIT\r\n", b"EHLO x\r\nMAIL FROM:<\x00@x>\r\n\r\n\r\n"]
    others += [threading.Thread(target=garbage, args=(proxy.smtp_port, payload)) for payload in payloads]
    others += [threading.Thread(target=vanish_mid_data, args=(proxy.smtp_port,)) for _ in range(20)]
    threads = slow + others
    for thread in slow:
        thread.start()
    try:
        # The flood starts once the slow sessions hold their 100 slots: started together, it can be over
        # (100 at a time, 0.3 s in all) before they have connected, and never pass the limit.
        for _ in slow:
            assert settled.acquire(timeout=30), "a slow session got no banner"
        for thread in others:
            thread.start()
        time.sleep(2)  # the flood, the garbage and the vanishing sessions are under way
        markers = [uuid.uuid4().hex for _ in range(10)]
        for marker in markers:
            assert send(proxy.smtp_port, marker) == {}
    finally:
        stop.set()
        for thread in threads:
            if thread.ident is not None:  # started
                thread.join(120)
    assert all(len(moto.forms_containing(m.encode())) == 1 for m in markers)
    assert flood_result and flood_result[0] > 0, "the connection limits answered 421 under the flood"
    # Same children, none restarted; service normal afterwards.
    assert proxy.child_pids() == before
    status, body = proxy.health()
    health = json.loads(body)
    assert status == 200 and all(child["restarts"] == 0 for child in health["children"].values()), health
    marker = uuid.uuid4().hex
    assert send(proxy.smtp_port, marker) == {}
    assert len(moto.forms_containing(marker.encode())) == 1
    assert "Fatal error" not in proxy.log
