#!/usr/bin/env bash
# Installs what sp needs on Debian 12 (bookworm) and builds it into build/.
#   scripts/setup.sh            # as root, or with sudo available
# Environment: SP_BUILD_DIR (default build), SP_JOBS (default 2),
#              SP_SKIP_APT=1 to skip the package install.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${SP_BUILD_DIR:-build}
JOBS=${SP_JOBS:-2}

PACKAGES=(
  # LLVM/MLIR 22.1 (libMLIR.so, mlir-tblgen, mlir-pdll, mlir-opt, lit, FileCheck)
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools
  # build tools and test frameworks
  cmake ninja-build g++ python3 python3-venv python3-pip libgtest-dev
  # CPU collectives
  libopenmpi-dev openmpi-bin
)

if [[ "${SP_SKIP_APT:-0}" != 1 ]]; then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then SUDO=sudo; else
      echo "setup.sh: run as root (or install sudo) to install packages" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${PACKAGES[@]}"
fi

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit \
  -DPython3_EXECUTABLE="$(command -v python3)"
cmake --build "$BUILD_DIR" -j "$JOBS"

# The Python package (model generator, tool drivers, numpy references) and
# what its tests and benchmarks use, from PyPI, in a virtual environment.
if [[ ! -x "$BUILD_DIR/venv/bin/python" ]]; then
  python3 -m venv "$BUILD_DIR/venv"
fi
"$BUILD_DIR/venv/bin/pip" install --quiet --upgrade pip
"$BUILD_DIR/venv/bin/pip" install --quiet -e "python[test,bench]"
echo "setup.sh: built sp in $BUILD_DIR (Python tools in $BUILD_DIR/venv)"
