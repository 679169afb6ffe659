#!/usr/bin/env bash
# The GPU check: one script, at most about 8 minutes on one GPU, that writes one JSON (default gpu_check.json).
#
#   1. the suite's GPU-relevant tests (training loop, mixed precision, both model families) on the GPU;
#   2. bf16 SmolLM2 fine-tuning throughput and MFU against the GPU's own bf16 matmul peak (goal >= 40%);
#   3. the hf_rnn BiLSTM against the same network in bare PyTorch on cuDNN (goal >= 0.95x);
#   4. the quick sentiment comparison, timed.
#
#   bash benchmarks/gpu_check.sh [OUT.json]          # on a machine with a CUDA GPU
#   DRY_RUN=1 bash benchmarks/gpu_check.sh out.json  # the same steps, tiny, on the CPU (what the suite checks)
#
# Each step's output goes to the console; the JSON gathers the numbers. A failing step is recorded, not fatal.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-gpu_check.json}"
PY="${PYTHON:-.venv/bin/python}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

if [ "${DRY_RUN:-0}" = 1 ]; then
  DEVICE=cpu
  TESTS=(tests/test_rnn_models.py -k "round_trip")
  MFU=(--device cpu --dtypes fp32 --batch-size 2 --seq-len 16 --steps 1 --warmup 0 --matmul-size 256)
  RNN=(--device cpu --steps 2 --warmup 1 --batch-size 4 --seq-len 16 --vocab-size 500)
  COMPARE=(--models bilstm "training.max_steps=2" "task.max_train_examples=32" "task.max_validation_examples=8"
           "task.max_test_examples=8" --no-zero-shot)
else
  DEVICE=cuda
  TESTS=(tests/test_training.py tests/test_llm.py tests/test_rnn_models.py tests/test_rnn_generation.py)
  MFU=(--device cuda --dtypes bf16 --batch-size 16 --seq-len 1024 --steps 5 --warmup 2 --matmul-size 8192)
  RNN=(--device cuda --steps 40 --warmup 5 --batch-size 64 --seq-len 128)
  COMPARE=()
fi

status() { [ "$1" = 0 ] && echo ok || echo "failed (exit $1)"; }

echo "== 1. tests on $DEVICE"
start=$(date +%s)
"$PY" -m pytest -q -p no:cacheprovider "${TESTS[@]}" 2>&1 | tee "$WORK/tests.log" | tail -3
tests_rc=${PIPESTATUS[0]}
tests_s=$(( $(date +%s) - start ))

echo "== 2. SmolLM2 fine-tuning MFU ($DEVICE)"
"$PY" benchmarks/llm_mfu.py "${MFU[@]}" --json "$WORK/mfu.json"
mfu_rc=$?

echo "== 3. BiLSTM: hf_rnn vs bare PyTorch ($DEVICE)"
"$PY" benchmarks/rnn_throughput.py "${RNN[@]}" --json "$WORK/rnn.json"
rnn_rc=$?

echo "== 4. quick sentiment comparison"
start=$(date +%s)
"$PY" -m hf_rnn.cli compare --task sentiment --profile quick --output-dir "$WORK/compare" "${COMPARE[@]}" \
  | tail -8
compare_rc=${PIPESTATUS[0]}
compare_s=$(( $(date +%s) - start ))

"$PY" - "$WORK" "$OUT" "$DEVICE" <<EOF
import json, pathlib, sys
work, out, device = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
def read(name):
    p = work / name
    return json.loads(p.read_text()) if p.exists() else None
doc = {
    "device": device, "dry_run": "${DRY_RUN:-0}" == "1",
    "tests": {"status": "$(status $tests_rc)", "seconds": $tests_s,
              "summary": (work / "tests.log").read_text().strip().splitlines()[-1:]},
    "llm_mfu": {"status": "$(status $mfu_rc)", **(read("mfu.json") or {})},
    "rnn_vs_bare": {"status": "$(status $rnn_rc)", **(read("rnn.json") or {})},
    "compare_sentiment_quick": {"status": "$(status $compare_rc)", "seconds": $compare_s,
                                "results": read("compare/results.json")},
}
pathlib.Path(out).write_text(json.dumps(doc, indent=1))
print(f"wrote {out}")
EOF
[ "$tests_rc$mfu_rc$rnn_rc$compare_rc" = 0000 ]
