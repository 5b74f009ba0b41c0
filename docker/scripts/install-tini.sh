#!/bin/sh
# tini, the images' entrypoint (it reaps zombies and forwards signals, so Ctrl-C
# stops a session's whole process tree): install-tini.sh FILE, where FILE is the
# static tini that `nox -s images` took out of the pinned, verified Debian package.
set -eu
src=${1:?usage: install-tini.sh TINI_STATIC}
install -m 0755 "$src" /usr/local/bin/tini
/usr/local/bin/tini --version
