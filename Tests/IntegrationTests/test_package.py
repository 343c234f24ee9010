"""The .deb as a user gets it: lintian, the systemd unit checks, and an install into a clean Debian 12
tree made with debootstrap (no Swift toolchain in it), where the installed binaries relay a message
to moto on loopback. Run by `make deb-test` (which `make test` calls when root), with SES_DEB naming
the package; the ordinary integration run leaves this file out.
"""
import os
import shutil
import signal
import smtplib
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest

from conftest import free_port, http_get, wait_until

DEB = Path(os.environ.get("SES_DEB", ""))
# A debootstrap takes minutes; the tree is kept here between runs (a fresh machine makes it once).
BOOTSTRAP_CACHE = Path(os.environ.get("SES_DEB_BOOTSTRAP_CACHE", "/var/cache/ses-smtpd-proxy-tests/bookworm-minbase.tar"))
MIRROR = os.environ.get("SES_DEB_MIRROR", "http://deb.debian.org/debian")
SECURITY_THRESHOLD = 2.2  # systemd-resolved's level

pytestmark = [
    pytest.mark.skipif(not DEB.is_file(), reason="SES_DEB names no package: run `make deb-test`"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: debootstrap, chroot and dpkg -i"),
]


def run(*command, **options):
    return subprocess.run(command, capture_output=True, text=True, timeout=900, **options)


def test_lintian_reports_no_error_and_no_warning(capsys):
    result = run("lintian", "--fail-on", "error,warning", "--info", str(DEB))
    with capsys.disabled():
        print(f"\nlintian {DEB.name}:\n{result.stdout or '(no tags)'}")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory):
    root = tmp_path_factory.mktemp("unpacked")
    subprocess.run(["dpkg-deb", "-x", str(DEB), str(root)], check=True)
    return root


def test_units_verify_on_the_installed_system(debian_tree):
    # In the clean tree, where systemd came in as a dependency; its man-db-less minbase cannot look up
    # the Documentation= page, which lintian checks instead.
    units = ["/lib/systemd/system/ses-smtpd-proxy.service", "/lib/systemd/system/ses-smtpd-proxy.socket"]
    result = run("chroot", str(debian_tree), "systemd-analyze", "verify", "--man=no", *units)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_security_exposure_is_at_most_resolveds(unpacked, capsys):
    result = run("systemd-analyze", "security", "--offline=true", str(unpacked / "lib/systemd/system/ses-smtpd-proxy.service"))
    line = next(line for line in result.stdout.splitlines() if "Overall exposure level" in line)
    score = float(line.split(":")[1].split()[0])
    with capsys.disabled():
        print(f"\nsystemd-analyze security: {line.strip()}")
    assert score <= SECURITY_THRESHOLD, result.stdout


def test_binaries_are_hardened_and_need_no_swift_runtime(unpacked):
    for binary in ["usr/sbin/ses-smtpd-proxy", "usr/libexec/ses-smtpd-proxy/ses-smtp-worker",
                   "usr/libexec/ses-smtpd-proxy/ses-cred-agent"]:
        path = unpacked / binary
        program_headers = run("readelf", "--program-headers", "--dynamic", "--wide", str(path)).stdout
        assert "GNU_RELRO" in program_headers and "BIND_NOW" in program_headers, f"{binary}: no full RELRO"
        needed = run("readelf", "--dynamic", str(path)).stdout
        assert "libswift" not in needed and "libFoundation" not in needed, f"{binary} loads the Swift runtime:\n{needed}"
        assert ".symtab" not in run("readelf", "--section-headers", "--wide", str(path)).stdout, f"{binary} is not stripped"
    # The supervisor runs as root and makes no HTTP request: it must not even load libcurl.
    supervisor_needs = run("readelf", "--dynamic", str(unpacked / "usr/sbin/ses-smtpd-proxy")).stdout
    assert "libcurl" not in supervisor_needs, supervisor_needs


@pytest.fixture(scope="module")
def debian_tree(tmp_path_factory):
    """A clean Debian 12 (minbase) with the package installed by dpkg -i and apt-get -f install."""
    root = tmp_path_factory.mktemp("debian12")
    if not BOOTSTRAP_CACHE.is_file():
        staging = tmp_path_factory.mktemp("debootstrap")
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(staging), MIRROR],
                       check=True, capture_output=True, timeout=1200)
        BOOTSTRAP_CACHE.parent.mkdir(parents=True, exist_ok=True)
        partial = BOOTSTRAP_CACHE.with_suffix(".partial")
        with tarfile.open(partial, "w") as archive:
            archive.add(staging, arcname=".")
        partial.rename(BOOTSTRAP_CACHE)
        shutil.rmtree(staging)
    with tarfile.open(BOOTSTRAP_CACHE) as archive:
        archive.extractall(root, filter="fully_trusted")
    # The tree's "/" must be 0755 as on a real system: mktemp makes it (and the tar's "." entry) 0700,
    # and then no unprivileged child can reach /usr inside the chroot (exec fails with EACCES).
    root.chmod(0o755)
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    mounts = []
    try:
        for source, target, options in [("proc", "proc", ["-t", "proc"]), ("/dev", "dev", ["--bind"])]:
            subprocess.run(["mount", *options, source, str(root / target)], check=True)
            mounts.append(root / target)
        shutil.copy(DEB, root / "tmp" / DEB.name)
        # dpkg -i stops at the missing Depends; apt-get -f install fetches them and configures.
        run("chroot", str(root), "dpkg", "-i", f"/tmp/{DEB.name}")
        fixed = run("chroot", str(root), "apt-get", "-f", "install", "-y", "-q", "--no-install-recommends",
                    env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        yield root
    finally:
        for mount in reversed(mounts):
            subprocess.run(["umount", "--lazy", str(mount)])


def test_installed_package_has_its_users_and_no_toolchain(debian_tree):
    status = run("chroot", str(debian_tree), "dpkg-query", "-W", "-f=${Status}", "ses-smtpd-proxy")
    assert status.stdout == "install ok installed", status.stdout + status.stderr
    for user in ("_ses-smtp", "_ses-cred"):
        entry = run("chroot", str(debian_tree), "getent", "passwd", user).stdout
        assert entry.endswith(":/nonexistent:/usr/sbin/nologin\n"), f"{user}: {entry!r}"
    assert not list((debian_tree / "usr").glob("**/libswiftCore.so")), "a Swift runtime in the tree"
    version = run("chroot", str(debian_tree), "/usr/sbin/ses-smtpd-proxy", "--version")
    assert version.returncode == 0 and version.stdout.startswith("v"), version.stdout + version.stderr


def test_installed_binaries_relay_a_message_to_moto(debian_tree, moto):
    smtp_port, http_port = free_port(), free_port()
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "AWS_ACCESS_KEY_ID": moto.access_key_id,
           "AWS_SECRET_ACCESS_KEY": moto.secret_access_key, "AWS_REGION": "us-east-1",
           "AWS_ENDPOINT_URL_SES": moto.endpoint, "AWS_EC2_METADATA_DISABLED": "true"}
    log = debian_tree / "tmp/proxy.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            ["chroot", str(debian_tree), "/usr/sbin/ses-smtpd-proxy", "--enable-health-check",
             f"--health-check-bind=127.0.0.1:{http_port}", f"127.0.0.1:{smtp_port}"],
            stdout=output, stderr=subprocess.STDOUT, env=env)
    try:
        def healthy():
            assert process.poll() is None, log.read_text()
            try:
                return http_get(f"http://127.0.0.1:{http_port}/health")[0] == 200
            except OSError:
                return False
        wait_until(healthy, 20, "the installed proxy to be healthy")
        marker = uuid.uuid4().hex
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as client:
            client.sendmail("sender@example.com", ["to@example.net"], f"Subject: {marker}\r\n\r\nfrom the package\r\n")
        assert moto.form_containing(marker.encode())
        assert "uid=" in log.read_text() and "refusing" not in log.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(40) == 0, log.read_text()
