#!/bin/sh
# Runs a command with jemalloc as its C allocator when the library is installed (Debian:
# libjemalloc2), by LD_PRELOAD, and as itself otherwise: `sh scripts/with-jemalloc.sh node ...`.
#
# Why: the pinned uWebSockets.js build reads freed memory in `res.cork` after an upgrade made
# inside it, and closes the new socket with 1006 when that memory has been reused (docs/streams.md,
# "Sockets dropped right after an asynchronous upgrade"). Under glibc the move of the socket to the
# WebSocket context shrinks its block in place, so the socket keeps its address and uWS takes it for
# the old HTTP response; jemalloc moves a block that changes size class, so the address changes and
# uWS does not read the old state at all. npm start, the benchmarks and the test suite run through
# this script; the image sets LD_PRELOAD itself (Dockerfile).
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
