#!/usr/bin/env bash
# The accelerator suite in one call, within about 8 minutes on a fresh GPU machine:
#   bash benchmarks/gpu_suite.sh OUT_DIR                      # on the accelerator (device cuda)
#   bash benchmarks/gpu_suite.sh OUT_DIR --device cpu --tiny  # the CPU smoke run (under a minute)
# Each part of benchmarks/gpu_suite.py runs with its own time limit: one that fails or overruns is
# recorded in OUT_DIR/status.json and the others still run; the script always exits 0 with what it has.
# Install: wheels carried in .whl/ (a machine with no network) are installed into /tmp/site; otherwise
# the environment's own packages are used (a CUDA torch build is fine there).
set -uo pipefail
OUT=${1:?usage: gpu_suite.sh OUT_DIR [--device DEVICE] [--tiny]}
shift
DEVICE=cuda
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE=$2; shift 2 ;;
    --tiny) EXTRA+=(--tiny); shift ;;
    *) echo "gpu_suite.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
mkdir -p "$OUT"
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
python3 - "$OUT" <<'PY' || true
import json, sys
try:
    import torch
    info = {"torch": torch.__version__, "cuda": torch.cuda.is_available(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
except Exception as exc:  # noqa: BLE001 - recorded, the parts say the rest
    info = {"error": repr(exc)}
open(f"{sys.argv[1]}/environment.json", "w").write(json.dumps(info))
PY
# part:seconds, about 8 minutes in all on the accelerator
PARTS="check:60 engine:200 augment:40 ceiling:40 w4lite:90 profile:40"
status="{"
for entry in $PARTS; do
  part=${entry%%:*}
  limit=${entry##*:}
  start=$SECONDS
  timeout "$limit" python3 benchmarks/gpu_suite.py "$part" --out "$OUT" --device "$DEVICE" "${EXTRA[@]}" \
    > "$OUT/$part.log" 2>&1
  code=$?
  echo "gpu_suite: $part exit $code in $((SECONDS - start)) s (limit $limit s)"
  status="$status\"$part\": {\"exit\": $code, \"seconds\": $((SECONDS - start)), \"limit\": $limit},"
done
echo "${status%,}}" > "$OUT/status.json"
exit 0
