# nix-offload: POSIX make.  See config.mk for settings.
.POSIX:

include config.mk

SRC = src/activity.c src/args.c src/build.c src/builders.c src/ca.c src/check.c src/clock.c src/common.c src/compat.c src/conf.c \
	src/copy.c src/daemon.c src/dbuild.c src/dispatch.c src/drv.c src/enable.c src/fail.c src/features.c src/graph.c \
	src/hash.c src/health.c src/hold.c src/hook.c src/info.c src/installable.c src/job.c src/json.c src/lease.c src/local.c src/log.c \
	src/machines.c src/nar.c src/nixver.c src/path.c src/proto.c src/pub.c src/rundir.c src/sched.c src/seen.c \
	src/serve.c src/spawn.c src/ssh.c src/status.c src/store.c src/strlist.c src/text.c src/transfer.c src/uri.c src/usage.c \
	src/wire.c src/why.c src/worker.c
OBJ = $(SRC:.c=.o)
MAIN = src/main.o
# Unit tests: one program per module under test, tests/unit/t_MODULE.c,
# linked with the harness and the test helpers.
UNIT = tests/unit/t_activity tests/unit/t_args tests/unit/t_ca \
	tests/unit/t_check tests/unit/t_common tests/unit/t_conf \
	tests/unit/t_dispatch tests/unit/t_drv tests/unit/t_drv_limits \
	tests/unit/t_fail tests/unit/t_features tests/unit/t_hash \
	tests/unit/t_health tests/unit/t_hold tests/unit/t_json \
	tests/unit/t_log tests/unit/t_machines tests/unit/t_nar \
	tests/unit/t_nar_dump tests/unit/t_nixver tests/unit/t_path \
	tests/unit/t_serve tests/unit/t_spawn tests/unit/t_text \
	tests/unit/t_uri tests/unit/t_wire
UNITOBJ = tests/unit/harness.o tests/unit/bytes.o tests/unit/golden.o
UNITH = tests/unit/harness.h tests/unit/bytes.h tests/unit/golden.h

all: nix-offload

.c.o:
	$(CC) $(NOCFLAGS) $(CFLAGS) -c $< -o $@

$(OBJ) $(MAIN): src/extern.h config.mk

nix-offload: $(OBJ) $(MAIN)
	$(CC) $(LDFLAGS) -o $@ $(OBJ) $(MAIN) $(NOLDFLAGS)

tests/unit/harness.o: tests/unit/harness.c
	$(CC) $(NOCFLAGS) $(CFLAGS) -Isrc -c tests/unit/harness.c -o $@

tests/unit/bytes.o: tests/unit/bytes.c
	$(CC) $(NOCFLAGS) $(CFLAGS) -Isrc -c tests/unit/bytes.c -o $@

tests/unit/golden.o: tests/unit/golden.c
	$(CC) $(NOCFLAGS) $(CFLAGS) -Isrc -c tests/unit/golden.c -o $@

$(UNITOBJ): $(UNITH) src/extern.h config.mk

# Each program from its own source ($@.c), built by the rule below.
tests/unit/t_activity: tests/unit/t_activity.c
tests/unit/t_args: tests/unit/t_args.c
tests/unit/t_ca: tests/unit/t_ca.c
tests/unit/t_check: tests/unit/t_check.c
tests/unit/t_common: tests/unit/t_common.c
tests/unit/t_conf: tests/unit/t_conf.c
tests/unit/t_dispatch: tests/unit/t_dispatch.c
tests/unit/t_drv: tests/unit/t_drv.c
tests/unit/t_drv_limits: tests/unit/t_drv_limits.c
tests/unit/t_fail: tests/unit/t_fail.c
tests/unit/t_features: tests/unit/t_features.c
tests/unit/t_hash: tests/unit/t_hash.c
tests/unit/t_health: tests/unit/t_health.c
tests/unit/t_hold: tests/unit/t_hold.c
tests/unit/t_json: tests/unit/t_json.c
tests/unit/t_log: tests/unit/t_log.c
tests/unit/t_machines: tests/unit/t_machines.c tests/unit/nixcases.h
tests/unit/t_nar: tests/unit/t_nar.c
tests/unit/t_nar_dump: tests/unit/t_nar_dump.c
tests/unit/t_nixver: tests/unit/t_nixver.c
tests/unit/t_path: tests/unit/t_path.c
tests/unit/t_serve: tests/unit/t_serve.c
tests/unit/t_spawn: tests/unit/t_spawn.c
tests/unit/t_text: tests/unit/t_text.c
tests/unit/t_uri: tests/unit/t_uri.c
tests/unit/t_wire: tests/unit/t_wire.c

$(UNIT): $(UNITOBJ) $(UNITH) $(OBJ)
	$(CC) $(NOCFLAGS) $(CFLAGS) -Isrc -o $@ $@.c $(UNITOBJ) $(OBJ) \
	    $(LDFLAGS) $(NOLDFLAGS)

tests/silentd: tests/silentd.c
	$(CC) $(NOCFLAGS) $(CFLAGS) -o $@ tests/silentd.c

tests/liar: tests/liar.c
	$(CC) $(NOCFLAGS) $(CFLAGS) -o $@ tests/liar.c

tests/tamper: tests/tamper.c
	$(CC) $(NOCFLAGS) $(CFLAGS) -o $@ tests/tamper.c

tests/liard: tests/liard.c
	$(CC) $(NOCFLAGS) $(CFLAGS) -o $@ tests/liard.c

options:
	@echo "CC       = $(CC)"
	@echo "CFLAGS   = $(NOCFLAGS) $(CFLAGS)"
	@echo "LDFLAGS  = $(LDFLAGS) $(NOLDFLAGS)"

# Installs what the tests need (nix-bin, openssh), builds, and runs every
# unit and integration test.  Ends with "N passed, N failed".
check: testbins
	@sh scripts/deps
	@sh tests/run

# The same with two CPU hogs beside it: no test may lean on an idle
# machine.  Ends as check does.
check-busy: testbins
	@sh scripts/deps
	@sh -c 'yes >/dev/null & a=$$!; yes >/dev/null & b=$$!; \
	    trap "kill $$a $$b" EXIT INT TERM; sh tests/run'

# What tests/run runs, built.
testbins: nix-offload $(UNIT) tests/silentd tests/liar tests/tamper \
    tests/liard

# Each behaviour mutant of tests/mutants against the tests that should
# notice it (slow: not part of check).  Prints what survived.
mutate: testbins
	@sh scripts/deps
	@python3 scripts/mutate

# The main job on a built-in default: two local builders, store-info.
demo: nix-offload
	@sh scripts/deps
	@sh scripts/demo

# The man page, clean under mandoc's lint and groff's warnings.
lint:
	@mandoc -Tlint -W warning nix-offload.1
	@groff -ww -mandoc -z nix-offload.1

# Nix 2.34.8's own remote-building tests (tests/nix-functional) in the sid
# tree, then Nix 2.8.0's (tests/nix-functional-2.8) with this machine's
# Nix 2.8, with Nix's build hook and with ours (slow: not part of check).
# Ends with "N passed, N failed, N skipped".
nixtests: nix-offload
	@sh scripts/deps
	@sh scripts/nixtests

bench: nix-offload
	@sh scripts/deps
	@sh scripts/bench

# libexec/nix-offload/build-hook: Nix 2.8 runs build-hook as a single path
# with the verbosity as its only argument; the name selects hook mode.
install: nix-offload
	mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANPREFIX)/man1 \
	    $(DESTDIR)$(PREFIX)/libexec/nix-offload
	cp -f nix-offload $(DESTDIR)$(PREFIX)/bin/nix-offload
	chmod 755 $(DESTDIR)$(PREFIX)/bin/nix-offload
	ln -sf ../../bin/nix-offload \
	    $(DESTDIR)$(PREFIX)/libexec/nix-offload/build-hook
	sed "s/VERSION/$(VERSION)/g" nix-offload.1 \
	    > $(DESTDIR)$(MANPREFIX)/man1/nix-offload.1
	chmod 644 $(DESTDIR)$(MANPREFIX)/man1/nix-offload.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/nix-offload \
	    $(DESTDIR)$(PREFIX)/libexec/nix-offload/build-hook \
	    $(DESTDIR)$(MANPREFIX)/man1/nix-offload.1
	-rmdir $(DESTDIR)$(PREFIX)/libexec/nix-offload

clean:
	rm -f nix-offload $(OBJ) $(MAIN) $(UNIT) $(UNITOBJ) tests/silentd \
	    tests/liar tests/tamper tests/liard

dist: clean
	mkdir -p nix-offload-$(VERSION)
	cp -R Makefile config.mk README LICENSE nix-offload.1 src tests \
	    scripts nix-offload-$(VERSION)
	tar -cf - nix-offload-$(VERSION) | gzip > nix-offload-$(VERSION).tar.gz
	rm -rf nix-offload-$(VERSION)

.PHONY: all options check check-busy testbins mutate demo lint nixtests bench install uninstall \
	clean dist

# libFuzzer targets for every parser, FUZZ_SECONDS (30) each (clang).
fuzz:
	@sh scripts/fuzz

# Every test, built with AddressSanitizer and UBSan in a copy (.san).
sanitize:
	@sh scripts/sanitize

.PHONY: fuzz sanitize
