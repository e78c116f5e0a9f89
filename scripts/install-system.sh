#!/usr/bin/env bash
# Installs the Debian packages vaekit needs (skips those already there):
#   g++ make python3            build the native addon (node-gyp)
#   libopenblas-dev libdnnl-dev the native backend's BLAS and convolution libraries
#   dataset-fashion-mnist       the default benchmark data set (/usr/share/datasets/fashion-mnist)
#   wamerican                   /usr/share/dict/words, the sequence VAE's word list
#   chromium                    the browser the explorer's tests drive through playwright-core
#   python3-torch python3-pil   the interop tests: safetensors into torch.nn, PNG/GIF read back with Pillow
# With --bench it also installs the baseline codecs of the compression bench (webp, libjxl-tools, optipng,
# libjpeg-turbo-progs, zopfli).
set -euo pipefail
pkgs=(g++ make python3 libopenblas-dev libdnnl-dev dataset-fashion-mnist wamerican chromium python3-torch python3-pil)
[[ "${1:-}" == "--bench" ]] && pkgs+=(webp libjxl-tools optipng libjpeg-turbo-progs zopfli)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "vaekit: system packages present (${pkgs[*]})"
  exit 0
fi
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
echo "vaekit: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
