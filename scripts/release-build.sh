#!/usr/bin/env bash
# The release build that the package ships and the benchmark measures: the Swift runtime linked in
# (no toolchain on the target host), full RELRO with BIND_NOW, no RPATH. Prints the binaries' directory.
set -euo pipefail
cd "$(dirname "$0")/.."
flags=(-c release --static-swift-stdlib --disable-local-rpath -Xlinker -z -Xlinker now -Xlinker -z -Xlinker relro)
swift build "${flags[@]}" --product ses-smtpd-proxy >&2
swift build "${flags[@]}" --product ses-smtp-worker >&2
swift build "${flags[@]}" --product ses-cred-agent >&2
swift build "${flags[@]}" --show-bin-path
