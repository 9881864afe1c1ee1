# hoist - a container-image tool.  Plain GNU make; see README.md.
#
#   make                 build ./hoist and the man pages
#   make check           run every test (unit and end-to-end); last line "N passed, M failed"
#   make check SANITIZE=1   the same suite built with ASan + UBSan (in build-san/)
#   make fuzz FUZZ_SECONDS=30   libFuzzer on each parser (clang, in build-fuzz/)
#   make install PREFIX=/usr/local DESTDIR=...
#   make demo            a throwaway loopback registry and hoist's main job against it

CC ?= cc
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
# The shell completion scripts (`hoist completion bash|zsh`).
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
DESTDIR ?=
SCDOC ?= scdoc

PKGS := libcurl gnutls json-c libarchive libzstd zlib libdeflate

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)

ifeq ($(SANITIZE),1)
override SANITIZE := address,undefined
endif
ifneq ($(SANITIZE),)
BUILDDIR ?= build-san
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
HOIST := $(BUILDDIR)/hoist
else
BUILDDIR ?= build
SAN_FLAGS :=
HOIST := hoist
endif

CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
	-Wno-unused-parameter
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
# libarchive and libcurl are not linked: core/format/libarchive_dl.c and
# registry/curl_dl.c dlopen() them on first use (they pull in libxml2, ICU,
# libstdc++, Kerberos, LDAP, ... at every start otherwise), by the soname
# of the library the linker would have used.
# libdeflate is linked statically: its output bytes are part of every gzip
# layer digest, so they come with the hoist binary, not with the machine (and
# loading the shared library would cost a start 0.3 ms).
LINK_PKGS := $(filter-out libarchive libcurl libdeflate,$(PKGS))
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(LINK_PKGS) 2>/dev/null)
LIBDEFLATE_A := $(shell f=$$($(PKG_CONFIG) --variable=libdir libdeflate 2>/dev/null)/libdeflate.a; \
	[ -e "$$f" ] || f=$$($(CC) -print-file-name=libdeflate.a); [ -e "$$f" ] && echo "$$f")
LIBARCHIVE_SONAME := $(shell f=$$($(PKG_CONFIG) --variable=libdir libarchive 2>/dev/null)/libarchive.so; \
	[ -e "$$f" ] || f=$$($(CC) -print-file-name=libarchive.so); \
	objdump -p "$$f" 2>/dev/null | sed -n 's/^ *SONAME *//p')
LIBCURL_SONAME := $(shell f=$$($(PKG_CONFIG) --variable=libdir libcurl 2>/dev/null)/libcurl-gnutls.so; \
	[ -e "$$f" ] || f=$$($(PKG_CONFIG) --variable=libdir libcurl 2>/dev/null)/libcurl.so; \
	[ -e "$$f" ] || f=$$($(CC) -print-file-name=libcurl.so); \
	objdump -p "$$f" 2>/dev/null | sed -n 's/^ *SONAME *//p')
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -I. $(WARN) $(SAN_FLAGS) $(PKG_CFLAGS) \
	-DHOIST_VERSION='"$(VERSION)"' -MMD -MP $(CFLAGS)
ALL_LDFLAGS := $(SAN_FLAGS) $(LDFLAGS)
LIBS := $(LIBDEFLATE_A) $(PKG_LIBS) -lpthread -ldl

# Explicit source lists, one line per module.
# core/ in floors, from the ground up (scripts/check-tree keeps includes going down):
BASE_SRCS := $(addprefix core/base/, err.c buf.c strvec.c text.c base64.c units.c json.c digest.c \
	fs.c dl.c)
MODEL_SRCS := $(addprefix core/model/, ref.c platform.c mediatype.c kvlist.c descriptor.c \
	manifest.c imgconfig.c settings.c)
FORMAT_SRCS := $(addprefix core/format/, libarchive_dl.c tar.c pgzip.c layer.c \
	containerfile.c dockerignore.c userdb.c)
OPS_SRCS := $(addprefix core/ops/, env.c resolve.c local.c pull.c tarball.c xfer.c push.c copy.c \
	import.c remote.c build_spec.c build.c rootfs.c export.c unpack.c validate.c output.c \
	mutate.c restack.c index.c source.c)
CORE_SRCS := $(BASE_SRCS) $(MODEL_SRCS) $(FORMAT_SRCS) $(OPS_SRCS)
CACHE_SRCS := $(addprefix cache/, store.c layout.c blob.c usage.c memo.c graph.c gc.c prune.c rm.c \
	verify.c ls.c)
REGISTRY_SRCS := $(addprefix registry/, wire.c curl_dl.c http.c creds.c reg_req.c reg.c \
	reg_manifest.c reg_blob.c reg_list.c)
CMD_SRCS := cmd/main.c cmd/dispatch.c cmd/ctx.c cmd/env.c cmd/opt.c cmd/report.c cmd/help.c cmd/version.c cmd/cache.c
CMD_SRCS += cmd/inspect.c cmd/list.c cmd/blob.c cmd/tag.c cmd/auth.c
CMD_SRCS += cmd/pull.c cmd/progress.c
CMD_SRCS += cmd/push.c cmd/copy.c
CMD_SRCS += cmd/build.c
CMD_SRCS += cmd/export.c cmd/validate.c
CMD_SRCS += cmd/complete.c
CMD_SRCS += cmd/append.c
CMD_SRCS += cmd/restack.c
CMD_SRCS += cmd/index.c

LIB_SRCS := $(CORE_SRCS) $(CACHE_SRCS) $(REGISTRY_SRCS)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILDDIR)/%.o)
CMD_OBJS := $(CMD_SRCS:%.c=$(BUILDDIR)/%.o)
LIBHOIST := $(BUILDDIR)/libhoist.a

UNIT_TESTS := err buf text digest json ref platform manifest layout opt wire http creds gc reg reg_req reg_blob units archive pgzip layer containerfile build settings imgconfig output userdb source build_spec env rootfs
UNIT_BINS := $(UNIT_TESTS:%=$(BUILDDIR)/tests/unit/%_test)
# Helper programs the end-to-end tests use (built from the library).
TEST_TOOLS := layout-tool reg-tool
TEST_TOOL_BINS := $(TEST_TOOLS:%=$(BUILDDIR)/tests/tools/%)
# LD_PRELOAD shims the fault tests use (tests/tools/NAME.c -> NAME.so).
TEST_SHIMS := faultfs
TEST_SHIM_SOS := $(TEST_SHIMS:%=$(BUILDDIR)/tests/tools/%.so)
# libFuzzer targets (tests/fuzz/fuzz_NAME.c).  `make check` replays their
# committed corpus and regression inputs through fuzz_NAME_replay (the normal
# compiler, tests/fuzz/replay.c as main); `make fuzz` fuzzes each for
# FUZZ_SECONDS with clang -fsanitize=fuzzer,address,undefined in build-fuzz/.
FUZZ_TARGETS := ref digest platform www_authenticate link wire_errors retry_after \
	content_range manifest descriptor json text containerfile dockerignore tar
FUZZ_REPLAY_BINS := $(FUZZ_TARGETS:%=$(BUILDDIR)/tests/fuzz/fuzz_%_replay)
FUZZ_BINS := $(FUZZ_TARGETS:%=$(BUILDDIR)/tests/fuzz/fuzz_%)
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang

MAN_SRCS := $(wildcard man/*.scd)
MAN_PAGES := $(MAN_SRCS:man/%.scd=$(BUILDDIR)/man/%)

.SECONDARY:
.PHONY: all check unit e2e man install uninstall clean demo deps-check bench
.PHONY: install-completion uninstall-completion
.PHONY: fuzz fuzz-bins
all: deps-check $(HOIST) man

deps-check:
	@$(PKG_CONFIG) --exists $(PKGS) || { \
	  echo "error: missing build dependencies ($(PKGS))" >&2; \
	  echo "hint: run scripts/install-deps" >&2; exit 1; }
	@[ -n "$(LIBARCHIVE_SONAME)" ] || { \
	  echo "error: cannot find libarchive.so's soname (objdump -p, binutils)" >&2; exit 1; }
	@[ -n "$(LIBCURL_SONAME)" ] || { \
	  echo "error: cannot find libcurl.so's soname (objdump -p, binutils)" >&2; exit 1; }
	@[ -n "$(LIBDEFLATE_A)" ] || { \
	  echo "error: missing libdeflate.a (libdeflate-dev)" >&2; \
	  echo "hint: run scripts/install-deps" >&2; exit 1; }

$(BUILDDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILDDIR)/core/format/libarchive_dl.o: ALL_CFLAGS += -DHOIST_LIBARCHIVE_SONAME='"$(LIBARCHIVE_SONAME)"'
$(BUILDDIR)/registry/curl_dl.o: ALL_CFLAGS += -DHOIST_LIBCURL_SONAME='"$(LIBCURL_SONAME)"'

$(LIBHOIST): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(HOIST): $(CMD_OBJS) $(LIBHOIST)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CMD_OBJS) $(LIBHOIST) $(LIBS)

$(BUILDDIR)/tests/unit/%_test: $(BUILDDIR)/tests/unit/%_test.o $(LIBHOIST)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBHOIST) $(LIBS)

# opt_test exercises cmd/opt.c, the only cmd/ module with a unit test.
$(BUILDDIR)/tests/unit/opt_test: $(BUILDDIR)/tests/unit/opt_test.o $(BUILDDIR)/cmd/opt.o \
		$(BUILDDIR)/cmd/report.o $(LIBHOIST)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILDDIR)/tests/tools/%: $(BUILDDIR)/tests/tools/%.o $(LIBHOIST)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBHOIST) $(LIBS)

# Without sanitizer flags: a preloaded shim loads before the sanitizer runtime.
$(TEST_SHIM_SOS): $(BUILDDIR)/tests/tools/%.so: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -fPIC -shared -o $@ $< -ldl

$(FUZZ_REPLAY_BINS): $(BUILDDIR)/tests/fuzz/%_replay: $(BUILDDIR)/tests/fuzz/%.o \
		$(BUILDDIR)/tests/fuzz/replay.o $(LIBHOIST)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(FUZZ_BINS): $(BUILDDIR)/tests/fuzz/%: $(BUILDDIR)/tests/fuzz/%.o $(LIBHOIST)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

fuzz-bins: $(FUZZ_BINS)

fuzz:
	@command -v $(FUZZ_CC) >/dev/null || { \
	  echo "error: make fuzz needs $(FUZZ_CC) and libclang-rt-14-dev" >&2; \
	  echo "hint: run scripts/install-deps" >&2; exit 1; }
	$(MAKE) BUILDDIR=build-fuzz CC=$(FUZZ_CC) SANITIZE=fuzzer-no-link,address,undefined \
	  CFLAGS="-O1 -g -Wno-format-nonliteral" fuzz-bins
	tests/fuzz/run build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

man: $(MAN_PAGES)
$(BUILDDIR)/man/%: man/%.scd
	@mkdir -p $(dir $@)
	$(SCDOC) < $< > $@

check: deps-check $(HOIST) $(UNIT_BINS) $(TEST_TOOL_BINS) $(TEST_SHIM_SOS) $(FUZZ_REPLAY_BINS) man
	@BUILDDIR=$(BUILDDIR) HOIST_BIN=$(abspath $(HOIST)) tests/run $(T)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(HOIST) $(DESTDIR)$(BINDIR)/hoist
	for p in $(MAN_PAGES); do install -m 0644 $$p $(DESTDIR)$(MANDIR)/man1/; done
	$(MAKE) install-completion

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/hoist
	for p in $(MAN_PAGES); do rm -f $(DESTDIR)$(MANDIR)/man1/$$(basename $$p); done
	$(MAKE) uninstall-completion

# The completion scripts, printed by the hoist already built (no
# prerequisites, so that t0960 can run them against any build), run by its
# path: a bare "hoist" would be looked up on PATH.
install-completion:
	install -d $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	$(abspath $(HOIST)) completion bash >$(DESTDIR)$(BASHCOMPDIR)/hoist
	$(abspath $(HOIST)) completion zsh >$(DESTDIR)$(ZSHCOMPDIR)/_hoist
	chmod 0644 $(DESTDIR)$(BASHCOMPDIR)/hoist $(DESTDIR)$(ZSHCOMPDIR)/_hoist

uninstall-completion:
	rm -f $(DESTDIR)$(BASHCOMPDIR)/hoist $(DESTDIR)$(ZSHCOMPDIR)/_hoist

demo: all
	@scripts/demo

bench: all
	@scripts/bench

# build-*/: the build directories of BUILDDIR=build-NAME runs too.
clean:
	rm -rf build build-san build-fuzz build-*/ hoist

-include $(shell find $(BUILDDIR) -name '*.d' 2>/dev/null)
