"""Startup: clear errors that name the flag or variable at fault, and a non-zero exit; clean stop on SIGTERM."""
import os
import signal
import smtplib
import subprocess

import pytest

from conftest import PROXY, proxy_environment, requires_root


def run_proxy(env, *arguments):
    return subprocess.run([str(PROXY), *arguments], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "overrides, named",
    [
        ({"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None}, "AWS_ACCESS_KEY_ID"),
        ({"AWS_SECRET_ACCESS_KEY": None}, "AWS_SECRET_ACCESS_KEY"),
        ({"AWS_REGION": None}, "AWS_REGION"),
        ({"AWS_PROFILE": "nonexistent"}, "AWS_PROFILE=nonexistent"),
        ({"AWS_ENDPOINT_URL_SES": "not a url"}, "AWS_ENDPOINT_URL_SES"),
    ],
)
def test_configuration_error_stops_start_naming_the_variable(moto, overrides, named):
    if "AWS_PROFILE" in overrides:
        overrides = dict(overrides, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None)
    result = run_proxy(proxy_environment(moto, **overrides), "127.0.0.1:0")
    assert result.returncode != 0
    assert named in result.stderr, result.stderr


@pytest.mark.parametrize(
    "arguments, named",
    [
        (["--no-such-flag"], "--no-such-flag"),
        (["--enable-vault"], "--enable-vault needs --vault-path"),
        (["--cross-account-role=not-an-arn"], "--cross-account-role"),
        (["--health-check-bind=nowhere"], "--health-check-bind"),
        (["--spool-dir=var/tmp"], "--spool-dir var/tmp: not an absolute path to a directory"),
        (["--spool-dir=/nonexistent"], "--spool-dir /nonexistent: not an absolute path to a directory"),
    ],
)
def test_bad_command_line_is_refused_with_usage(moto, arguments, named):
    result = run_proxy(proxy_environment(moto), *arguments)
    assert result.returncode != 0
    assert named in result.stderr, result.stderr
    assert "USAGE" in result.stderr or "Usage" in result.stderr


def test_version_flag(moto):
    result = run_proxy(proxy_environment(moto), "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == "v0.1.0"


def test_port_in_use_is_a_clear_error(moto):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_proxy(proxy_environment(moto), f"127.0.0.1:{port}")
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_sigterm_stops_everything_with_exit_0(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto))
    children = proxy.child_pids()
    assert set(children) == {"ses-cred-agent", "ses-smtp-worker"}
    proxy.process.send_signal(signal.SIGTERM)
    assert proxy.process.wait(40) == 0
    for pid in children.values():
        assert not os.path.exists(f"/proc/{pid}") or _is_zombie_of_someone_else(pid), f"child {pid} still runs"
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=5)


def _is_zombie_of_someone_else(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True


@requires_root("starting as root is what makes the supervisor look up --worker-user/--agent-user")
def test_missing_child_user_is_refused_naming_the_flag(moto):
    result = run_proxy(proxy_environment(moto), "--worker-user=no-such-user-here", "127.0.0.1:0")
    assert result.returncode != 0
    assert "--worker-user no-such-user-here: no such user" in result.stderr


@requires_root("only with the children under their own users can the spool directory be closed to the worker")
def test_spool_directory_the_worker_cannot_write_stops_start_naming_the_flag(moto, tmp_path):
    closed = tmp_path / "spool"
    closed.mkdir(mode=0o700)
    result = run_proxy(proxy_environment(moto), f"--spool-dir={closed}", "127.0.0.1:0")
    assert result.returncode != 0
    assert f"--spool-dir {closed}: cannot create the message spool file: Permission denied" in result.stderr, result.stderr
