# shellcheck shell=bash
# Shared by the server CI steps (sourced, not run): the pinned Debian source
# packages of the supported servers, how they are fetched, unpacked and
# patched, and the keys of cached builds.
#
#   source ci/lib/sources.sh
#   path=$(fetch_pinned unbound_1.22.0.orig.tar.gz)   # cached, sha256-verified
#   unpack_source unbound 1.22.0 "$tree"              # Debian's tree + our series
#   unpack_source unbound 1.22.0 "$tree" stock        # Debian's tree alone
#   unpack_upstream unbound 1.22.0 "$tree"            # the bare upstream release
#   key=$(build_key unbound 1.22.0 "$configure_flags")
#
# Everything expensive lives under $DNSTAP_KIT_CACHE (default
# ~/.cache/dnstap-kit), outside the repository. $DNSTAP_KIT_SOURCES may name a
# directory of the pinned files for offline builds.

DNSTAP_KIT_CACHE=${DNSTAP_KIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dnstap-kit}
DNSTAP_KIT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# The supported series: upstream release, the Debian revision whose security
# patches the tests build on, the Debian suite that indexed it when pinned.
SERIES_PINS="
unbound 1.17.1 1.17.1-2+deb12u4 bookworm
unbound 1.22.0 1.22.0-2+deb13u3 trixie
knot    3.2.6  3.2.6-1          bookworm
knot    3.4.6  3.4.6-2          trixie
knot    3.5.8  3.5.8-1          sid
"

# Every file of those source packages: name, sha256 and, for an upstream
# release, where its authors publish it (the same bytes as Debian's orig).
FILE_PINS="
unbound_1.17.1.orig.tar.gz             ee4085cecce12584e600f3d814a28fa822dfaacec1f94c84bfd67f8a5571a5f4 https://nlnetlabs.nl/downloads/unbound/unbound-1.17.1.tar.gz
unbound_1.17.1-2+deb12u4.debian.tar.xz b756330de8dd715ac8305bf36be0b0cc93a11703d2c542b4a320dcf1e71b229a
unbound_1.22.0.orig.tar.gz             c5dd1bdef5d5685b2cedb749158dd152c52d44f65529a34ac15cd88d4b1b3d43 https://nlnetlabs.nl/downloads/unbound/unbound-1.22.0.tar.gz
unbound_1.22.0-2+deb13u3.debian.tar.xz 5a77787dcb3fc60fad846d846bd4534a9114dd6cf44de305bcd7e3d174ab90fb
knot_3.2.6.orig.tar.xz                 ac124fb17dbc4ac5310a30a396245a6ba304b3c89abed0f8a47d727462c8da4d https://secure.nic.cz/files/knot-dns/knot-3.2.6.tar.xz
knot_3.2.6-1.debian.tar.xz             dae6b3bff464b9e081eb43a3bb1fca7cb9ee3d717c8364c006f19e2a7d0dcf27
knot_3.4.6.orig.tar.xz                 d19c5a1ff94b4f26027d635de108dbfc88f5652be86ccb3ba9a44ee9be0e5839 https://secure.nic.cz/files/knot-dns/knot-3.4.6.tar.xz
knot_3.4.6-2.debian.tar.xz             648315bca3f28b57c983a46ce26e08845d784b3e7ea403a128d504935bcda42b
knot_3.5.8.orig.tar.xz                 4197c902feccf32475b254c7ddaa1ac123700e3895f50b80103ffeb8352a2807 https://secure.nic.cz/files/knot-dns/knot-3.5.8.tar.xz
knot_3.5.8-1.debian.tar.xz             bad787a8fe815ebb7e8317a9ede0a3c6c74fe0cde9ef85a888bfb9877d680c3c
"

# The places a pinned file is looked for, in order (an operator may narrow
# them, e.g. DNSTAP_KIT_FETCH_FROM="cache offline" on a machine that must
# not reach out).
DNSTAP_KIT_FETCH_FROM=${DNSTAP_KIT_FETCH_FROM:-cache offline apt pool upstream}

sources_die() {
    echo "sources.sh: $*" >&2
    return 1
}

# series_pin NAME VERSION FIELD: debian (the Debian version) or suite.
series_pin() {
    local name=$1 version=$2 field=$3 n v debian suite
    while read -r n v debian suite; do
        [[ "$n" == "$name" && "$v" == "$version" ]] || continue
        case "$field" in
            debian) echo "$debian" ;;
            suite) echo "$suite" ;;
        esac
        return 0
    done <<<"$SERIES_PINS"
    sources_die "$name $version is not a supported series (SERIES_PINS)"
}

# series_versions NAME: the supported upstream versions of NAME, oldest first.
series_versions() {
    awk -v name="$1" '$1 == name { print $2 }' <<<"$SERIES_PINS" | sort -V
}

# patched_versions NAME: the pinned versions of NAME that have a series in
# patches/NAME/, oldest first.
patched_versions() {
    local version
    for version in $(series_versions "$1"); do
        if [[ -e "$DNSTAP_KIT_ROOT/patches/$1/$version/series" ]]; then echo "$version"; fi
    done
}

# series_files NAME VERSION: the orig tarball, then the Debian tarball.
series_files() {
    local name=$1 version=$2 debian
    debian=$(series_pin "$name" "$version" debian) || return 1
    awk -v orig="${name}_$version.orig.tar." -v deb="${name}_$debian.debian.tar." '
        index($1, orig) == 1 { o = $1 } index($1, deb) == 1 { d = $1 }
        END { if (o == "" || d == "") exit 1; print o; print d }' <<<"$FILE_PINS" ||
        sources_die "no pinned files for $name $version ($debian) in FILE_PINS"
}

# file_pin FILE FIELD: sha256 or upstream (empty when there is none).
file_pin() {
    local file=$1 field=$2 f sha upstream
    while read -r f sha upstream; do
        [[ "$f" == "$file" ]] || continue
        case "$field" in
            sha256) echo "$sha" ;;
            upstream) echo "$upstream" ;;
        esac
        return 0
    done <<<"$FILE_PINS"
    sources_die "$file is not pinned (FILE_PINS)"
}

# source_package FILE: the source package name and Debian version a pinned
# file belongs to ("unbound 1.22.0-2+deb13u3").
source_package() {
    local file=$1 name version n v debian _
    name=${file%%_*}
    version=${file#*_}
    version=${version%.orig.tar.*}
    version=${version%.debian.tar.*}
    while read -r n v debian _; do
        [[ "$n" == "$name" && ("$v" == "$version" || "$debian" == "$version") ]] || continue
        echo "$name $debian"
        return 0
    done <<<"$SERIES_PINS"
    sources_die "$file belongs to no supported series"
}

# apt_debian_archives: "KIND URI" for each Debian archive the machine's apt
# configuration names, KIND being main or security, from one-line
# sources.list entries and deb822 .sources stanzas alike. The configuration
# is read where apt reads it (APT_CONFIG and Dir::Etc are honoured).
apt_debian_archives() {
    local list parts
    eval "$(apt-config shell list Dir::Etc::sourcelist/f parts Dir::Etc::sourceparts/d)"
    {
        local file
        for file in "$list" "$parts"/*.list; do
            if [[ -f "$file" ]]; then apt_one_line_archives "$file"; fi
        done
        for file in "$parts"/*.sources; do
            if [[ -f "$file" ]]; then apt_deb822_archives "$file"; fi
        done
    } | awk '!seen[$0]++'
}

# archive_kind SUITE...: main or security for Debian's suites (codenames,
# aliases, and their -updates, -backports and -security), nothing for others.
archive_kind() {
    local suite
    for suite in "$@"; do
        case "${suite%%/*}" in
            *-security) echo security; return 0 ;;
            buster | bullseye | bookworm | trixie | forky | sid | unstable | testing | stable | oldstable | experimental | \
                *-updates | *-backports) echo main; return 0 ;;
        esac
    done
}

# apt_one_line_archives FILE: "deb [options] URI SUITE COMPONENT..." lines.
apt_one_line_archives() {
    local type rest uri suite kind
    while read -r type rest; do
        [[ "$type" == deb || "$type" == deb-src ]] || continue
        [[ "$rest" == \[* ]] && rest=${rest#*] }
        read -r uri suite _ <<<"$rest"
        kind=$(archive_kind "$suite")
        if [[ -n "$kind" ]]; then echo "$kind ${uri%/}"; fi
    done <"$1"
}

# apt_deb822_archives FILE: stanzas with Types, URIs and Suites fields.
apt_deb822_archives() {
    awk '
        function flush(   n, i, kind) {
            if (types ~ /deb/ && enabled != "no") {
                n = split(uris, u, " ")
                for (i = 1; i <= n; i++) if (suites != "") print suites "\t" u[i]
            }
            types = uris = suites = enabled = ""
        }
        /^[ \t]*#/ { next }
        /^[ \t]*$/ { flush(); next }
        tolower($1) == "types:" { $1 = ""; types = $0 }
        tolower($1) == "uris:" { $1 = ""; uris = $0 }
        tolower($1) == "suites:" { $1 = ""; suites = $0 }
        tolower($1) == "enabled:" { enabled = tolower($2) }
        END { flush() }' "$1" | while IFS=$'\t' read -r suites uri; do
        local kind
        # shellcheck disable=SC2086 # one word per suite
        kind=$(archive_kind $suites)
        if [[ -n "$kind" ]]; then echo "$kind ${uri%/}"; fi
    done
}

# ensure_deb_src: apt knows the source packages of every pinned suite, from
# the machine's own Debian archive. Prints nothing; fails without one.
ensure_deb_src() {
    local list=/etc/apt/sources.list.d/dnstap-kit-src.sources archive suites
    archive=$(apt_debian_archives | awk '$1 == "main" { print $2; exit }')
    [[ -n "$archive" ]] || sources_die "apt names no Debian archive (deb or deb-src line)" || return 1
    suites=$(awk 'NF { print $4 }' <<<"$SERIES_PINS" | sort -u | tr '\n' ' ')
    local want="Types: deb-src
URIs: $archive
Suites: ${suites% }
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
    if [[ "$(cat "$list" 2>/dev/null)" != "$want" ]]; then
        echo "$want" >"$list" || return 1
        apt-get update -qq -o DPkg::Lock::Timeout=300 >/dev/null 2>&1 || true
    fi
}

# pool_path FILE: the file's path in a Debian archive's pool.
pool_path() {
    local name=${1%%_*} prefix
    prefix=${name:0:1}
    [[ "$name" == lib?* ]] && prefix=${name:0:4}
    echo "main/$prefix/$name/$1"
}

# fetch_into DIR FILE ROUTE: puts FILE into DIR by ROUTE; prints why not.
fetch_into() {
    local dir=$1 file=$2 route=$3 package version upstream kind uri url tried=()
    case "$route" in
        offline)
            [[ -n "${DNSTAP_KIT_SOURCES:-}" ]] || { echo "\$DNSTAP_KIT_SOURCES is not set"; return 1; }
            cp "$DNSTAP_KIT_SOURCES/$file" "$dir/$file" 2>/dev/null ||
                { echo "not in $DNSTAP_KIT_SOURCES"; return 1; }
            ;;
        apt)
            package=$(source_package "$file") || return 1
            read -r package version <<<"$package"
            ensure_deb_src 2>&1 || return 1
            (cd "$dir" && apt-get source --download-only -qq "$package=$version" >/dev/null 2>&1) ||
                { echo "apt-get source --download-only $package=$version failed"; return 1; }
            [[ -e "$dir/$file" ]] || { echo "apt-get source $package=$version brought no $file"; return 1; }
            ;;
        pool)
            while read -r kind uri; do
                [[ -n "$uri" ]] || continue
                url="$uri/pool/$(pool_path "$file")"
                [[ "$kind" == security ]] && url="$uri/pool/updates/$(pool_path "$file")"
                curl -fsSL --connect-timeout 20 --max-time 600 -o "$dir/$file" "$url" 2>/dev/null && return 0
                tried+=("$url")
            done <<<"$(apt_debian_archives)"
            ((${#tried[@]})) || { echo "apt names no Debian archive"; return 1; }
            echo "not served at ${tried[*]}"
            return 1
            ;;
        upstream)
            upstream=$(file_pin "$file" upstream) || return 1
            [[ -n "$upstream" ]] || { echo "no upstream release (a Debian file)"; return 1; }
            curl -fsSL --connect-timeout 20 --max-time 600 -o "$dir/$file" "$upstream" 2>/dev/null ||
                { echo "not served at $upstream"; return 1; }
            ;;
        *) echo "unknown place '$route' in \$DNSTAP_KIT_FETCH_FROM"; return 1 ;;
    esac
}

# keep_verified FROM TO ROUTE: moves the pinned files in FROM that match
# their sha256 into TO (apt-get source brings a package's files together).
keep_verified() {
    local from=$1 to=$2 route=$3 path sha
    for path in "$from"/*; do
        sha=$(file_pin "${path##*/}" sha256 2>/dev/null) || continue
        if echo "$sha  $path" | sha256sum --check --status; then
            mv "$path" "$to/"
            echo "sources.sh: ${path##*/} from $route" >&2
        fi
    done
}

# fetch_pinned FILE: prints the path of FILE in the cache, verified against
# its pinned sha256, trying each place of $DNSTAP_KIT_FETCH_FROM in order.
# A file whose sha256 differs is an error, whatever served it, and is not
# kept. On failure one message names the file, its sha256 and every place
# tried with what each said.
fetch_pinned() {
    local file=$1 sha dir work route why tried=()
    sha=$(file_pin "$file" sha256) || return 1
    dir="$DNSTAP_KIT_CACHE/sources"
    mkdir -p "$dir" || return 1
    for route in $DNSTAP_KIT_FETCH_FROM; do
        if [[ "$route" == cache ]]; then
            if [[ -e "$dir/$file" ]]; then
                if echo "$sha  $dir/$file" | sha256sum --check --status; then
                    echo "$dir/$file"
                    return 0
                fi
                rm -f "$dir/$file"
                tried+=("cache: held a copy with another sha256 (removed)")
            else
                tried+=("cache: not in $dir")
            fi
            continue
        fi
        work=$(mktemp -d "$dir/fetch.XXXXXX") || return 1
        if why=$(fetch_into "$work" "$file" "$route"); then
            if ! echo "$sha  $work/$file" | sha256sum --check --status; then
                why=$(sha256sum <"$work/$file" | cut -c1-64)
                rm -rf "$work"
                sources_die "$file from $route has sha256 $why, not the pinned $sha: refused, nothing cached"
                return 1
            fi
            keep_verified "$work" "$dir" "$route"
            rm -rf "$work"
            echo "$dir/$file"
            return 0
        fi
        rm -rf "$work"
        tried+=("$route: $why")
    done
    local IFS=$'\n'
    sources_die "cannot get $file (sha256 $sha); tried:"$'\n'"${tried[*]/#/  }"
}

# unpack_upstream NAME VERSION DEST: DEST becomes the bare upstream release.
unpack_upstream() {
    local name=$1 version=$2 dest=$3 orig
    orig=$(series_files "$name" "$version" | head -n1) || return 1
    orig=$(fetch_pinned "$orig") || return 1
    rm -rf "$dest"
    mkdir -p "$dest"
    tar -xf "$orig" -C "$dest" --strip-components=1
}

# apply_quilt_series DIR SERIES PATCHDIR: applies the patches SERIES lists
# (quilt's format: a name, optionally -pN) with patch, in order; offsets are
# fine, fuzz is not.
apply_quilt_series() {
    local dir=$1 series=$2 patches=$3 patch opt level
    while read -r patch opt; do
        [[ -z "$patch" || "$patch" == \#* ]] && continue
        level=1
        [[ "$opt" == -p[0-9] ]] && level=${opt#-p}
        patch -s -F0 -p"$level" -d "$dir" <"$patches/$patch" ||
            sources_die "$patch (from $patches) does not apply to $dir" || return 1
    done <"$series"
}

# unpack_source NAME VERSION DEST [stock]: DEST becomes what the tests build:
# the upstream release with Debian's packaging and patches (its security
# fixes), then patches/NAME/VERSION/series unless "stock" is asked for.
unpack_source() {
    local name=$1 version=$2 dest=$3 flavour=${4:-patched} debian
    unpack_upstream "$name" "$version" "$dest" || return 1
    debian=$(series_files "$name" "$version" | tail -n1) || return 1
    debian=$(fetch_pinned "$debian") || return 1
    tar -xf "$debian" -C "$dest" || return 1
    if [[ -e "$dest/debian/patches/series" ]]; then
        apply_quilt_series "$dest" "$dest/debian/patches/series" "$dest/debian/patches" || return 1
    fi
    [[ "$flavour" == stock ]] && return 0
    apply_quilt_series "$dest" "$DNSTAP_KIT_ROOT/patches/$name/$version/series" \
        "$DNSTAP_KIT_ROOT/patches/$name/$version"
}

# library_hash: what a server build depends on in this repository: the
# library crate's sources, header and build files (Cargo.lock is the
# workspace's, so a tool dependency also counts: conservative, never stale).
library_hash() {
    (
        cd "$DNSTAP_KIT_ROOT" &&
            find Cargo.toml Cargo.lock build.rs cbindgen.toml Makefile libdnstap.pc.in include proto src \
                -type f -print0 | sort -z | xargs -0 cat
    ) | sha256sum | cut -c1-16
}

# build_key [--stock] NAME VERSION EXTRA...: a key for a cached build: the
# pinned source files, the patch series, the library and EXTRA (configure
# flags, script version). A --stock build uses neither series nor library,
# so they are left out: it is not rebuilt when they change.
build_key() {
    local stock=no name version file
    [[ "$1" == --stock ]] && { stock=yes; shift; }
    name=$1 version=$2
    shift 2
    {
        for file in $(series_files "$name" "$version"); do
            file_pin "$file" sha256
        done
        if [[ "$stock" == no ]]; then
            cat "$DNSTAP_KIT_ROOT/patches/$name/$version/"* 2>/dev/null || true
            library_hash
        fi
        printf '%s\n' "$@"
    } | sha256sum | cut -c1-16
}
