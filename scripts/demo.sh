#!/usr/bin/env bash
# The main job on the embedded default. Until the `dedup` CLI exists this walks through the LMDB
# window store: deduplicate 200,000 events, reopen, rebuild from the changelog.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p demo-output
swift run -c release StoreDemo demo-output/store
