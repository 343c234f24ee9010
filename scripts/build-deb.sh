#!/usr/bin/env bash
# make deb: dist/ses-smtpd-proxy_<version>_amd64.deb from the release build (scripts/release-build.sh),
# stripped, for a Debian 12 host without a Swift toolchain. Depends come from dpkg-shlibdeps, so they
# name exactly the shared libraries the binaries load.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/.*string = "v\([0-9][^"]*\)".*/\1/p' Sources/Shared/Support/ProductVersion.swift)
[[ -n $version ]] || { echo "build-deb: no version in Sources/Shared/Support/ProductVersion.swift" >&2; exit 1; }
package="ses-smtpd-proxy_${version}_amd64"

bin=$(scripts/release-build.sh)

# Laid out as debhelper would (debian/<package>/), which is where dpkg-shlibdeps expects binaries.
work=.build/deb
stage=$work/debian/ses-smtpd-proxy
rm -rf "$work"
mkdir -p "$work/debian"
printf 'Source: ses-smtpd-proxy\n\nPackage: ses-smtpd-proxy\nArchitecture: amd64\n' > "$work/debian/control"
install -D -m 0755 "$bin/ses-smtpd-proxy" "$stage/usr/sbin/ses-smtpd-proxy"
for child in ses-smtp-worker ses-cred-agent; do
    install -D -m 0755 "$bin/$child" "$stage/usr/libexec/ses-smtpd-proxy/$child"
done
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    "$stage/usr/sbin/ses-smtpd-proxy" "$stage"/usr/libexec/ses-smtpd-proxy/*

install -D -m 0644 systemd/ses-smtpd-proxy.service "$stage/lib/systemd/system/ses-smtpd-proxy.service"
install -D -m 0644 systemd/ses-smtpd-proxy.socket "$stage/lib/systemd/system/ses-smtpd-proxy.socket"
install -D -m 0644 packaging/sysusers.conf "$stage/usr/lib/sysusers.d/ses-smtpd-proxy.conf"
install -D -m 0644 packaging/default "$stage/etc/default/ses-smtpd-proxy"
doc=$stage/usr/share/doc/ses-smtpd-proxy
install -D -m 0644 packaging/copyright "$doc/copyright"
sed "s/@VERSION@/$version/" packaging/changelog | gzip -9n > "$doc/changelog.gz"
mkdir -p "$stage/usr/share/man/man8"
sed "s/@VERSION@/$version/" packaging/ses-smtpd-proxy.8 | gzip -9n > "$stage/usr/share/man/man8/ses-smtpd-proxy.8.gz"
chmod 0644 "$doc/changelog.gz" "$stage/usr/share/man/man8/ses-smtpd-proxy.8.gz"

mkdir -p "$stage/DEBIAN"
shlibs=$(cd "$work" && dpkg-shlibdeps -O -edebian/ses-smtpd-proxy/usr/sbin/ses-smtpd-proxy \
    -edebian/ses-smtpd-proxy/usr/libexec/ses-smtpd-proxy/ses-smtp-worker \
    -edebian/ses-smtpd-proxy/usr/libexec/ses-smtpd-proxy/ses-cred-agent | sed -n 's/^shlibs:Depends=//p')
[[ -n $shlibs ]] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

installed_size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@INSTALLED_SIZE@/$installed_size/" -e "s/@SHLIBS@/$shlibs/" \
    packaging/control.in > "$stage/DEBIAN/control"
echo /etc/default/ses-smtpd-proxy > "$stage/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "packaging/$script" "$stage/DEBIAN/$script"
done
(cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums" "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles"

mkdir -p dist
rm -f dist/ses-smtpd-proxy_*_amd64.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "dist/$package.deb" >/dev/null
echo "dist/$package.deb"
