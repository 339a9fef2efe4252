#!/usr/bin/env bash
# Installs what swift-dedup needs on Debian/Ubuntu, only if it is missing; silent when all is there.
# - system packages: LMDB and librdkafka headers (pkg-config 'lmdb', 'rdkafka'), pkg-config;
# - noida-db (PyPI), the Kafka-compatible broker the Kafka tests start, in a virtual environment
#   at ${XDG_DATA_HOME:-~/.local/share}/swift-dedup/noida-db unless `noida-db` is already on PATH
#   (Tests/StreamsTestSupport/KafkaBroker.swift looks in both places, and at $NOIDA_DB).
# Uses sudo only when not root.
set -euo pipefail

noida_venv="${XDG_DATA_HOME:-$HOME/.local/share}/swift-dedup/noida-db"
need_noida=false
if [ -z "${NOIDA_DB:-}" ] && ! command -v noida-db >/dev/null 2>&1 && [ ! -x "$noida_venv/bin/noida-db" ]; then
    need_noida=true
fi

packages=(liblmdb-dev librdkafka-dev pkg-config)
# The virtual environment needs python3 with venv and ensurepip (Debian splits them out).
if $need_noida && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    packages+=(python3 python3-venv)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-deps: missing ${missing[*]}; install LMDB's and librdkafka's headers and pkg-config files (pkg-config 'lmdb', 'rdkafka') and python3 with venv with your package manager" >&2
        exit 1
    fi
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    echo "install-deps: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if $need_noida; then
    echo "install-deps: installing noida-db (pip) into $noida_venv" >&2
    python3 -m venv "$noida_venv"
    "$noida_venv/bin/pip" install -q --disable-pip-version-check noida-db
fi
