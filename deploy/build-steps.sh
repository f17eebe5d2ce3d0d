#!/usr/bin/env bash
# The container image's build steps as a plain script: deploy/Dockerfile runs `build` and
# `stage` in its builder stage, and the end-to-end tests run `stage` and `smoke` on this
# machine (where Docker cannot run) against the binary cargo built for them.
#
#   deploy/build-steps.sh build          cargo build --release --locked -p plugboard
#   deploy/build-steps.sh stage ROOTFS   lay out the runtime image's files under ROOTFS
#   deploy/build-steps.sh smoke ROOTFS   run ROOTFS's binary as the image would and check it
#   deploy/build-steps.sh all ROOTFS     the three in order
#
# Environment:
#   PROFILE           cargo profile to build and take the binary from (default: release)
#   BIN               take this binary instead of target/$PROFILE/plugboard (the tests pass
#                     the one cargo already built, so CI does not spend minutes on a
#                     release build)
#   CARGO_TARGET_DIR  where cargo builds (default: ./target)
#   APP_UID, APP_GID  the image's non-root user (default: 65532, distroless's "nonroot")
#   STRIP             1: strip the staged binary (the Dockerfile sets it)
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE="${PROFILE:-release}"
APP_UID="${APP_UID:-65532}"
APP_GID="${APP_GID:-65532}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
# cargo calls the dev profile's directory "debug".
profile_dir="$PROFILE"
[ "$PROFILE" = dev ] && profile_dir=debug
BIN="${BIN:-$target_dir/$profile_dir/plugboard}"

say() { echo "build-steps: $*"; }
fail() { echo "build-steps: FAILED: $*" >&2; exit 1; }

build() {
  local profile=(--profile "$PROFILE")
  [ "$PROFILE" = release ] && profile=(--release)
  say "cargo build ${profile[*]} --locked -p plugboard"
  # --locked refuses to build if Cargo.lock is stale instead of rewriting it.
  cargo build "${profile[@]}" --locked -p plugboard
}

# The runtime image's files, relative to its root: the binary, and /data owned by the
# non-root user (the embedded store's directory; unused with MongoDB, where the container
# can run with a read-only root filesystem and no volume).
stage() {
  local root="${1:?stage ROOTFS}"
  [ -x "$BIN" ] || fail "no binary at $BIN (run the build step, or set BIN)"
  mkdir -p "$root/usr/local/bin" "$root/data"
  chmod 0755 "$root" "$root/usr" "$root/usr/local" "$root/usr/local/bin"
  local dest="$root/usr/local/bin/plugboard"
  rm -f "$dest"
  if [ "${STRIP:-0}" = 1 ]; then
    strip -o "$dest" "$BIN"
  else
    # A hard link where possible: the debug binary the tests use is half a gigabyte.
    ln "$BIN" "$dest" 2>/dev/null || cp "$BIN" "$dest"
  fi
  chmod 0755 "$dest"
  chmod 0700 "$root/data"
  if [ "$(id -u)" = 0 ]; then
    chown "$APP_UID:$APP_GID" "$root/data"
  fi
  say "staged $(du -h "$dest" | cut -f1) binary and /data (uid $APP_UID) under $root"
}

# Runs the staged binary the way the image does: `--version`, `serve --help`, then
# `serve` with the image's settings (data in ROOTFS/data, as the image's user when this
# runs as root), the image's HEALTHCHECK command against it, and a SIGTERM that must end
# it with status 0.
smoke() {
  local root="${1:?smoke ROOTFS}"
  local bin="$root/usr/local/bin/plugboard"
  local as_user=()
  if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    as_user=(setpriv "--reuid=$APP_UID" "--regid=$APP_GID" --clear-groups)
  else
    say "not root (or no setpriv): running as $(id -un) instead of uid $APP_UID"
  fi
  "$bin" --version | grep -q '^plugboard ' || fail "--version"
  "$bin" serve --help | grep -q -- '--listen' || fail "serve --help"
  "$bin" healthcheck --help | grep -q -- '--ready' || fail "healthcheck --help"

  local out pid url listen
  out="$(mktemp)"
  # Only the image's environment: a clean one with its PLUGBOARD_* defaults, except a
  # loopback address on a free port instead of 0.0.0.0:8080.
  local image_env=(PATH=/usr/local/bin:/usr/bin:/bin PLUGBOARD_DATA_DIR="$root/data"
    PLUGBOARD_LOG_FORMAT=json PLUGBOARD_SANDBOX=false)
  env -i "${image_env[@]}" PLUGBOARD_LISTEN=127.0.0.1:0 "${as_user[@]}" "$bin" serve \
    >"$out" 2>"$out.err" &
  pid=$!
  for _ in $(seq 1 600); do
    url="$(sed -n 's/^Plugboard is running at \(http[^ ]*\)$/\1/p' "$out" | head -n1)"
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$out.err" >&2; fail "serve exited early"; }
    sleep 0.1
  done
  [ -n "$url" ] || { kill "$pid"; fail "no 'Plugboard is running at' line within a minute"; }
  listen="${url#http://}"
  listen="${listen%/}"
  say "serving at $url"
  # The image's HEALTHCHECK: `plugboard healthcheck`, finding the server through
  # PLUGBOARD_LISTEN like it does in the container.
  env -i "${image_env[@]}" PLUGBOARD_LISTEN="$listen" "$bin" healthcheck \
    || { kill "$pid"; fail "healthcheck"; }
  env -i "${image_env[@]}" PLUGBOARD_LISTEN="$listen" "$bin" healthcheck --ready \
    || { kill "$pid"; fail "healthcheck --ready"; }
  for f in plugboard.db encryption.key; do
    [ -f "$root/data/$f" ] || { kill "$pid"; fail "the server did not write /data/$f"; }
  done
  if [ "${#as_user[@]}" -gt 0 ]; then
    [ "$(stat -c %u "$root/data/plugboard.db")" = "$APP_UID" ] \
      || { kill "$pid"; fail "/data/plugboard.db is not owned by uid $APP_UID"; }
  fi
  kill -TERM "$pid"
  local status=0
  wait "$pid" || status=$?
  [ "$status" = 0 ] || { cat "$out.err" >&2; fail "serve exited $status after SIGTERM"; }
  rm -f "$out" "$out.err"
  say "smoke test passed (healthcheck, readiness, /data writable as uid $APP_UID, SIGTERM exits 0)"
}

case "${1:-}" in
  build) build ;;
  stage) stage "${2:-}" ;;
  smoke) smoke "${2:-}" ;;
  all) build && stage "${2:-}" && smoke "${2:-}" ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
