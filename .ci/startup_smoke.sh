#!/usr/bin/env bash
# Start-up of the plugin under one Python: pytest --help lists the options, a bad ini value and a
# misspelled ini key are usage errors (exit 4) naming the option, and with --clipshift off a
# clipshift test is skipped. Needs only pytest, numpy, jsonschema and the plugin: start-up imports no torch.
# Usage: .ci/startup_smoke.sh PYTHON WORKDIR
set -euo pipefail
PYTHON=$1
DIR=$2
mkdir -p "$DIR"
cd "$DIR"
version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

expect_usage_error() {  # $1: what stderr must contain
  set +e
  "$PYTHON" -m pytest -p no:cacheprovider -q >out.txt 2>err.txt
  code=$?
  set -e
  if [ "$code" != 4 ] || ! grep -qF "$1" err.txt; then
    echo "startup smoke ($version): expected exit 4 naming '$1', got exit $code:"; cat out.txt err.txt
    exit 1
  fi
}

"$PYTHON" -m pytest --help >help.txt  # to a file: grep -q closing the pipe early would fail pipefail
grep -q -- "--clipshift-model" help.txt || { echo "startup smoke ($version): no --clipshift-model in pytest --help"; exit 1; }

printf '[pytest]\nclipshift = maybe\n' >pytest.ini
expect_usage_error "ini option clipshift = 'maybe'"
printf '[pytest]\nclipshift_modle = ./candidate\n' >pytest.ini
expect_usage_error "did you mean clipshift_model?"

printf '[pytest]\n' >pytest.ini
printf 'def test_gate(clipshift):\n    pass\n' >test_gate.py
"$PYTHON" -m pytest -p no:cacheprovider -q -rs >out.txt 2>&1 || { cat out.txt; exit 1; }
grep -q "1 skipped" out.txt || { echo "startup smoke ($version): the clipshift test was not skipped"; cat out.txt; exit 1; }
echo "startup smoke ($version): pytest --help, two usage errors, a skipped clipshift test: ok"
