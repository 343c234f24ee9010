"""Privilege separation as the kernel sees it: users, capabilities, environments, dumpability."""
import os
import pwd
import subprocess
import uuid

from conftest import BIN_DIR, PROXY, proxy_environment, requires_root


def status_fields(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            fields[name] = value.strip()
    return fields


def environment_of(pid):
    with open(f"/proc/{pid}/environ", "rb") as environ:
        return dict(entry.decode().split("=", 1) for entry in environ.read().split(b"\0") if b"=" in entry)


@requires_root("children only change users when the supervisor starts as root")
def test_children_run_as_their_own_users_without_capabilities(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto))
    pids = proxy.child_pids()
    expected = {"ses-smtp-worker": "_ses-smtp", "ses-cred-agent": "_ses-cred"}
    for child, user in expected.items():
        fields = status_fields(pids[child])
        uid = pwd.getpwnam(user).pw_uid
        assert fields["Uid"].split() == [str(uid)] * 4, child
        assert fields["Groups"] == "", child
        assert int(fields["CapEff"], 16) == 0 and int(fields["CapPrm"], 16) == 0, child
        assert fields["NoNewPrivs"] == "1", child


def test_worker_environment_holds_no_secret(moto, start_proxy):
    env = proxy_environment(moto, VAULT_TOKEN="vault-secret", AWS_SESSION_TOKEN="session-secret")
    proxy = start_proxy(env)
    worker = environment_of(proxy.child_pids()["ses-smtp-worker"])
    assert "AWS_SECRET_ACCESS_KEY" not in worker
    assert "AWS_ACCESS_KEY_ID" not in worker
    assert "AWS_SESSION_TOKEN" not in worker
    assert not any(name.startswith("VAULT_") for name in worker)
    assert worker.get("AWS_ENDPOINT_URL_SES") == moto.endpoint


def test_agent_is_not_dumpable(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto))
    agent = proxy.child_pids()["ses-cred-agent"]
    # proc(5): the /proc/PID files of a non-dumpable process belong to root, so the agent's own
    # user (and a worker running as the same user in development) cannot read its memory or environ.
    assert os.stat(f"/proc/{agent}/environ").st_uid == 0
    with open(f"/proc/{agent}/limits") as limits:
        core = next(line for line in limits if line.startswith("Max core file size"))
    assert core.split()[4] == "0"


@requires_root("a child started as root must refuse to run")
def test_children_refuse_to_run_as_root():
    for child in ("ses-smtp-worker", "ses-cred-agent"):
        result = subprocess.run([str(BIN_DIR / child), "--log-level", "info"], capture_output=True, text=True, timeout=30)
        assert result.returncode == 78, (child, result.stderr)
        assert "refusing to start: running as root" in result.stderr


@requires_root("creating users and dropping to them")
def test_users_named_by_the_flags_are_used(moto, start_proxy):
    suffix = uuid.uuid4().hex[:6]
    worker_user, agent_user = f"t-smtp-{suffix}", f"t-cred-{suffix}"
    for user in (worker_user, agent_user):
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
                       check=True)
    try:
        same = subprocess.run(
            [str(PROXY), f"--worker-user={worker_user}", f"--agent-user={worker_user}", "127.0.0.1:0"],
            env=proxy_environment(moto), capture_output=True, text=True, timeout=30)
        assert same.returncode != 0 and "must be different users" in same.stderr
        proxy = start_proxy(proxy_environment(moto), f"--worker-user={worker_user}", f"--agent-user={agent_user}")
        pids = proxy.child_pids()
        for child, user in (("ses-smtp-worker", worker_user), ("ses-cred-agent", agent_user)):
            fields = status_fields(pids[child])
            entry = pwd.getpwnam(user)
            assert fields["Uid"].split() == [str(entry.pw_uid)] * 4
            assert fields["Gid"].split() == [str(entry.pw_gid)] * 4
        proxy.stop()
    finally:
        for user in (worker_user, agent_user):
            subprocess.run(["userdel", user], capture_output=True)
