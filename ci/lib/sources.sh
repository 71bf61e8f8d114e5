# shellcheck shell=bash
# Shared by the server CI steps (sourced, not run): pristine upstream sources
# from Debian source packages, patch series, and the build cache.
#
#   source ci/lib/sources.sh
#   orig=$(fetch_orig unbound 1.22.0)        # cached, sha256-verified tarball
#   unpack_patched unbound 1.22.0 "$tree"    # pristine tree + patches/unbound/1.22.0/series
#   key=$(build_key unbound 1.22.0 "$configure_flags")
#
# Everything expensive lives under $DNSTAP_KIT_CACHE (default
# ~/.cache/dnstap-kit), outside the repository.

DNSTAP_KIT_CACHE=${DNSTAP_KIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dnstap-kit}
DNSTAP_KIT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# name version suite sha256 of the orig tarball (pinned: Debian revisions
# change with security updates, the upstream tarballs do not).
ORIG_TARBALLS="
unbound 1.17.1 bookworm ee4085cecce12584e600f3d814a28fa822dfaacec1f94c84bfd67f8a5571a5f4 unbound_1.17.1.orig.tar.gz
unbound 1.22.0 trixie c5dd1bdef5d5685b2cedb749158dd152c52d44f65529a34ac15cd88d4b1b3d43 unbound_1.22.0.orig.tar.gz
knot 3.2.6 bookworm ac124fb17dbc4ac5310a30a396245a6ba304b3c89abed0f8a47d727462c8da4d knot_3.2.6.orig.tar.xz
knot 3.4.6 trixie d19c5a1ff94b4f26027d635de108dbfc88f5652be86ccb3ba9a44ee9be0e5839 knot_3.4.6.orig.tar.xz
"

# orig_field NAME VERSION FIELD: suite, sha256 or file of a pinned tarball.
orig_field() {
    local name=$1 version=$2 field=$3 n v suite sha file
    while read -r n v suite sha file; do
        [[ "$n" == "$name" && "$v" == "$version" ]] || continue
        case "$field" in
            suite) echo "$suite" ;;
            sha256) echo "$sha" ;;
            file) echo "$file" ;;
        esac
        return 0
    done <<<"$ORIG_TARBALLS"
    echo "sources.sh: no pinned tarball for $name $version" >&2
    return 1
}

# ensure_deb_src SUITE: apt knows the source packages of SUITE.
ensure_deb_src() {
    local suite=$1 list=/etc/apt/sources.list.d/dnstap-kit-src-$1.sources
    if [[ ! -e "$list" ]]; then
        cat >"$list" <<SOURCES
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
        apt-get update -qq
    fi
}

# fetch_orig NAME VERSION: prints the path of the verified orig tarball,
# downloading it (apt-get source --download-only) if it is not cached.
fetch_orig() {
    local name=$1 version=$2 suite sha file dir
    suite=$(orig_field "$name" "$version" suite) || return 1
    sha=$(orig_field "$name" "$version" sha256)
    file=$(orig_field "$name" "$version" file)
    dir="$DNSTAP_KIT_CACHE/sources"
    mkdir -p "$dir"
    if ! echo "$sha  $dir/$file" | sha256sum --check --status 2>/dev/null; then
        ensure_deb_src "$suite"
        local work
        work=$(mktemp -d "$dir/fetch.XXXXXX")
        (cd "$work" && apt-get source --download-only -qq "$name/$suite" >/dev/null 2>&1) || {
            rm -rf "$work"
            echo "sources.sh: apt-get source $name/$suite failed" >&2
            return 1
        }
        if ! echo "$sha  $work/$file" | sha256sum --check --status; then
            rm -rf "$work"
            echo "sources.sh: $file does not match its pinned sha256 $sha" >&2
            return 1
        fi
        mv "$work/$file" "$dir/$file"
        rm -rf "$work"
    fi
    echo "$dir/$file"
}

# unpack_patched NAME VERSION DEST: DEST becomes the pristine upstream tree
# with patches/NAME/VERSION/series applied (patch -p1, in order).
unpack_patched() {
    local name=$1 version=$2 dest=$3 orig series patch
    orig=$(fetch_orig "$name" "$version") || return 1
    series="$DNSTAP_KIT_ROOT/patches/$name/$version/series"
    rm -rf "$dest"
    mkdir -p "$dest"
    tar -xf "$orig" -C "$dest" --strip-components=1
    [[ -e "$series" ]] || return 0
    while read -r patch; do
        [[ -z "$patch" || "$patch" == \#* ]] && continue
        patch -s -p1 -d "$dest" <"$DNSTAP_KIT_ROOT/patches/$name/$version/$patch" || {
            echo "sources.sh: $name $version: $patch does not apply" >&2
            return 1
        }
    done <"$series"
}

# library_hash: what a server build depends on in this repository (the
# library's sources, header, build files; not the CLI in src/bin).
library_hash() {
    (
        cd "$DNSTAP_KIT_ROOT" &&
            find Cargo.toml Cargo.lock build.rs cbindgen.toml Makefile libdnstap.pc.in include proto src \
                -path src/bin -prune -o -type f -print0 | sort -z | xargs -0 cat
    ) | sha256sum | cut -c1-16
}

# build_key NAME VERSION EXTRA...: a key for a cached build: the tarball,
# the patch series, the library and EXTRA (configure flags, script version).
build_key() {
    local name=$1 version=$2
    shift 2
    {
        orig_field "$name" "$version" sha256
        cat "$DNSTAP_KIT_ROOT/patches/$name/$version/"* 2>/dev/null || true
        library_hash
        printf '%s\n' "$@"
    } | sha256sum | cut -c1-16
}
