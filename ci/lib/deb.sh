# shellcheck shell=bash
# Shared by ci/deb and ci/deb-check (sourced after proc.sh and build.sh, not
# run): throwaway Debian roots made from a cached debootstrap tarball, and
# commands run in them in namespaces of their own.
#
#   tarball=$(root_tarball)        # minimal bookworm, made once per root_key
#   root=$(new_root)               # a fresh copy of it in $work (init_work)
#   in_root "$root" apt-get install -y ./x.deb    # chrooted, /proc and /dev mounted
#   root_apt "$root" install ./x.deb              # apt-get, bounded, one root at a time
#   in_namespaces --loopback-only "$root" my_function args   # my_function runs
#                                  # on the host side, with $root mounted
#   remove_root "$root"            # (the exit removes $work, and what is left in it)
#
# Mounts and processes live in a private mount and PID namespace that ends
# with the command, so nothing is left mounted or running afterwards, also
# when the command fails or is killed: the machine's own mount table never
# sees them. --loopback-only adds a network namespace of its own with only
# lo up: the servers under test can reach nothing but loopback, and their
# ports clash with nothing on the machine.

# shellcheck source=ci/lib/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/proc.sh"
# shellcheck source=ci/lib/build.sh
source "$(dirname "${BASH_SOURCE[0]}")/build.sh"

# The suite every package is built for and tested on: this machine's.
DEB_SUITE=bookworm
DEB_CACHE=$DNSTAP_KIT_CACHE/deb
# Root tarballs kept (the newest by use): one per key, an older one while a
# worktree still asks for it.
ROOTS_KEPT=2

# deb_archive KIND: the URI of the machine's Debian archive of KIND (main or
# security), as its apt configuration names it (ci/lib/sources.sh).
deb_archive() {
    apt_debian_archives | awk -v kind="$1" '$1 == kind { print $2; exit }'
}

# root_sources_list: the root's apt sources: the suite, its updates and its
# security archive, from the machine's own Debian archives.
root_sources_list() {
    local main security
    main=$(deb_archive main)
    security=$(deb_archive security)
    [[ -n "$main" ]] || die "apt names no Debian archive (deb line): no root can be made"
    echo "deb $main $DEB_SUITE main"
    echo "deb $main $DEB_SUITE-updates main"
    if [[ -n "$security" ]]; then echo "deb $security $DEB_SUITE-security main"; fi
}

# root_key: what a root tarball is made of: the suite and its archives,
# debootstrap's version and the function that makes it. (Packages the
# archive updates later are not in it: the roots run apt-get update, and
# a tarball of outdated packages is upgraded there, not made again.)
root_key() {
    {
        root_sources_list
        dpkg-query -W -f='${Version}\n' debootstrap
        declare -f make_root_tarball
    } | sha256sum | cut -c1-16
}

# root_tarball: prints the path of a tarball of a minimal root of
# $DEB_SUITE (debootstrap --variant=minbase), made once per root_key, under
# a lock (concurrent runs wait for the one that makes it).
root_tarball() {
    local key tarball
    key=$(root_key) || return 1
    tarball=$DEB_CACHE/roots/$DEB_SUITE-minbase-$key.tar.gz
    mkdir -p "$DEB_CACHE/roots"
    with_lock "$tarball.lock" make_root_tarball "$tarball" || return 1
    echo "$tarball"
}

# make_root_tarball TARBALL: root_tarball's work, under its lock.
make_root_tarball() {
    local tarball=$1 dir main started=$SECONDS
    if [[ -e "$tarball" ]]; then
        touch "$tarball" # recently used: kept by the pruning below
        return 0
    fi
    main=$(deb_archive main)
    dir=$(mktemp -d "$work/root.XXXXXX") || return 1
    echo "deb.sh: debootstrap $DEB_SUITE (minbase) into $dir" >&2
    if ! timeout 1200 debootstrap --variant=minbase "$DEB_SUITE" "$dir" "$main" >"$work/debootstrap.log" 2>&1; then
        tail -n 20 "$work/debootstrap.log" >&2
        remove_root "$dir"
        echo "deb.sh: debootstrap failed (log: $work/debootstrap.log)" >&2
        return 1
    fi
    root_sources_list >"$dir/etc/apt/sources.list" || return 1
    # apt as Debian sets it up (recommends installed), and no maintainer
    # script starts a daemon in the root (invoke-rc.d asks policy-rc.d
    # first): the tests start them, inside namespaces of their own.
    printf 'Acquire::Retries "3";\nAcquire::Languages "none";\n' >"$dir/etc/apt/apt.conf.d/90dnstap-kit"
    printf '#!/bin/sh\n# no daemon starts while packages are installed\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
    chmod 755 "$dir/usr/sbin/policy-rc.d"
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    if ! tar --numeric-owner -czf "$tarball.tmp" -C "$dir" .; then
        rm -f "$tarball.tmp"
        remove_root "$dir"
        return 1
    fi
    mv "$tarball.tmp" "$tarball"
    remove_root "$dir"
    echo "deb.sh: root tarball made in $((SECONDS - started)) s: $tarball" >&2
    find "$DEB_CACHE/roots" -name '*.tar.gz' -printf '%T@ %p\n' | sort -rn | tail -n +$((ROOTS_KEPT + 1)) |
        while read -r _ old; do rm -f "$old" "$old.lock"; done
}

# new_root: prints the path of a fresh root in $work, unpacked from
# root_tarball.
new_root() {
    local tarball dir
    tarball=$(root_tarball) || return 1
    dir=$(mktemp -d "$work/root.XXXXXX") || return 1
    tar --numeric-owner -xzf "$tarball" -C "$dir" || { remove_root "$dir"; return 1; }
    # A root directory as on a real system (mktemp made it 0700): the
    # service users, and apt's _apt, must be able to reach every path in it.
    chmod 755 "$dir"
    # The machine's resolver, for apt inside the root.
    cp /etc/resolv.conf "$dir/etc/resolv.conf"
    # Where a build enables backports (for its debhelper: ci/deb), debhelper
    # and the libdebhelper-perl of the same version come from there, and
    # nothing else unless it is asked for (backports' own priority, 100).
    printf 'Package: debhelper libdebhelper-perl\nPin: release n=%s-backports\nPin-Priority: 990\n' "$DEB_SUITE" \
        >"$dir/etc/apt/preferences.d/dnstap-kit-debhelper"
    echo "$dir"
}

# remove_root DIR: removes a root, after making sure nothing is mounted
# under it (a bind mount of the cache must never be emptied through it).
remove_root() {
    local dir=$1
    [[ -n "$dir" && -d "$dir" ]] || return 0
    if awk -v dir="$dir" 'index($5, dir) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
        echo "deb.sh: $dir still has mounts under it: not removed" >&2
        return 1
    fi
    rm -rf --one-file-system "$dir"
}

# in_namespaces [--loopback-only] ROOT COMMAND...: runs COMMAND (a function
# of the calling script or a program, on the host side) in new mount and PID
# namespaces where ROOT has /proc, /dev, a fresh /run and apt's shared
# caches mounted: the downloaded packages and the package lists, so that a
# fresh root's apt-get update fetches only what changed. Every function of the caller is passed along, and
# the variables proc.sh and this file set; the caller's processes
# (spawn) are not: COMMAND tracks its own, and they end with it.
#
# unshare ignores SIGTERM and SIGINT while it waits, and the namespace's
# first process ignores what is not SIGKILL; unshare ends it when unshare
# is killed (--kill-child), and is killed when the shell that started it
# ends (setpriv --pdeathsig), whatever ends that shell. The shell waits
# with `wait`, so its own traps (proc.sh's exit) run at once on a signal.
in_namespaces() {
    local net=() loopback_only=
    if [[ "$1" == --loopback-only ]]; then
        net=(--net)
        loopback_only=yes
        shift
    fi
    DEB_LOOPBACK_ONLY=$loopback_only setpriv --pdeathsig KILL unshare --mount --pid --fork --kill-child "${net[@]}" -- \
        bash -c "$(declare -f)"$'\n'"$(declare -p repo script work DNSTAP_KIT_CACHE DNSTAP_KIT_ROOT DEB_CACHE DEB_SUITE)"$'
declare -gA procs=()
exit_steps=()
set -euo pipefail
mount_root "$1"
"${@:2}"' in_namespaces "$@" &
    wait "$!"
}

# mount_root ROOT: in_namespaces' mounts (and lo, in a network namespace).
mount_root() {
    local root=$1
    mount --make-rprivate /
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs -o mode=755 tmpfs "$root/run"
    mkdir -p "$root/run/lock" "$DEB_CACHE/apt-archives/partial" "$DEB_CACHE/apt-lists/partial"
    mount --bind "$DEB_CACHE/apt-archives" "$root/var/cache/apt/archives"
    mount --bind "$DEB_CACHE/apt-lists" "$root/var/lib/apt/lists"
    if [[ -n "${DEB_LOOPBACK_ONLY:-}" ]]; then ip link set lo up; fi
}

# in_root ROOT COMMAND...: runs COMMAND chrooted into ROOT (in_namespaces).
in_root() {
    local root=$1
    shift
    in_namespaces "$root" chroot "$root" "$@"
}

# root_apt ROOT APT-GET-ARGS...: apt-get in ROOT, non-interactive, keeping
# changed conffiles (as an unattended upgrade does), at most 15 minutes,
# one root at a time (they share apt's caches, under one lock).
root_apt() {
    local root=$1
    shift
    mkdir -p "$DEB_CACHE"
    with_lock "$DEB_CACHE/apt-archives.lock" in_root "$root" timeout 900 env DEBIAN_FRONTEND=noninteractive \
        apt-get -y -q -o Dpkg::Options::=--force-confold -o Dpkg::Use-Pty=0 "$@"
}
