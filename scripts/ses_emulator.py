#!/usr/bin/env python3
"""Local SES emulator helpers around moto server, for `make run` and the integration tests.

setup:    create an IAM user with an access key allowed to use SES and to assume the role
          `ses-sender` (itself allowed to send), verify sender identities, then switch on signature
          checking (every later request must be signed with a key moto issued).
messages: print every SendRawEmail the emulator received, exactly as sent: Source, Destinations,
          ConfigurationSetName and the raw message. It reads moto's request recorder (moto started with
          MOTO_ENABLE_RECORDING=1 and MOTO_RECORDER_FILEPATH), since moto's own store mixes the
          recipients of the headers into Destinations.
"""
import argparse
import base64
import json
import sys
import urllib.parse
import urllib.request

import boto3

REGION = "us-east-1"


def setup(endpoint, senders):
    # Any credentials work until signature checking is switched on below.
    session = boto3.session.Session(aws_access_key_id="setup", aws_secret_access_key="setup", region_name=REGION)
    iam = session.client("iam", endpoint_url=endpoint)
    ses = session.client("ses", endpoint_url=endpoint)
    iam.create_user(UserName="ses-relay")
    iam.put_user_policy(
        UserName="ses-relay",
        PolicyName="send",
        PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["ses:SendRawEmail", "ses:SendEmail", "ses:GetSendQuota", "ses:GetAccount", "sts:AssumeRole",
                                                           "sts:GetCallerIdentity", "sts:GetSessionToken",
                                                           "sts:AssumeRoleWithWebIdentity"],
                           "Resource": "*"}],
        }),
    )
    trust = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="ses-sender", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName="ses-sender",
        PolicyName="send",
        PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["ses:SendRawEmail", "sts:GetCallerIdentity"], "Resource": "*"}],
        }),
    )
    key = iam.create_access_key(UserName="ses-relay")["AccessKey"]
    # A second key of the same user, for tests of a key rotation (IAM allows two per user).
    rotated = iam.create_access_key(UserName="ses-relay")["AccessKey"]
    for sender in senders:
        ses.verify_email_identity(EmailAddress=sender)
    # text/plain: with a form content type Flask would swallow the body.
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
    )
    urllib.request.urlopen(request).read()
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"], "ROLE_ARN": role,
            "ROTATED_KEY": (rotated["AccessKeyId"], rotated["SecretAccessKey"])}


def recorded_requests(recording):
    """Every request in a moto recording: its headers and its form fields (values are lists)."""
    try:
        lines = open(recording, encoding="utf-8").read().splitlines()
    except FileNotFoundError:
        return []
    requests = []
    for line in lines:
        entry = json.loads(line)
        body = entry.get("body") or ""
        raw = base64.b64decode(body) if entry.get("body_encoded") else body.encode()
        form = urllib.parse.parse_qs(raw.decode("ascii", "replace"), keep_blank_values=True)
        requests.append({"headers": entry.get("headers", {}), "form": form, "url": entry.get("url", ""), "body": raw})
    return requests


def send_raw_email_forms(recording):
    """Every SendRawEmail request in a moto recording, as parsed form fields."""
    return [r["form"] for r in recorded_requests(recording) if r["form"].get("Action") == ["SendRawEmail"]]


def send_email_requests(recording):
    """Every SESv2 SendEmail request in a moto recording, as its parsed JSON body."""
    return [json.loads(r["body"]) for r in recorded_requests(recording)
            if urllib.parse.urlsplit(r["url"]).path.endswith("/v2/email/outbound-emails")]


def v2_raw_message(request):
    return base64.b64decode(request["Content"]["Raw"]["Data"])


def raw_message(form):
    return base64.b64decode(form["RawMessage.Data"][0])


def destinations(form):
    numbered = [(int(k.rsplit(".", 1)[1]), v[0]) for k, v in form.items() if k.startswith("Destinations.member.")]
    return [address for _, address in sorted(numbered)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["setup", "messages"])
    parser.add_argument("--endpoint", help="moto server URL (for setup)")
    parser.add_argument("--sender", action="append", default=[])
    parser.add_argument("--recording", help="moto's MOTO_RECORDER_FILEPATH (for messages)")
    args = parser.parse_args()
    if args.command == "setup":
        json.dump(setup(args.endpoint, args.sender), sys.stdout)
        print()
        return
    for form in send_raw_email_forms(args.recording):
        source = form.get("Source", ["(none: SES takes the From header)"])[0]
        extra = f"  ConfigurationSetName {form['ConfigurationSetName'][0]}" if "ConfigurationSetName" in form else ""
        print(f"--- Source {source}  Destinations {', '.join(destinations(form))}{extra}")
        sys.stdout.flush()
        sys.stdout.buffer.write(raw_message(form))
        print()


if __name__ == "__main__":
    main()
