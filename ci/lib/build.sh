# shellcheck shell=bash
# Shared by the CI steps that build (sourced, not run): libdnstap installs
# and cached server builds under $DNSTAP_KIT_CACHE, and the dnstap-kit tool.
#
#   source ci/lib/build.sh                  # also sources sources.sh
#   prefix=$(install_libdnstap)             # libdnstap for the current sources
#   dir=$(cached_build unbound 1.22.0 build_unbound_fn --flags...)
#   dir=$(cached_build --stock knot 3.5.8 build_knot_fn --flags...)
#   kit=$(kit_bin)                          # dnstap-kit, built (release)

# shellcheck source=ci/lib/sources.sh
source "$(dirname "${BASH_SOURCE[0]}")/sources.sh"

# install_libdnstap: installs libdnstap (release) into a prefix keyed by the
# library's sources and prints the prefix; reused while the sources match.
install_libdnstap() {
    local prefix
    prefix="$DNSTAP_KIT_CACHE/libdnstap/$(library_hash)"
    mkdir -p "$DNSTAP_KIT_CACHE/libdnstap"
    with_lock "$prefix.lock" install_libdnstap_into "$prefix" || return 1
    echo "$prefix"
}

install_libdnstap_into() {
    [[ -e "$1/.done" ]] && return 0
    make -s -C "$DNSTAP_KIT_ROOT" install PREFIX="$1" >&2 || return 1
    touch "$1/.done"
}

# with_lock FILE COMMAND...: runs COMMAND holding an exclusive lock on FILE:
# two runs that need the same cached build (two checks at once, worktrees
# on the same sources) wait for each other instead of building into the
# same directory.
with_lock() {
    local file=$1 fd status=0
    shift
    exec {fd}>"$file" || return 1
    flock "$fd" || return 1
    "$@" || status=$?
    exec {fd}>&-
    return "$status"
}

# cached_build [--stock] NAME VERSION BUILD_FN EXTRA...: prints the
# directory of a build of NAME VERSION (Debian's patched source with our
# series, or without it for --stock), keyed by build_key (sources, patches,
# library, EXTRA; for --stock, sources and EXTRA). On a miss, unpacks the
# tree into DIR/src and runs `BUILD_FN DIR/src DIR/install` (which must
# configure, build and install there); a failed build leaves no cache
# entry. BUILD_FN runs as the condition of an `if`, where bash ignores
# `set -e`: a failing step does not stop it, so its last command must check
# its product.
cached_build() {
    local flavour=patched name version build_fn key dir stock=()
    [[ "$1" == --stock ]] && { flavour=stock; stock=(--stock); shift; }
    name=$1 version=$2 build_fn=$3
    shift 3
    key=$(build_key "${stock[@]}" "$name" "$version" "$flavour" "$build_fn" "$@") || return 1
    dir="$DNSTAP_KIT_CACHE/builds/$name-$version-$key"
    mkdir -p "$DNSTAP_KIT_CACHE/builds"
    with_lock "$dir.lock" build_into "$dir" "$name" "$version" "$flavour" "$build_fn" || return 1
    echo "$dir"
}

# build_into DIR NAME VERSION FLAVOUR BUILD_FN: cached_build's work, under
# its lock.
build_into() {
    local dir=$1 name=$2 version=$3 flavour=$4 build_fn=$5
    if [[ -e "$dir/.done" ]]; then
        touch "$dir/.done" # recently used: kept by the pruning below
        return 0
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    unpack_source "$name" "$version" "$dir/src" "$flavour" >&2 || return 1
    if ! "$build_fn" "$dir/src" "$dir/install" >"$dir/build.log" 2>&1; then
        tail -n 60 "$dir/build.log" >&2
        echo "build.sh: building $name $version failed (log: $dir/build.log)" >&2
        mv "$dir" "$dir.failed.$$"
        return 1
    fi
    touch "$dir/.done"
    prune_builds "$name-$version"
}

# prune_builds PREFIX [DIR]: keeps the BUILDS_KEPT most recently used
# builds named PREFIX-KEY in DIR (default: the cache's builds/; several are
# live at once: Knot's static and shared flavours, worktrees on other
# library sources) and removes the rest, and failed builds.
BUILDS_KEPT=4
prune_builds() {
    local old dir=${2:-$DNSTAP_KIT_CACHE/builds}
    find "$dir" -mindepth 1 -maxdepth 1 -name "$1-*.failed.*" -exec rm -rf {} +
    find "$dir" -mindepth 2 -maxdepth 2 -path "*/$1-*/.done" -printf '%T@ %h\n' |
        sort -rn | tail -n +$((BUILDS_KEPT + 1)) | while read -r _ old; do
        rm -rf "$old" "$old.lock"
    done
}

# kit_bin: builds dnstap-kit (release) and prints its path. A script that
# runs others exports DNSTAP_KIT_BIN (its path) so that they do not build it
# again.
kit_bin() {
    if [[ -z "${DNSTAP_KIT_BIN:-}" ]]; then
        cargo build --quiet --release --manifest-path "$DNSTAP_KIT_ROOT/Cargo.toml" --bin dnstap-kit >&2 || return 1
        DNSTAP_KIT_BIN=$DNSTAP_KIT_ROOT/target/release/dnstap-kit
    fi
    echo "$DNSTAP_KIT_BIN"
}
