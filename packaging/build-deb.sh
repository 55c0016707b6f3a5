#!/bin/sh
# Build out/openclaw_<version>_amd64.deb from the repository.
#
#   packaging/build-deb.sh            # release build, package, lintian
#   OPENCLAW_VERSION=1.2.3 packaging/build-deb.sh
#   OPENCLAW_BINARY=path packaging/build-deb.sh   # package a binary built elsewhere
#   OPENCLAW_DEB_OUT=dir packaging/build-deb.sh   # write the .deb there instead of out/
# OPENCLAW_VERSION also goes into the binary (scripts/stamp-build.sh), so an
# upgrade test needs no second compile: OPENCLAW_BINARY=<an unpacked .deb's
# usr/bin/openclaw> OPENCLAW_VERSION=<higher> gives the next version.
#
# The binary links the Swift runtime statically, so Depends: comes out as
# libc6 + libsystemd0 (computed by dpkg-shlibdeps, not written by hand).
# Lintian's remaining tags are explained in packaging/LINTIAN.md.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
out=$repo/out
version=${OPENCLAW_VERSION:-$(git -C "$repo" describe --tags --abbrev=0 2>/dev/null | sed 's/^v//' || true)}
version=${version:-0.1.0}
arch=$(dpkg --print-architecture)
pkg=openclaw

need() { command -v "$1" >/dev/null 2>&1 || apt-get install -y "$2" >/dev/null; }
need dpkg-shlibdeps dpkg-dev
need lintian lintian
need pkg-config pkg-config
[ -f /usr/include/systemd/sd-daemon.h ] || apt-get install -y libsystemd-dev >/dev/null

if [ -n "${OPENCLAW_BINARY:-}" ]; then
    binary=$OPENCLAW_BINARY
else
    binary=$("$repo/scripts/build-release.sh" "${OPENCLAW_RELEASE_SCRATCH:-$repo/.build-sys-release}")
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
root=$work/root
doc=$root/usr/share/doc/$pkg

install -d "$root/DEBIAN" "$root/usr/bin" "$doc" "$root/usr/share/man/man1" \
    "$root/usr/lib/systemd/user" "$root/usr/lib/systemd/system"
install -m 0755 "$binary" "$root/usr/bin/openclaw"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/openclaw"
# The package's version, commit and build date go into the binary (--version --json,
# hello-ok, status), so OPENCLAW_VERSION alone makes an upgrade-test package.
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}
commit=$(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
"$repo/scripts/stamp-build.sh" "$root/usr/bin/openclaw" "$version" "$commit" \
    "$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)"
[ "$("$root/usr/bin/openclaw" --version)" = "openclaw $version" ] || {
    echo "build-deb.sh: the stamped binary does not report version $version" >&2; exit 1; }

# The manual page and the completions come from the binary's command table; the
# shipped page must be the generated one (a unit test checks this too).
if ! "$root/usr/bin/openclaw" manual | cmp -s - "$here/openclaw.1"; then
    echo "build-deb.sh: packaging/openclaw.1 is stale: run \`openclaw manual > packaging/openclaw.1\`" >&2
    exit 1
fi
install -d "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
    "$root/usr/share/fish/vendor_completions.d"
"$root/usr/bin/openclaw" completion bash > "$root/usr/share/bash-completion/completions/openclaw"
"$root/usr/bin/openclaw" completion zsh > "$root/usr/share/zsh/vendor-completions/_openclaw"
"$root/usr/bin/openclaw" completion fish > "$root/usr/share/fish/vendor_completions.d/openclaw.fish"
chmod 0644 "$root/usr/share/bash-completion/completions/openclaw" "$root/usr/share/zsh/vendor-completions/_openclaw" \
    "$root/usr/share/fish/vendor_completions.d/openclaw.fish"

# Units: profile "default". The user unit keeps its state in the user's home
# (%h is expanded by the user manager); the system unit runs as the dedicated
# system user "openclaw" with its state in /var/lib/openclaw and its token in
# root's /etc/credstore, which that user cannot replace (postinst writes it).
description="OpenClaw Gateway (profile default, v$version)"
common="UNIT=openclaw-gateway EXEC=/usr/bin/openclaw BIND=127.0.0.1 PORT=18789"
# shellcheck disable=SC2086 # $common is a list of KEY=VALUE words without spaces
"$here/render-units.sh" user "$root/usr/lib/systemd/user" $common \
    "DESCRIPTION=$description" "ARGS=gateway --port 18789 --bind 127.0.0.1" \
    STATE_DIR=%h/.openclaw TOKEN_FILE=%h/.openclaw/gateway.token WANTED_BY=default.target
# shellcheck disable=SC2086
"$here/render-units.sh" system "$root/usr/lib/systemd/system" $common \
    "DESCRIPTION=$description" "ARGS=gateway --port 18789 --bind 127.0.0.1" \
    STATE_DIR=/var/lib/openclaw TOKEN_FILE=/etc/credstore/openclaw-gateway.token \
    WANTED_BY=multi-user.target USER=openclaw
chmod 0644 "$root"/usr/lib/systemd/*/*

# Docs: README, the documents --help and the manual point at, copyright,
# changelog, man page (compressed as policy asks).
install -m 0644 "$repo/README.md" "$doc/README.md"
for d in PROTOCOL.md PROTOCOL-NOTES.md security.md metrics.md status-json.md cli-json.md; do install -m 0644 "$repo/docs/$d" "$doc/$d"; done
install -m 0644 "$here/debian/copyright" "$doc/copyright"
date=$(date -R -d "@$epoch")
printf '%s (%s) unstable; urgency=medium\n\n  * Built from the openclaw-gateway repository.\n\n -- %s  %s\n' \
    "$pkg" "$version" "OpenClaw Gateway maintainers <maintainers@openclaw.invalid>" "$date" \
    | gzip -9n > "$doc/changelog.gz"
gzip -9n < "$here/openclaw.1" > "$root/usr/share/man/man1/openclaw.1.gz"
chmod 0644 "$doc"/* "$root/usr/share/man/man1/openclaw.1.gz"

install -d "$root/usr/share/lintian/overrides"
install -m 0644 "$here/debian/lintian-overrides" "$root/usr/share/lintian/overrides/$pkg"
install -m 0755 "$here/debian/postinst" "$here/debian/prerm" "$here/debian/postrm" "$root/DEBIAN/"
install -D -m 0644 "$here/debian/sysusers.conf" "$root/usr/lib/sysusers.d/openclaw.conf"
install -D -m 0644 "$here/debian/tmpfiles.conf" "$root/usr/lib/tmpfiles.d/openclaw.conf"

# Depends: from the binary's NEEDED entries, through the shlibs/symbols files
# of the installed libraries (dpkg-shlibdeps wants a debian/control beside it).
mkdir -p "$work/src/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$pkg" "$pkg" > "$work/src/debian/control"
depends=$(cd "$work/src" && dpkg-shlibdeps -O "$root/usr/bin/openclaw" | sed -n 's/^shlibs:Depends=//p')
case "$depends" in
    *libc6*libsystemd0*|*libsystemd0*libc6*) ;;
    *) echo "build-deb.sh: unexpected Depends: $depends (is the Swift runtime linked statically?)" >&2; exit 1 ;;
esac
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/; s/@ARCH@/$arch/; s/@DEPENDS@/$depends/; s/@SIZE@/$size/" \
    "$here/debian/control.in" > "$root/DEBIAN/control"

out=${OPENCLAW_DEB_OUT:-$out}
mkdir -p "$out"
deb=$out/${pkg}_${version}_${arch}.deb
(cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "built $deb"
echo "Depends: $depends"
# Tags that stay are overridden in the package, each with its reason (see
# packaging/LINTIAN.md); any other error or warning fails the build.
lintian --fail-on error,warning --display-level '>=info' "$deb"
echo "lintian: clean (overrides explained in packaging/LINTIAN.md)"
