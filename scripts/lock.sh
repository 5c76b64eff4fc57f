#!/usr/bin/env bash
# Refresh the locks the Makefile and CI install from (run: make lock).
#
#   requirements/lock-dev.txt   pyproject (all deps + refineanything + dev extras),
#                               requirements/dev.in; what `make test` and CI install
#   requirements/lock-base.txt  pyproject's plain deps at the SAME versions as lock-dev;
#                               what `make demo` installs (no torch)
#
# Both carry sha256 hashes and are installed with --require-hashes --no-deps, so a fresh
# clone gets exactly the tested versions whatever appears upstream. pyproject.toml keeps
# the compatible ranges for people who install posterqa as a library. After refreshing,
# run `make test` before committing the new locks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
TOOLS=${LOCK_TOOLS:-.lock-tools}
if [ ! -x "$TOOLS/bin/pip-compile" ]; then
  "$PY" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install -q 'pip-tools==7.7.0'
fi
export CUSTOM_COMPILE_COMMAND="make lock"
compile() {
  "$TOOLS/bin/pip-compile" -q --generate-hashes --allow-unsafe --strip-extras \
    --no-emit-index-url --no-emit-find-links "$@"
}
compile --upgrade --extra refineanything --extra dev -o requirements/lock-dev.txt \
  pyproject.toml requirements/dev.in
# the base lock is resolved under the dev lock's pins, so shared packages agree
pins=requirements/.dev-pins.txt
trap 'rm -f "$pins" requirements/.base.in' EXIT
sed -n 's/^\([A-Za-z0-9_.-]*==[^ ]*\).*/\1/p' requirements/lock-dev.txt > "$pins"
printf -- '-c .dev-pins.txt\n-r build.in\n' > requirements/.base.in
compile --upgrade -o requirements/lock-base.txt pyproject.toml requirements/.base.in
sed -i -e 's#-c requirements/.dev-pins.txt#pinned by requirements/lock-dev.txt#' \
  -e 's#-r requirements/.base.in#requirements/build.in#' requirements/lock-base.txt
echo "locks written: requirements/lock-dev.txt, requirements/lock-base.txt"
