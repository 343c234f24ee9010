#!/usr/bin/env python3
"""make bench: the proxy's throughput, CPU, memory and start-up against references, all on loopback.

Peers: nginx as an instant fake SES (SendRawEmail answered from memory, over plain HTTP and over
HTTPS with a certificate made for the run and trusted through AWS_CA_BUNDLE), Postfix's smtp-sink as
the reference SMTP receiver, smtp-source as the load, and the proxy's release build (the binaries the
package ships). One more load has a fake SES that answers after 100 ms (Python's threaded HTTP
server), for how many sends the proxy keeps in flight. Each load runs against smtp-sink and the proxy back to back, REPS times; medians are
printed, ratios are taken within one repetition. Nothing here asserts: the figures go in the notes.
"""
import argparse
import http.server
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SES_ANSWER = ('<SendRawEmailResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><SendRawEmailResult>'
              '<MessageId>0100018cbench-0000-0000-0000-000000000000-000000</MessageId></SendRawEmailResult>'
              '<ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata></SendRawEmailResponse>')
SLOW_SES_SECONDS = 0.1
LOADS = [  # (sessions in parallel, message bytes, messages)
    (1, 1024, 5000), (10, 1024, 5000), (50, 1024, 5000), (10, 100 * 1024, 2000),
]


def cpu_seconds(pid):
    """User and system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    sys.exit(f"bench: timed out waiting for {what}")


def connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class FakeSES:
    """nginx answering every POST with a SendRawEmail success; stub_status counts its connections."""

    def __init__(self, work):
        self.http_port, self.https_port = free_port(), free_port()
        self.status_requests = 0
        self.prefix = work / "nginx"
        (self.prefix / "logs").mkdir(parents=True)
        self.cert = self.prefix / "cert.pem"
        key = self.prefix / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(self.cert)], check=True, capture_output=True)
        config = self.prefix / "nginx.conf"
        config.write_text(f"""
daemon off;
worker_processes 1;
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/logs/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_max_body_size 64m;
    client_body_buffer_size 64m;
    client_body_temp_path {self.prefix}/body;
    keepalive_requests 1000000;
    keepalive_timeout 600s;
    server {{
        listen 127.0.0.1:{self.http_port};
        listen 127.0.0.1:{self.https_port} ssl;
        ssl_certificate {self.cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location = /nginx_status {{ stub_status; }}
        location / {{ default_type text/xml; return 200 '{SES_ANSWER}'; }}
    }}
}}
""")
        self.process = subprocess.Popen(["nginx", "-p", str(self.prefix), "-c", str(config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: connects(self.http_port), 10, "nginx")

    def counters(self):
        """(connections accepted, requests served), without the status requests (one connection each)."""
        self.status_requests += 1
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/nginx_status", timeout=5) as answer:
            numbers = answer.read().decode().split("\n")[2].split()
        return int(numbers[0]) - self.status_requests, int(numbers[2]) - self.status_requests

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


class SlowSES:
    """SendRawEmail answered after `delay` seconds, as real SES answers in tens of milliseconds: what
    the relay can do then is bounded by how many sends it keeps in flight, not by its CPU."""

    def __init__(self, delay):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(delay)
                body = SES_ANSWER.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256  # the listen backlog: 50 sessions connect at once

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Proxy:
    running = []  # stopped at the end whatever happens, so a failed run leaves no process behind

    def __init__(self, bin_dir, work, endpoint, ca_bundle=None, name="proxy"):
        self.port = free_port()
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "AWS_ACCESS_KEY_ID": "AKIABENCHMARK0000000",
               "AWS_SECRET_ACCESS_KEY": "bench/secret/key/0000000000000000000000", "AWS_REGION": "us-east-1",
               "AWS_ENDPOINT_URL_SES": endpoint, "AWS_EC2_METADATA_DISABLED": "true"}
        if ca_bundle:
            env["AWS_CA_BUNDLE"] = str(ca_bundle)
        self.log_path = work / f"{name}-{self.port}.log"
        with open(self.log_path, "wb") as log:
            self.started = time.monotonic()
            self.process = subprocess.Popen(
                [str(bin_dir / "ses-smtpd-proxy"), "--max-connections-per-ip=1000", f"127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        Proxy.running.append(self)
        self.startup_seconds = self._await_banner()

    def _await_banner(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as client:
                    if client.recv(512).startswith(b"220"):
                        return time.monotonic() - self.started
            except OSError:
                if self.process.poll() is not None:
                    sys.exit(f"bench: the proxy exited:\n{self.log_path.read_text()}")
                time.sleep(0.001)
        sys.exit("bench: no 220 banner within 20 s")

    def pids(self):
        children = {}
        for child, pid in re.findall(r"child=(ses-[a-z-]+) pid=(\d+)", self.log_path.read_text()):
            children[child] = int(pid)
        return {"supervisor": self.process.pid, **children}

    def cpu_seconds(self):
        """CPU time used so far by each process, by name."""
        return {name: cpu_seconds(pid) for name, pid in self.pids().items()}

    def memory_kib(self, field, only=None):
        """Sum of a /proc status field (VmRSS now, VmHWM the peak) over the processes."""
        total = 0
        for name, pid in self.pids().items():
            if only and name != only:
                continue
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(re.search(rf"^{field}:\s+(\d+) kB", status, re.M).group(1))
        return total

    def pss_kib(self):
        """Proportional set size summed over the processes: shared pages (the libraries, the page
        cache of the binaries) divided among the processes that map them, counted once in total."""
        total = 0
        for pid in self.pids().values():
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            total += int(re.search(r"^Pss:\s+(\d+) kB", rollup, re.M).group(1))
        return total

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(60)


def smtp_source(port, sessions, size, count):
    """Messages per second, as smtp-source sends them: one session per message."""
    started = time.monotonic()
    result = subprocess.run(["smtp-source", "-s", str(sessions), "-l", str(size), "-m", str(count),
                             "-f", "sender@example.com", "-t", "to@example.net", f"127.0.0.1:{port}"],
                            capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if result.returncode != 0 or result.stderr.strip():
        sys.exit(f"bench: smtp-source against port {port} failed: {result.stderr[-2000:]}")
    return count / elapsed


def mib(kib):
    return kib / 1024


def large_message(bin_dir, work, ses, size):
    """Worker RSS: idle, peak while relaying one message of `size` bytes, and 10 s later."""
    proxy = Proxy(bin_dir, work, f"http://127.0.0.1:{ses.http_port}", name=f"large-{size}")
    try:
        time.sleep(1)
        idle = proxy.memory_kib("VmRSS", only="ses-smtp-worker")
        line = b"x" * 998 + b"\r\n"
        body = b"Subject: large\r\n\r\n" + line * (size // len(line))
        with smtplib.SMTP("127.0.0.1", proxy.port, timeout=120) as client:
            client.sendmail("sender@example.com", ["to@example.net"], body)
        peak = proxy.memory_kib("VmHWM", only="ses-smtp-worker")
        time.sleep(10)
        after = proxy.memory_kib("VmRSS", only="ses-smtp-worker")
        return {"size_mb": size / 1e6, "idle_mib": mib(idle), "peak_mib": mib(peak), "after_10s_mib": mib(after),
                "peak_over_size": peak * 1024 / size, "after_over_idle": after / idle}
    finally:
        proxy.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", type=Path, required=True, help="release binaries (scripts/release-build.sh)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of each load's message count")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    for tool in ("nginx", "smtp-source", "smtp-sink", "openssl"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is missing (make bench installs it)")

    work = Path(tempfile.mkdtemp(prefix="ses-bench-"))
    work.chmod(0o755)
    ses = FakeSES(work)
    sink_port = free_port()
    sink_command = ["smtp-sink", *(["-u", "nobody"] if os.geteuid() == 0 else []), f"127.0.0.1:{sink_port}", "1024"]
    sink = subprocess.Popen(sink_command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: connects(sink_port), 10, "smtp-sink")
    figures = {"loads": [], "machine": f"{os.cpu_count()} CPUs"}
    try:
        startups = []
        for _ in range(args.reps):
            probe = Proxy(args.bin_dir, work, f"http://127.0.0.1:{ses.http_port}", name="startup")
            startups.append(probe.startup_seconds)
            probe.stop()
        figures["startup_ms"] = statistics.median(startups) * 1000

        plain = Proxy(args.bin_dir, work, f"http://127.0.0.1:{ses.http_port}", name="http")
        time.sleep(2)
        figures["idle_rss_mib"] = mib(plain.memory_kib("VmRSS"))
        figures["idle_pss_mib"] = mib(plain.pss_kib())
        figures["idle_rss_by_process_mib"] = {name: mib(plain.memory_kib("VmRSS", only=name)) for name in plain.pids()}
        for sessions, size, count in LOADS:
            count = max(100, int(count * args.scale))
            sink_rates, sink_cpu, proxy_rates, ratios, cpu, connections = [], [], [], [], [], []
            for _ in range(args.reps):
                sink_before = cpu_seconds(sink.pid)
                sink_rates.append(smtp_source(sink_port, sessions, size, count))
                sink_cpu.append((cpu_seconds(sink.pid) - sink_before) * 1000 / count)
                cpu_before, (accepted_before, served_before) = plain.cpu_seconds(), ses.counters()
                proxy_rates.append(smtp_source(plain.port, sessions, size, count))
                cpu_after, (accepted_after, served_after) = plain.cpu_seconds(), ses.counters()
                if served_after - served_before != count:
                    sys.exit(f"bench: {count} messages sent, {served_after - served_before} reached the fake SES")
                ratios.append(proxy_rates[-1] / sink_rates[-1])
                cpu.append({name: (cpu_after[name] - cpu_before[name]) * 1000 / count for name in cpu_after})
                connections.append((accepted_after - accepted_before) / count)
            load = {"sessions": sessions, "size": size, "messages": count,
                    "sink_msg_s": statistics.median(sink_rates), "sink_cpu_ms_per_msg": statistics.median(sink_cpu),
                    "proxy_msg_s": statistics.median(proxy_rates),
                    "ratio": statistics.median(ratios), "cpu_ms_per_msg": statistics.median(sum(c.values()) for c in cpu),
                    "cpu_ms_by_process": {name: statistics.median(c[name] for c in cpu) for name in cpu[0]},
                    "backend_connections_per_msg": statistics.median(connections)}
            figures["loads"].append(load)
            print(f"{sessions:>3} sessions {size // 1024:>4} KiB: smtp-sink {load['sink_msg_s']:7.0f} msg/s "
                  f"(CPU {load['sink_cpu_ms_per_msg']:.3f} ms/msg), "
                  f"proxy {load['proxy_msg_s']:7.0f} msg/s, ratio {load['ratio']:.2f}, "
                  f"CPU {load['cpu_ms_per_msg']:.3f} ms/msg ("
                  + ", ".join(f"{name} {value:.3f}" for name, value in load["cpu_ms_by_process"].items())
                  + "), backend connections/msg "
                  f"{load['backend_connections_per_msg']:.4f}", flush=True)
        figures["peak_rss_mib"] = mib(plain.memory_kib("VmHWM"))
        plain.stop()

        secure = Proxy(args.bin_dir, work, f"https://127.0.0.1:{ses.https_port}", ca_bundle=ses.cert, name="https")
        count = max(100, int(5000 * args.scale))
        https_rates, https_ratios, https_connections = [], [], []
        plain = Proxy(args.bin_dir, work, f"http://127.0.0.1:{ses.http_port}", name="http-again")
        for _ in range(args.reps):
            http_rate = smtp_source(plain.port, 50, 1024, count)
            accepted_before = ses.counters()[0]
            https_rates.append(smtp_source(secure.port, 50, 1024, count))
            https_connections.append((ses.counters()[0] - accepted_before) / count)
            https_ratios.append(https_rates[-1] / http_rate)
        secure.stop()
        plain.stop()
        figures["https_c50_msg_s"] = statistics.median(https_rates)
        figures["https_over_http"] = statistics.median(https_ratios)
        figures["https_backend_connections_per_msg"] = statistics.median(https_connections)
        print(f" 50 sessions    1 KiB over HTTPS: {figures['https_c50_msg_s']:.0f} msg/s, "
              f"{figures['https_over_http']:.2f} of plain HTTP, backend connections/msg "
              f"{figures['https_backend_connections_per_msg']:.4f}", flush=True)

        slow = SlowSES(SLOW_SES_SECONDS)
        patient = Proxy(args.bin_dir, work, f"http://127.0.0.1:{slow.port}", name="slow-ses")
        count = max(100, int(1500 * args.scale))
        figures["slow_ses_c50_msg_s"] = statistics.median(smtp_source(patient.port, 50, 1024, count) for _ in range(args.reps))
        patient.stop()
        slow.stop()
        print(f" 50 sessions    1 KiB, SES answering after {SLOW_SES_SECONDS * 1000:.0f} ms: "
              f"{figures['slow_ses_c50_msg_s']:.0f} msg/s (all 50 in flight would be {50 / SLOW_SES_SECONDS:.0f})", flush=True)

        figures["large"] = [large_message(args.bin_dir, work, ses, size) for size in (7_500_000, 9_500_000)]
        for large in figures["large"]:
            print(f"one {large['size_mb']:.1f} MB message: worker RSS idle {large['idle_mib']:.1f} MiB, "
                  f"peak {large['peak_mib']:.1f} MiB ({large['peak_over_size']:.2f} x the message), "
                  f"10 s later {large['after_10s_mib']:.1f} MiB ({large['after_over_idle']:.2f} x idle)")
    finally:
        for proxy in Proxy.running:
            proxy.stop()
        sink.terminate()
        ses.stop()

    by_load = {(load["sessions"], load["size"]): load for load in figures["loads"]}
    c1, c10, c50, big = (by_load[key] for key in [(1, 1024), (10, 1024), (50, 1024), (10, 102400)])
    large = figures["large"][1]
    targets = [  # (short name, what the issue asks, value, met)
        ("c1", "1 KiB at 1 session >= 0.65 x smtp-sink", c1["ratio"], c1["ratio"] >= 0.65),
        ("c10", "1 KiB at 10 sessions >= 0.45 x smtp-sink", c10["ratio"], c10["ratio"] >= 0.45),
        ("c50", "1 KiB at 50 sessions >= 0.45 x smtp-sink", c50["ratio"], c50["ratio"] >= 0.45),
        ("100k", "100 KiB at 10 sessions >= 0.65 x smtp-sink", big["ratio"], big["ratio"] >= 0.65),
        ("https", "HTTPS at 50 sessions >= 0.85 x plain HTTP", figures["https_over_http"], figures["https_over_http"] >= 0.85),
        ("cpu", "CPU at 10 sessions <= 0.20 ms per message", c10["cpu_ms_per_msg"], c10["cpu_ms_per_msg"] <= 0.20),
        ("idle", "idle RSS of the 3 processes <= 24 MiB", figures["idle_rss_mib"], figures["idle_rss_mib"] <= 24),
        ("start", "start-up to the 220 banner <= 100 ms", figures["startup_ms"], figures["startup_ms"] <= 100),
        ("peak", "9.5 MB message: worker peak RSS <= 3 x its size", large["peak_over_size"], large["peak_over_size"] <= 3),
        ("after", "9.5 MB message: worker RSS 10 s later <= 1.1 x idle", large["after_over_idle"], large["after_over_idle"] <= 1.1),
    ]
    by_process = ", ".join(f"{name} {value:.1f}" for name, value in figures["idle_rss_by_process_mib"].items())
    print(f"idle RSS (3 processes) {figures['idle_rss_mib']:.1f} MiB ({by_process}; PSS {figures['idle_pss_mib']:.1f} MiB), "
          f"peak RSS {figures['peak_rss_mib']:.1f} MiB, "
          f"start-up to the 220 banner {figures['startup_ms']:.0f} ms")
    for _, goal, value, met in targets:
        print(f"  {'met ' if met else 'MISS'} {goal}: {value:.3f}")
    figures["targets_met"] = sum(met for *_, met in targets)
    print(f"bench summary: {figures['targets_met']}/{len(targets)} targets met; " + " ".join(
        f"{short}={value:.2f}{'' if met else '!'}" for short, _, value, met in targets))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
