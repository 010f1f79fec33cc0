#!/usr/bin/env bash
# Installs the third-party peers the conformance tests drive (none of them is our code):
#   Debian: python3-h2 (a strict HTTP/2 server), nghttp2-client (nghttp), curl, redis-server and redis-cli
#           (a client-speaks-first TCP protocol), python3-aiosmtpd (a server-speaks-first one), socat (a client
#           that half-closes, and a server that answers at the end of its input), openssl,
#           python3-websockets (a WebSocket client and server), iptables and nftables (trellis
#           init-iptables installs the redirect with either, in network namespaces the tests make)
#   npm:    @grpc/grpc-js and @grpc/proto-loader (a Node gRPC server and client), into e2e/peers/grpc/node_modules
# Run as root on a fresh machine before `mvn -B verify`; .ci/run does. Idempotent: skips what is there.
set -euo pipefail
cd "$(dirname "$0")"
need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v nghttp >/dev/null 2>&1 || need+=(nghttp2-client)
/usr/bin/python3 -c 'import h2' 2>/dev/null || need+=(python3-h2)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v socat >/dev/null 2>&1 || need+=(socat)
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || need+=(python3-aiosmtpd)
/usr/bin/python3 -c 'import websockets' 2>/dev/null || need+=(python3-websockets)
command -v iptables-restore >/dev/null 2>&1 || [ -x /usr/sbin/iptables-restore ] || need+=(iptables)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || need+=(nftables)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -d grpc/node_modules/@grpc/grpc-js ] || [ ! -d grpc/node_modules/@grpc/proto-loader ]; then
  # Exact versions come from package.json; no lock file is kept.
  npm install --prefix grpc --no-package-lock --no-audit --no-fund --loglevel=error >/dev/null
fi
echo "peers: curl $(curl --version | head -1 | cut -d' ' -f2), nghttp $(nghttp --version | cut -d' ' -f2)," \
     "python3-h2 $(/usr/bin/python3 -c 'import h2; print(h2.__version__)'), $(redis-server --version | cut -d' ' -f1-3)," \
     "aiosmtpd $(/usr/bin/python3 -c 'import aiosmtpd; print(aiosmtpd.__version__)')," \
     "websockets $(/usr/bin/python3 -c 'import websockets; print(websockets.__version__)'), $(socat -V | grep -m1 'socat version' | cut -d' ' -f2-3)," \
     "$(PATH=$PATH:/usr/sbin iptables --version)," \
     "grpc-js $(node -p "require('./grpc/node_modules/@grpc/grpc-js/package.json').version")"
