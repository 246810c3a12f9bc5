#!/usr/bin/env bash
# One command for a demo: builds and starts veriframe and the reference integrator, wires the
# integrator to veriframe's demo tenant, and stops both on Ctrl-C.
#
#   examples/integrator/demo.sh            # then open http://127.0.0.1:3000
#
# Environment (all optional):
#   DEMO_DATA_DIR           veriframe's data dir           [<repo>/veriframe-data]
#   DEMO_VERIFRAME_LISTEN   veriframe's address            [127.0.0.1:8080]
#   DEMO_INTEGRATOR_LISTEN  the integrator's address       [127.0.0.1:3000]
#   DEMO_PROFILE            cargo profile: release or dev  [release]
#
# Credentials: on veriframe's very first start, `veriframe --json serve` prints the demo tenant
# (clientId, API key, configurationId) once; the script keeps the key and flow id in
# <data dir>/integrator-demo/credentials.env (mode 600) for later runs. If the data dir was
# created without this script, it makes a new key with `veriframe keys create --json` and
# reads the flow id from `veriframe flows list --json`, both on the database directly.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

data_dir="${DEMO_DATA_DIR:-$root/veriframe-data}"
veriframe_listen="${DEMO_VERIFRAME_LISTEN:-127.0.0.1:8080}"
integrator_listen="${DEMO_INTEGRATOR_LISTEN:-127.0.0.1:3000}"
profile="${DEMO_PROFILE:-release}"
demo_dir="$data_dir/integrator-demo"
credentials="$demo_dir/credentials.env"

say() { printf '[demo] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

case "$profile" in
  release) cargo_profile=(--release); target_subdir=release ;;
  dev) cargo_profile=(); target_subdir=debug ;;
  *) die "DEMO_PROFILE must be release or dev, not '$profile'" ;;
esac

say "building veriframe and the integrator ($profile)"
cargo build --locked "${cargo_profile[@]}" -p veriframe -p veriframe-integrator
target_dir="${CARGO_TARGET_DIR:-$root/target}"
veriframe_bin="$target_dir/$target_subdir/veriframe"
integrator_bin="$target_dir/$target_subdir/veriframe-integrator"
[ -x "$veriframe_bin" ] && [ -x "$integrator_bin" ] || die "built binaries not found in $target_dir/$target_subdir"

mkdir -p "$demo_dir"
chmod 700 "$demo_dir"

pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The first string value of a field in compact or pretty JSON, without needing jq (the values read
# here never contain quotes or escapes).
json_field() { sed -n "/\"$1\"[[:space:]]*:[[:space:]]*\"/{s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p;q;}"; }

# veriframe's stdout: on a first start it carries the demo API key, so it is private and emptied
# once read.
banner="$demo_dir/veriframe.out"
(umask 077; : >"$banner")
say "starting veriframe on $veriframe_listen (data dir $data_dir; a first start also fetches the models, which takes a while)"
"$veriframe_bin" --data-dir "$data_dir" --json serve --listen "$veriframe_listen" >"$banner" 2>"$demo_dir/veriframe.log" &
pids+=($!)
veriframe_pid=$!

# The banner is printed once the server is bound and the models are loaded.
until grep -q '"baseUrl"' "$banner"; do
  kill -0 "$veriframe_pid" 2>/dev/null || die "veriframe exited; see $demo_dir/veriframe.log"
  sleep 0.5
done
base_url="$(json_field baseUrl <"$banner")"

api_key="$(json_field apiKey <"$banner")"
flow_id="$(json_field configurationId <"$banner")"
: >"$banner"
if [ -n "$api_key" ] && [ -n "$flow_id" ]; then
  say "first start: using the demo tenant's API key and flow"
  (umask 077; printf 'INTEGRATOR_API_KEY=%s\nINTEGRATOR_FLOW_ID=%s\n' "$api_key" "$flow_id" >"$credentials")
elif [ -s "$credentials" ]; then
  api_key="$(sed -n 's/^INTEGRATOR_API_KEY=//p' "$credentials")"
  flow_id="$(sed -n 's/^INTEGRATOR_FLOW_ID=//p' "$credentials")"
else
  say "no saved credentials: creating an API key for the integrator on the demo tenant"
  api_key="$("$veriframe_bin" --data-dir "$data_dir" --json keys create --client-id demo --label integrator-demo | json_field apiKey)"
  flow_id="$("$veriframe_bin" --data-dir "$data_dir" --json flows list --client-id demo | json_field configurationId)"
  [ -n "$api_key" ] && [ -n "$flow_id" ] || die "could not provision the demo tenant's key and flow"
  (umask 077; printf 'INTEGRATOR_API_KEY=%s\nINTEGRATOR_FLOW_ID=%s\n' "$api_key" "$flow_id" >"$credentials")
fi

say "starting the integrator on $integrator_listen"
INTEGRATOR_API_KEY="$api_key" "$integrator_bin" \
  --api-url "$base_url" \
  --flow-id "$flow_id" \
  --listen "$integrator_listen" \
  --database "$demo_dir/integrator.db" &
pids+=($!)
integrator_pid=$!

cat >&2 <<EOF

  veriframe:   $base_url          (log: $demo_dir/veriframe.log)
  integrator:  http://$integrator_listen   <- open this page and press "Verify my identity"
  database:    $demo_dir/integrator.db

  Ctrl-C stops both.

EOF

# Stop both as soon as either one exits.
while kill -0 "$veriframe_pid" 2>/dev/null && kill -0 "$integrator_pid" 2>/dev/null; do
  sleep 1
done
say "a process exited; stopping the demo"
