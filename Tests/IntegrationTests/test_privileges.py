"""Privilege separation as the kernel sees it: users, capabilities, environments, dumpability."""
import os

import pwd

from conftest import proxy_environment, requires_root


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
