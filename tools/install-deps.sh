#!/bin/sh
# Installs what building and testing libkhang needs, from Debian's packages.
# Runs apt-get directly as root, through sudo otherwise.
set -e
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake pkg-config clang libclang-rt-14-dev \
  libcmocka-dev libjson-c-dev liblzma-dev python3 doxygen abigail-tools >/dev/null
echo "libkhang build dependencies installed"
