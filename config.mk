# nix-offload version and build settings.  Edit, or override on the command
# line: make PREFIX=/usr CC=clang

VERSION = 0.1

PREFIX = /usr/local
MANPREFIX = $(PREFIX)/share/man

CC = cc

# libbsd (optional): strlcpy, strlcat and reallocarray from libbsd instead
# of our own copies in src/compat.c.  Uncomment both lines to use it.
#BSDCFLAGS = -DHAVE_LIBBSD `pkg-config --cflags libbsd-overlay`
#BSDLIBS = `pkg-config --libs libbsd-overlay`

# Warnings are errors in CI (make WERROR=-Werror), not in a user's build:
# a newer compiler's new warning must not stop `make`.
WERROR =

NOCFLAGS = -std=c99 -D_XOPEN_SOURCE=700 -Wall -Wextra $(WERROR) \
	$(BSDCFLAGS)
NOLDFLAGS = $(BSDLIBS)

CFLAGS = -O2 -g
LDFLAGS =
