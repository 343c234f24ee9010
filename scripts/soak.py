#!/usr/bin/env python3
"""make soak: the proxy's release build under steady load for a long time, to show whether memory
leaks. smtp-source keeps 50 sessions of 1 KiB messages going against the proxy, which relays to the
benchmark's instant fake SES (nginx); every SAMPLE seconds the RSS of the three processes is read
from /proc. At the end: the samples, the least-squares slope of the summed RSS in KiB per hour
(after the first sample, which includes warm-up), and the messages relayed. Nothing asserts: the
figures go in the notes. Not part of make test.
"""
import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the same fake SES and process accounting as make bench)


def slope_per_hour(points):
    """Least-squares slope of (seconds, KiB) points, in KiB per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    return 0.0 if spread == 0 else sum((t - mean_t) * (v - mean_v) for t, v in points) / spread * 3600


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", type=Path, required=True, help="release binaries (scripts/release-build.sh)")
    parser.add_argument("--seconds", type=int, default=3600)
    parser.add_argument("--sample", type=int, default=60, help="seconds between RSS samples")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ses-soak-"))
    work.chmod(0o755)
    ses = bench.FakeSES(work)
    proxy = bench.Proxy(args.bin_dir, work, f"http://127.0.0.1:{ses.http_port}", name="soak")
    stop = threading.Event()
    relayed = [0]

    def load():
        try:
            while not stop.is_set():
                bench.smtp_source(proxy.port, 50, 1024, 2000)
                relayed[0] += 2000
        except SystemExit as failure:  # bench.smtp_source exits on a failed run; say so, loudly
            print(f"soak: the load stopped: {failure}", flush=True)

    loader = threading.Thread(target=load, daemon=True)
    try:
        started = time.monotonic()
        loader.start()
        samples = []
        while True:
            elapsed = time.monotonic() - started
            rss = proxy.memory_kib("VmRSS")
            by_process = {name: proxy.memory_kib("VmRSS", only=name) for name in proxy.pids()}
            samples.append((elapsed, rss))
            print(f"soak: {elapsed:6.0f} s  RSS {rss / 1024:6.1f} MiB  "
                  + "  ".join(f"{name} {kib / 1024:.1f}" for name, kib in by_process.items())
                  + f"  relayed {relayed[0]}", flush=True)
            if elapsed >= args.seconds:
                break
            time.sleep(min(args.sample, max(1, args.seconds - elapsed)))
        stop.set()
        loader.join(120)
        slope = slope_per_hour(samples[1:])
        print(f"soak summary: {args.seconds} s at 50 sessions, {relayed[0]} messages relayed, RSS "
              f"{samples[0][1] / 1024:.1f} -> {samples[-1][1] / 1024:.1f} MiB, slope {slope / 1024:+.2f} MiB/hour "
              f"over {len(samples) - 1} samples after the first")
    finally:
        stop.set()
        proxy.stop()
        ses.stop()


if __name__ == "__main__":
    main()
