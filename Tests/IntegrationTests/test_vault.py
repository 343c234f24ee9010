"""The agent's Vault paths against a real OpenBao dev server (`bao server -dev`): token, AppRole and
JWT logins, KV v1 and v2, renewals and a fresh login when a token reaches its max TTL, and the
start-up errors. Every mail is signed with the keys read from Vault, and moto checks the signature.

OpenBao has no AWS secrets engine, so the one response shape it cannot give (aws/creds/<role>: a
renewable lease whose renewals Vault caps) is served by `FakeAWSEngine` below, following Vault's
documented API (SES-FACTS §10). The same fixture sits in front of moto's STS to refuse the first
GetCallerIdentity calls for a new key, as AWS does while a freshly minted IAM key propagates.
"""
import base64
import json
import shutil
import smtplib
import ssl
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from conftest import (PROXY, STARTUP_SECONDS, QuietHandler, forward, free_port, proxy_environment, requires_root, serve,
                      wait_until)

SENDER = "sender@example.com"
POLICY = 'path "secret/data/ses" { capabilities = ["read"] }\npath "kv1/*" { capabilities = ["read"] }\n'


class OpenBao:
    def __init__(self, address, root_token):
        self.address = address
        self.root_token = root_token

    def api(self, method, path, body=None, token=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.address}/v1/{path}", data=data, method=method)
        request.add_header("X-Vault-Token", token or self.root_token)
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
            return json.loads(text) if text else {}

    def child_token(self, **settings):
        return self.api("POST", "auth/token/create", {"policies": ["ses-read"], **settings})["auth"]["client_token"]

    def approle(self, name, **settings):
        """(role_id, secret_id) of a fresh AppRole role."""
        self.api("POST", f"auth/approle/role/{name}", {"token_policies": ["ses-read"], **settings})
        role_id = self.api("GET", f"auth/approle/role/{name}/role-id")["data"]["role_id"]
        secret_id = self.api("POST", f"auth/approle/role/{name}/secret-id")["data"]["secret_id"]
        return role_id, secret_id


@pytest.fixture(scope="module")
def jwt_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def openbao(moto, jwt_key, tmp_path_factory):
    state = tmp_path_factory.mktemp("openbao")
    port, root_token = free_port(), uuid.uuid4().hex
    log = open(state / "bao.log", "wb")
    process = subprocess.Popen(
        ["bao", "server", "-dev", f"-dev-root-token-id={root_token}", f"-dev-listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        bao = OpenBao(f"http://127.0.0.1:{port}", root_token)
        wait_until(lambda: _healthy(bao.address), 30, "OpenBao to unseal")
        keys = {"access_key": moto.access_key_id, "secret_key": moto.secret_access_key}
        bao.api("PUT", "sys/policies/acl/ses-read", {"policy": POLICY})
        bao.api("POST", "secret/data/ses", {"data": keys})
        bao.api("POST", "sys/mounts/kv1", {"type": "kv", "options": {"version": "1"}})
        bao.api("POST", "kv1/ses", keys)
        bao.api("POST", "kv1/incomplete", {"access_key": moto.access_key_id})
        bao.api("POST", "sys/auth/approle", {"type": "approle"})
        bao.api("POST", "sys/auth/jwt", {"type": "jwt"})
        public_pem = jwt_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        bao.api("POST", "auth/jwt/config", {"jwt_validation_pubkeys": [public_pem], "bound_issuer": "https://issuer.test"})
        bao.api("POST", "auth/jwt/role/relay", {
            "role_type": "jwt", "bound_audiences": ["ses-smtpd-proxy"], "user_claim": "sub",
            "token_policies": ["ses-read"], "token_ttl": "1h"})
        yield bao
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def _healthy(address):
    try:
        with urllib.request.urlopen(f"{address}/v1/sys/health", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def signed_jwt(key, subject="system:serviceaccount:mail:relay"):
    """An RS256 JWT as a Kubernetes service-account token looks to Vault's JWT method."""
    def encode(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=")
    now = int(time.time())
    claims = {"iss": "https://issuer.test", "aud": "ses-smtpd-proxy", "sub": subject, "iat": now, "exp": now + 600}
    signing_input = encode(json.dumps({"alg": "RS256", "typ": "JWT"}).encode()) + b"." + encode(json.dumps(claims).encode())
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return (signing_input + b"." + encode(signature)).decode()


def vault_environment(moto, address, **variables):
    """No AWS keys at all: whatever signs the mail came from Vault."""
    return proxy_environment(moto, **{"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None,
                                      "AWS_ENDPOINT_URL_STS": moto.endpoint, "VAULT_ADDR": address, **variables})


def send(proxy, marker):
    with smtplib.SMTP("127.0.0.1", proxy.smtp_port, timeout=30) as client:
        return client.sendmail(SENDER, ["to@example.net"], f"Subject: {marker}\r\n\r\nx\r\n")


def assert_signed_by(moto, proxy, key_id):
    marker = uuid.uuid4().hex
    assert send(proxy, marker) == {}
    assert moto.signing_key_id(marker.encode()) == (key_id, False)


def test_token_login_reads_kv_v2(moto, openbao, start_proxy):
    env = vault_environment(moto, openbao.address, VAULT_TOKEN=openbao.child_token(ttl="1h"))
    proxy = start_proxy(env, "--enable-vault", "--vault-path=secret/data/ses")
    assert_signed_by(moto, proxy, moto.access_key_id)
    assert "AWS accepts the keys from Vault" in proxy.log


def test_approle_secret_id_file_and_a_fresh_login_at_max_ttl(moto, openbao, start_proxy, tmp_path):
    role_id, secret_id = openbao.approle("short", token_ttl="3s", token_max_ttl="8s")
    secret_file = tmp_path / "vault-approle-secret-id"
    secret_file.write_text(secret_id + "\n")
    secret_file.chmod(0o600)
    env = vault_environment(moto, openbao.address, VAULT_APPROLE_ROLE_ID=role_id,
                            VAULT_APPROLE_SECRET_ID_FILE=str(secret_file))
    proxy = start_proxy(env, "--enable-vault", "--vault-path=kv1/ses")
    wait_until(lambda: "logged in to Vault again" in proxy.log, 20, f"a second login:\n{proxy.log}")
    assert "renewed the Vault token" in proxy.log
    # The old token's leases die with it, so the keys are read again with the new one.
    wait_until(lambda: proxy.log.split("logged in to Vault again", 1)[1].count("read AWS keys from Vault") >= 1, 10,
               f"a read with the new token:\n{proxy.log}")
    assert_signed_by(moto, proxy, moto.access_key_id)
    renewals = proxy.metrics()
    assert renewals["smtpd_credential_renewal_success_total"] >= 3
    assert renewals.get("smtpd_credential_renewal_error_total", 0) == 0, proxy.log


def test_jwt_login_from_a_token_file(moto, openbao, jwt_key, start_proxy, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(signed_jwt(jwt_key))
    env = vault_environment(moto, openbao.address, VAULT_JWT_ROLE="relay", VAULT_JWT_FILE=str(token_file))
    proxy = start_proxy(env, "--enable-vault", "--vault-path=secret/data/ses")
    assert_signed_by(moto, proxy, moto.access_key_id)
    assert "JWT role relay" in proxy.log


@pytest.mark.parametrize("case", ["unreachable", "bad secret id", "missing path", "no secret_key", "no login"])
def test_a_vault_problem_stops_the_start_naming_it(moto, openbao, case):
    role_id, secret_id = openbao.approle("startup")
    variables = {"VAULT_APPROLE_ROLE_ID": role_id, "VAULT_APPROLE_SECRET_ID": secret_id}
    address, path = openbao.address, "kv1/ses"
    expected = {
        "unreachable": "VAULT_ADDR=http://127.0.0.1:",
        "bad secret id": "invalid role or secret ID",
        "missing path": "--vault-path kv1/nothing: Vault refused with HTTP 404 (no secret at that path)",
        "no secret_key": "--vault-path kv1/incomplete: the secret has no secret_key",
        "no login": "no Vault login: set VAULT_TOKEN",
    }[case]
    if case == "unreachable":
        address = f"http://127.0.0.1:{free_port()}"
    elif case == "bad secret id":
        variables["VAULT_APPROLE_SECRET_ID"] = "not-" + secret_id
    elif case == "missing path":
        path = "kv1/nothing"
    elif case == "no secret_key":
        path = "kv1/incomplete"
    elif case == "no login":
        variables = {}
    started = time.monotonic()
    result = subprocess.run([str(PROXY), "--enable-vault", f"--vault-path={path}", "127.0.0.1:0"],
                            env=vault_environment(moto, address, **variables), capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr
    assert elapsed < 30, f"took {elapsed:.1f} s to give up"


@requires_root("the worker's /proc environ is checked under its own user")
def test_worker_environment_has_no_vault_material(moto, openbao, start_proxy):
    token = openbao.child_token(ttl="1h")
    proxy = start_proxy(vault_environment(moto, openbao.address, VAULT_TOKEN=token),
                        "--enable-vault", "--vault-path=secret/data/ses")
    pids = proxy.child_pids()
    worker = open(f"/proc/{pids['ses-smtp-worker']}/environ", "rb").read().split(b"\0")
    agent = open(f"/proc/{pids['ses-cred-agent']}/environ", "rb").read().split(b"\0")
    assert not [v for v in worker if v.startswith(b"VAULT_") or token.encode() in v], worker
    assert f"VAULT_TOKEN={token}".encode() in agent


class FakeAWSEngine:
    """Vault's AWS secrets engine, as far as the agent uses it: `GET aws/creds/<role>` gives keys with
    a renewable lease of `lease_seconds`; `PUT sys/leases/renew` extends a lease twice, then grants
    less than asked (the role's max TTL is near), after which the agent must read fresh keys. The
    keys handed out are `keys[i]` at the i-th read. In front of moto's STS it refuses the first two
    GetCallerIdentity calls made with a key it has not seen, then forwards."""

    def __init__(self, moto_endpoint, keys, lease_seconds=4):
        self.reads = 0
        self.renewals = 0
        self.identity_refusals = {}
        self.sealed = False  # when set, Vault answers 503 as a sealed or restarting server does
        fixture = self

        class Handler(QuietHandler):
            def answer(self, status, document, content_type="application/json"):
                body = document if isinstance(document, bytes) else json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if fixture.sealed:
                    return self.answer(503, {"errors": ["Vault is sealed"]})
                if self.path == "/v1/auth/token/lookup-self":
                    return self.answer(200, {"data": {"ttl": 0, "renewable": False}})
                if self.path == "/v1/aws/creds/relay":
                    key = keys[min(fixture.reads, len(keys) - 1)]
                    fixture.reads += 1
                    return self.answer(200, {
                        "lease_id": f"aws/creds/relay/{fixture.reads}", "lease_duration": lease_seconds, "renewable": True,
                        "data": {"access_key": key[0], "secret_key": key[1], "security_token": None}})
                self.answer(404, {"errors": []})

            def do_PUT(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if fixture.sealed:
                    return self.answer(503, {"errors": ["Vault is sealed"]})
                fixture.renewals += 1
                renewed = fixture.renewals % 3 != 0
                self.answer(200, {"lease_id": body["lease_id"], "renewable": True,
                                  "lease_duration": lease_seconds if renewed else 1})

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                key_id = self.headers["Authorization"].split("Credential=", 1)[1].split("/", 1)[0]
                seen = fixture.identity_refusals.setdefault(key_id, 0)
                if b"Action=GetCallerIdentity" in body and seen < 2:
                    fixture.identity_refusals[key_id] = seen + 1
                    return self.answer(403, (
                        b'<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>'
                        b'<Message>The security token included in the request is invalid.</Message></Error>'
                        b'</ErrorResponse>'), "text/xml")
                forward(self, moto_endpoint, body)

        self.server, self.endpoint = serve(Handler)

    def close(self):
        self.server.shutdown()


def test_aws_engine_lease_is_renewed_then_replaced_by_keys_that_sts_accepts(moto, start_proxy):
    second_key_id = moto.rotated_key[0]
    engine = FakeAWSEngine(moto.endpoint, [(moto.access_key_id, moto.secret_access_key), moto.rotated_key])
    try:
        env = vault_environment(moto, engine.endpoint, VAULT_TOKEN="fixture-token", AWS_ENDPOINT_URL_STS=engine.endpoint)
        started = time.monotonic()
        proxy = start_proxy(env, "--enable-vault", "--vault-path=aws/creds/relay")
        assert time.monotonic() - started < STARTUP_SECONDS
        assert engine.identity_refusals[moto.access_key_id] == 2, "the first key was handed out before STS accepted it"
        assert_signed_by(moto, proxy, moto.access_key_id)

        wait_until(lambda: engine.reads >= 2, 30, f"fresh keys after the capped renewal:\n{proxy.log}")
        assert engine.renewals >= 2
        wait_until(lambda: proxy.log.count("AWS accepts the keys from Vault") >= 2, 30, "STS to accept the second key")
        assert engine.identity_refusals[second_key_id] == 2

        def signed_by_second_key():
            marker = uuid.uuid4().hex
            assert send(proxy, marker) == {}
            return moto.signing_key_id(marker.encode())[0] == second_key_id
        wait_until(signed_by_second_key, 10, "mail signed with the second key")
    finally:
        engine.close()


def test_vault_down_during_renewal_keeps_the_mail_flowing_and_recovers(moto, start_proxy):
    engine = FakeAWSEngine(moto.endpoint, [(moto.access_key_id, moto.secret_access_key)], lease_seconds=12)
    try:
        env = vault_environment(moto, engine.endpoint, VAULT_TOKEN="fixture-token", AWS_ENDPOINT_URL_STS=engine.endpoint)
        proxy = start_proxy(env, "--enable-vault", "--vault-path=aws/creds/relay")
        engine.sealed = True
        wait_until(lambda: proxy.metrics().get("smtpd_credential_renewal_error_total", 0) >= 1, 20,
                   f"a failed renewal:\n{proxy.log}")
        # The lease has not ended yet: the keys the worker holds still work.
        assert_signed_by(moto, proxy, moto.access_key_id)
        assert proxy.process.poll() is None
        successes = proxy.metrics()["smtpd_credential_renewal_success_total"]
        engine.sealed = False
        wait_until(lambda: proxy.metrics()["smtpd_credential_renewal_success_total"] > successes, 20,
                   f"a renewal once Vault is back:\n{proxy.log}")
        assert_signed_by(moto, proxy, moto.access_key_id)
        assert proxy.child_pids() and "restarting" not in proxy.log
    finally:
        engine.close()


def test_vault_over_tls_trusts_vault_cacert_and_only_it(moto, start_proxy):
    cert_dir = Path(tempfile.mkdtemp(prefix="bao-tls-"))
    cert_dir.chmod(0o755)  # bao writes the CA world-readable (0444), as the agent's user needs it
    port, root_token = free_port(), uuid.uuid4().hex
    process = subprocess.Popen(
        ["bao", "server", "-dev", "-dev-tls", f"-dev-tls-cert-dir={cert_dir}", f"-dev-root-token-id={root_token}",
         f"-dev-listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        address, ca = f"https://127.0.0.1:{port}", cert_dir / "vault-ca.pem"
        trusted = ssl.create_default_context()

        def unsealed():
            try:
                trusted.load_verify_locations(cafile=str(ca))
                with urllib.request.urlopen(f"{address}/v1/sys/health", timeout=1, context=trusted) as response:
                    return response.status == 200
            except OSError:
                return False
        wait_until(unsealed, 30, "OpenBao with TLS")
        request = urllib.request.Request(
            f"{address}/v1/secret/data/ses", method="POST", headers={"X-Vault-Token": root_token},
            data=json.dumps({"data": {"access_key": moto.access_key_id, "secret_key": moto.secret_access_key}}).encode())
        urllib.request.urlopen(request, timeout=10, context=trusted).read()

        untrusted = subprocess.run(
            [str(PROXY), "--enable-vault", "--vault-path=secret/data/ses", "127.0.0.1:0"],
            env=vault_environment(moto, address, VAULT_TOKEN=root_token), capture_output=True, text=True, timeout=60)
        assert untrusted.returncode != 0
        assert f"VAULT_ADDR={address} did not answer: " in untrusted.stderr and "certificate" in untrusted.stderr, untrusted.stderr

        proxy = start_proxy(vault_environment(moto, address, VAULT_TOKEN=root_token, VAULT_CACERT=str(ca)),
                            "--enable-vault", "--vault-path=secret/data/ses")
        assert_signed_by(moto, proxy, moto.access_key_id)
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(cert_dir)
