# libdnstap: build, install, and the checks that need the installed files.
#
#   make                      build the release libraries
#   make install PREFIX=/usr/local DESTDIR=
#   make header               regenerate include/dnstap.h (pinned cbindgen)
#   make schema               regenerate src/proto/dnstap.rs (prost-build, protoc)
#   make test                 everything: see ci/test

PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR    ?=
CARGO      ?= cargo
CBINDGEN   ?= cbindgen

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
SONAME  := libdnstap.so.1
# cargo builds into $(CARGO_TARGET_DIR) when it is set.
RELEASE := $(or $(CARGO_TARGET_DIR),target)/release

.PHONY: all build install uninstall header schema test clean

all: build

build:
	$(CARGO) build --release -p libdnstap --lib

# The .pc names PREFIX, so it is written at every install, never cached.
install: build
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 644 $(RELEASE)/libdnstap.a $(DESTDIR)$(LIBDIR)/libdnstap.a
	install -m 755 $(RELEASE)/libdnstap.so $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libdnstap.so
	install -m 644 include/dnstap.h $(DESTDIR)$(INCLUDEDIR)/dnstap.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    libdnstap.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/libdnstap.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libdnstap.a $(DESTDIR)$(LIBDIR)/$(SONAME) \
	      $(DESTDIR)$(LIBDIR)/libdnstap.so $(DESTDIR)$(INCLUDEDIR)/dnstap.h \
	      $(DESTDIR)$(LIBDIR)/pkgconfig/libdnstap.pc

header:
	$(CBINDGEN) --config cbindgen.toml --output include/dnstap.h

schema:
	DNSTAP_KIT_UPDATE_SCHEMA=1 $(CARGO) test -p libdnstap --test generated schema

test:
	ci/test

clean:
	$(CARGO) clean
