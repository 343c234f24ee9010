#!/usr/bin/env python3
"""Local SES emulator helpers around moto server, for `make run` and the integration tests.

setup:    create an IAM user with an access key allowed to use SES, verify sender identities, then
          switch on signature checking (every later request must be signed with that key).
messages: print what the emulator received through SendRawEmail.
"""
import argparse
import json
import sys
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


def messages(endpoint):
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json") as response:
        data = json.load(response)
    return data.get("ses", {}).get("RawMessage", [])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["setup", "messages"])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--sender", action="append", default=[])
    args = parser.parse_args()
    if args.command == "setup":
        json.dump(setup(args.endpoint, args.sender), sys.stdout)
    else:
        for message in messages(args.endpoint):
            print(f"--- MessageId {message['id']}  Source {message['source']}  Destinations {message['destinations']}")
            print(message["raw_data"])
    print()


if __name__ == "__main__":
    main()
