"""Where the agent gets credentials, checked by moto: every send here is signed with what the agent
obtained (moto verifies the signature), and the recorder shows which key signed it."""
import json
import os
import pwd
import shutil
import smtplib
import subprocess
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import PROXY, QuietHandler, forward, proxy_environment, serve, wait_until

SENDER = "sender@example.com"


def send(proxy, marker):
    with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=30) as client:
        return client.sendmail(SENDER, ["to@example.net"], f"Subject: {marker}\r\n\r\nx\r\n")


def test_static_keys_sign_without_a_session_token(moto, start_proxy):
    proxy = start_proxy(proxy_environment(moto))
    marker = uuid.uuid4().hex
    assert send(proxy, marker) == {}
    assert moto.signing_key_id(marker.encode()) == (moto.access_key_id, False)


def test_cross_account_role_is_assumed_and_signs_the_mail(moto, start_proxy):
    env = proxy_environment(moto, AWS_ENDPOINT_URL_STS=moto.endpoint)
    proxy = start_proxy(env, f"--cross-account-role={moto.role_arn}", "--cross-account-session-name=relay-test")
    marker = uuid.uuid4().hex
    assert send(proxy, marker) == {}
    key_id, with_token = moto.signing_key_id(marker.encode())
    assert key_id.startswith("ASIA") and key_id != moto.access_key_id
    assert with_token, "temporary credentials carry their session token"
    assert f"role {moto.role_arn} assumed with environment" in proxy.log
    assert "identity=arn:aws:sts::123456789012:assumed-role/ses-sender/relay-test" in proxy.log
    assert '"credentials_expire":' in proxy.health()[1] and '"credentials_expire":null' not in proxy.health()[1]


def test_profile_role_over_a_source_profile(moto, start_proxy, tmp_path):
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[base]\naws_access_key_id = {moto.access_key_id}\naws_secret_access_key = {moto.secret_access_key}\n")
    config = tmp_path / "config"
    config.write_text(f"[profile relay]\nrole_arn = {moto.role_arn}\nsource_profile = base\nregion = us-east-1\n")
    env = proxy_environment(moto, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None, AWS_REGION=None,
                            AWS_PROFILE="relay", AWS_SHARED_CREDENTIALS_FILE=str(credentials),
                            AWS_CONFIG_FILE=str(config), AWS_ENDPOINT_URL_STS=moto.endpoint)
    proxy = start_proxy(env)
    marker = uuid.uuid4().hex
    assert send(proxy, marker) == {}
    assert moto.signing_key_id(marker.encode())[0].startswith("ASIA")


def test_refused_role_stops_the_start_with_the_reason(moto):
    env = proxy_environment(moto, AWS_ENDPOINT_URL_STS=moto.endpoint,
                            AWS_SECRET_ACCESS_KEY="wrong-" + moto.secret_access_key)
    result = subprocess.run([str(PROXY), f"--cross-account-role={moto.role_arn}", "127.0.0.1:0"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"AssumeRole {moto.role_arn}: STS refused: SignatureDoesNotMatch" in result.stderr, result.stderr


class MetadataEndpoints:
    """EC2's IMDSv2 and a container credential endpoint (ECS / EKS Pod Identity), as AWS documents
    them, serving temporary keys that moto's STS issued for the test role, so moto checks the
    signatures made with them. Neither service can run here for real. The keys are announced as
    expiring in `lifetime` seconds so that a refresh happens inside the test."""

    IMDS_TOKEN = "imds-session-token"

    def __init__(self, moto, container_token, lifetime=8):
        sts = boto3.client("sts", endpoint_url=moto.endpoint, region_name="us-east-1",
                           aws_access_key_id=moto.access_key_id, aws_secret_access_key=moto.secret_access_key)
        self.keys = sts.assume_role(RoleArn=moto.role_arn, RoleSessionName="metadata-fixture")["Credentials"]
        self.container_token = container_token
        self.fetches = 0
        self.refused = 0
        fixture = self

        class Handler(QuietHandler):
            def answer(self, status, text):
                body = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def credentials(self):
                fixture.fetches += 1
                expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + lifetime))
                return self.answer(200, json.dumps({
                    "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": fixture.keys["AccessKeyId"],
                    "SecretAccessKey": fixture.keys["SecretAccessKey"], "Token": fixture.keys["SessionToken"],
                    "Expiration": expires}))

            def do_PUT(self):
                if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    return self.answer(200, fixture.IMDS_TOKEN)
                fixture.refused += 1
                self.answer(400, "")

            def do_GET(self):
                if self.path == "/creds":
                    if self.headers.get("Authorization") != fixture.container_token:
                        fixture.refused += 1
                        return self.answer(403, "")
                    return self.credentials()
                if self.headers.get("X-aws-ec2-metadata-token") != fixture.IMDS_TOKEN:
                    fixture.refused += 1  # IMDSv1, which the agent must never use
                    return self.answer(401, "")
                if self.path == "/latest/meta-data/iam/security-credentials/":
                    return self.answer(200, "ses-sender\n")
                if self.path == "/latest/meta-data/iam/security-credentials/ses-sender":
                    return self.credentials()
                if self.path == "/latest/meta-data/placement/region":
                    return self.answer(200, "us-east-1")
                self.answer(404, "")

        self.server, self.endpoint = serve(Handler)

    def close(self):
        self.server.shutdown()


def test_instance_metadata_v2_gives_the_keys_and_the_region(moto, start_proxy):
    endpoints = MetadataEndpoints(moto, container_token="unused")
    try:
        env = proxy_environment(moto, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None, AWS_REGION=None,
                                AWS_EC2_METADATA_DISABLED=None, AWS_EC2_METADATA_SERVICE_ENDPOINT=endpoints.endpoint)
        proxy = start_proxy(env)
        marker = uuid.uuid4().hex
        assert send(proxy, marker) == {}
        assert moto.signing_key_id(marker.encode()) == (endpoints.keys["AccessKeyId"], True)
        assert "source=EC2 instance role from http://127.0.0.1" in proxy.log
        wait_until(lambda: endpoints.fetches >= 2, 20, f"a refresh before the announced expiry:\n{proxy.log}")
        assert endpoints.refused == 0, "a request without the IMDSv2 session token"
    finally:
        endpoints.close()


def test_container_endpoint_rereads_its_token_file(moto, start_proxy):
    # Readable by everyone, as Kubernetes mounts projected tokens (0644): the agent reads it by path,
    # which is how it sees a rotation by rename (a descriptor would keep the old file).
    token_dir = Path(tempfile.mkdtemp(prefix="pod-identity-"))
    token_dir.chmod(0o755)
    token_file = token_dir / "eks-pod-identity-token"
    token_file.write_text("first-token")
    token_file.chmod(0o644)
    endpoints = MetadataEndpoints(moto, container_token="first-token")
    try:
        env = proxy_environment(moto, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None,
                                AWS_CONTAINER_CREDENTIALS_FULL_URI=endpoints.endpoint + "/creds",
                                AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(token_file))
        proxy = start_proxy(env)
        marker = uuid.uuid4().hex
        assert send(proxy, marker) == {}
        assert moto.signing_key_id(marker.encode()) == (endpoints.keys["AccessKeyId"], True)
        # The agent rotates it the way the kubelet does: a new file renamed over the old one.
        rotated = token_dir / "token.new"
        rotated.write_text("second-token")
        rotated.chmod(0o644)
        endpoints.container_token = "second-token"
        rotated.rename(token_file)
        fetched = endpoints.fetches
        wait_until(lambda: endpoints.fetches > fetched, 20, f"a refresh with the rotated token:\n{proxy.log}")
        assert endpoints.refused == 0, proxy.log
    finally:
        endpoints.close()
        shutil.rmtree(token_dir)


def test_credential_process_runs_as_the_agent_and_signs_the_mail(moto, start_proxy, tmp_path):
    # Where the agent's user may run it (pytest's own directories are private to root).
    tool_dir = Path(tempfile.mkdtemp(prefix="credential-process-"))
    try:
        tool_dir.chmod(0o755)
        tool = tool_dir / "print-keys"
        answer = json.dumps({"Version": 1, "AccessKeyId": moto.access_key_id, "SecretAccessKey": moto.secret_access_key})
        tool.write_text(f"#!/bin/sh\n[ \"$1\" = 'for mail' ] || exit 3\nid -u >&2\ncat <<'END'\n{answer}\nEND\n")
        tool.chmod(0o755)
        config = tmp_path / "config"
        config.write_text(f"[profile tool]\ncredential_process = {tool} 'for mail'\nregion = us-east-1\n")
        env = proxy_environment(moto, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None, AWS_PROFILE="tool",
                                AWS_CONFIG_FILE=str(config))
        proxy = start_proxy(env)
        marker = uuid.uuid4().hex
        assert send(proxy, marker) == {}
        assert moto.signing_key_id(marker.encode()) == (moto.access_key_id, False)
        assert "source=credential_process of profile tool" in proxy.log
        if os.geteuid() == 0:  # the tool printed its uid on stderr, which is the log
            assert f"\n{pwd.getpwnam('_ses-cred').pw_uid}\n" in proxy.log, proxy.log
    finally:
        shutil.rmtree(tool_dir)


def test_failing_credential_process_stops_the_start(moto, tmp_path):
    config = tmp_path / "config"
    config.write_text("[profile tool]\ncredential_process = /bin/false\n")
    env = proxy_environment(moto, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None, AWS_PROFILE="tool",
                            AWS_CONFIG_FILE=str(config))
    result = subprocess.run([str(PROXY), "127.0.0.1:0"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "credential_process of profile tool" in result.stderr and "exited with status 1" in result.stderr, result.stderr


class WebIdentitySTS:
    """STS in front of moto for AssumeRoleWithWebIdentity. AWS takes that call unsigned (the token is
    the proof, and the agent sends it so), but moto with signature checking on refuses any unsigned
    call; so this fixture signs it with the test user's keys before forwarding, and records the token.
    Everything else passes through untouched, and the mail is still signed with what moto issued."""

    def __init__(self, moto):
        self.tokens = []
        fixture = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                form = urllib.parse.parse_qs(body.decode())
                if form.get("Action") != ["AssumeRoleWithWebIdentity"]:
                    return forward(self, moto.endpoint, body)
                assert "Authorization" not in self.headers, "the agent signed AssumeRoleWithWebIdentity"
                fixture.tokens.append(form["WebIdentityToken"][0])
                request = AWSRequest(method="POST", url=moto.endpoint + "/", data=body,
                                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
                SigV4Auth(Credentials(moto.access_key_id, moto.secret_access_key), "sts", "us-east-1").add_auth(request)
                forward(self, moto.endpoint, body, headers=dict(request.headers.items()))

        self.server, self.endpoint = serve(Handler)

    def close(self):
        self.server.shutdown()


def test_web_identity_token_is_exchanged_for_role_keys(moto, start_proxy):
    token_dir = Path(tempfile.mkdtemp(prefix="irsa-"))
    token_dir.chmod(0o755)
    (token_dir / "token").write_text("eyJ.service-account.token\n")
    (token_dir / "token").chmod(0o644)
    sts = WebIdentitySTS(moto)
    try:
        env = proxy_environment(moto, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None,
                                AWS_WEB_IDENTITY_TOKEN_FILE=str(token_dir / "token"), AWS_ROLE_ARN=moto.role_arn,
                                AWS_ROLE_SESSION_NAME="pod-1", AWS_ENDPOINT_URL_STS=sts.endpoint)
        proxy = start_proxy(env)
        marker = uuid.uuid4().hex
        assert send(proxy, marker) == {}
        key_id, with_token = moto.signing_key_id(marker.encode())
        assert key_id.startswith("ASIA") and with_token
        assert sts.tokens == ["eyJ.service-account.token"]
        assert "identity=arn:aws:sts::123456789012:assumed-role/ses-sender/pod-1" in proxy.log
    finally:
        sts.close()
        shutil.rmtree(token_dir)
