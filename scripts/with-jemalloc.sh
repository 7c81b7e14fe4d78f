#!/bin/sh
# Runs a command with jemalloc as its C allocator when the library is installed (Debian:
# libjemalloc2), by LD_PRELOAD, and as itself otherwise: `sh scripts/with-jemalloc.sh node ...`.
#
# Why: it was taken against the pinned uWebSockets.js build's read of freed memory after an
# asynchronous upgrade, which it turned from a dropped socket into a possible crash; the gateways
# now avoid that read under any allocator (docs/streams.md, "Sockets dropped right after an
# asynchronous upgrade"). It stays because every benchmark since 7 December 2026 ran under it.
# npm start, the benchmarks and the test suite run through this script; the image sets LD_PRELOAD
# itself (Dockerfile).
for lib in /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/aarch64-linux-gnu/libjemalloc.so.2 \
  /usr/lib64/libjemalloc.so.2 /usr/lib/libjemalloc.so.2 /usr/local/lib/libjemalloc.so.2; do
  if [ -e "$lib" ]; then
    case ":${LD_PRELOAD:-}:" in
      *libjemalloc*) ;;
      *) LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD:}$lib"; export LD_PRELOAD ;;
    esac
    break
  fi
done
exec "$@"
