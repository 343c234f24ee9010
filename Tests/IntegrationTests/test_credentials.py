"""Where the agent gets credentials, checked by moto: every send here is signed with what the agent
obtained (moto verifies the signature), and the recorder shows which key signed it."""
import smtplib
import subprocess
import uuid

from conftest import PROXY, proxy_environment

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
