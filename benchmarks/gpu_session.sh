#!/usr/bin/env bash
# What one lease of a GPU machine runs (the `device` tool, 15 minutes of device time in all): the project's
# own profiler on CUDA at batch 1, 8 and 32, then whole networks four ways (benchmarks/measure_gpu.py).
# Run from the repository root with the wheels of the packages that machine lacks in .whl/ (pydantic and its
# needs) and OUT set to the folder whose files come back. Each phase has a time limit, so the run ends inside
# the lease and keeps what it measured.
set -u
start=$SECONDS
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  || exit 1
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv >"$OUT/nvidia-smi.txt"
echo "== smoke: a tiny grid on CUDA"
timeout 60 python3 -c "
from costmodel.latency.profiler import profile_device
p = profile_device('smoke', device='cuda', quick=True, scale=0.03, progress=False)
print(len(p.measurements), 'micro-benchmarks; host model', p.host is not None, '; fit median', round(p.fit.median_ape, 1))
" || echo "SMOKE FAILED"
echo "== profile at $((SECONDS - start)) s"
timeout "${PROFILE_LIMIT_S:-330}" python3 -m costmodel profile --device cuda --batch 1 8 32 --out "$OUT/h200run.json" \
  2>"$OUT/profile_progress.txt" || echo "PROFILE STOPPED: $?"
echo "== networks at $((SECONDS - start)) s"
python3 benchmarks/measure_gpu.py --out "$OUT" --stop-after $(( ${TOTAL_LIMIT_S:-520} - (SECONDS - start) )) 2>&1 \
  | grep -v Warning
echo "== done at $((SECONDS - start)) s"
nvidia-smi --query-gpu=clocks.sm,temperature.gpu --format=csv,noheader >>"$OUT/nvidia-smi.txt"
