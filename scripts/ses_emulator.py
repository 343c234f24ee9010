#!/usr/bin/env python3
"""Local SES emulator helpers around moto server, for `make run` and the integration tests.

setup:    create an IAM user with an access key allowed to use SES, verify sender identities, then
          switch on signature checking (every later request must be signed with that key).
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
            "Statement": [{"Effect": "Allow", "Action": ["ses:SendRawEmail", "ses:GetSendQuota"], "Resource": "*"}],
        }),
    )
    key = iam.create_access_key(UserName="ses-relay")["AccessKey"]
    for sender in senders:
        ses.verify_email_identity(EmailAddress=sender)
    # text/plain: with a form content type Flask would swallow the body.
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
    )
    urllib.request.urlopen(request).read()
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def send_raw_email_forms(recording):
    """Every SendRawEmail request in a moto recording, as parsed form fields (values are lists)."""
    forms = []
    try:
        lines = open(recording, encoding="utf-8").read().splitlines()
    except FileNotFoundError:
        return forms
    for line in lines:
        entry = json.loads(line)
        body = entry.get("body") or ""
        raw = base64.b64decode(body) if entry.get("body_encoded") else body.encode()
        form = urllib.parse.parse_qs(raw.decode("ascii", "replace"), keep_blank_values=True)
        if form.get("Action") == ["SendRawEmail"]:
            forms.append(form)
    return forms


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
