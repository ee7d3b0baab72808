#!/bin/sh
# Install or upgrade roomctl on a fresh Raspberry Pi OS Bookworm (64-bit), from this checkout:
#
#   git clone <roomctl repository> roomctl && sudo roomctl/systemd/install.sh
#
# It only bootstraps: python3-venv, then a temporary venv with roomctl from this checkout, which runs
# `roomctl install --source <checkout>` (see roomctl/ops/install.py). Extra arguments are passed on,
# e.g. `--dry-run` to print every step first, or `--no-start`.
set -eu

checkout=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run it as root: sudo $0 $*" >&2
    exit 1
fi
if [ ! -f "$checkout/pyproject.toml" ]; then
    echo "install.sh: $checkout is not a roomctl checkout" >&2
    exit 1
fi

if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    apt-get update
    apt-get install -y --no-install-recommends python3-venv
fi

bootstrap=$(mktemp -d /var/tmp/roomctl-bootstrap.XXXXXX)
trap 'rm -rf "$bootstrap"' EXIT
python3 -m venv "$bootstrap/venv"
# Only what `roomctl install` itself needs; the real environment is built by the installer.
"$bootstrap/venv/bin/pip" install --quiet --no-deps "$checkout"
"$bootstrap/venv/bin/pip" install --quiet click pydantic pydantic-settings
cd /
"$bootstrap/venv/bin/python" -m roomctl.ops install --source "$checkout" "$@"
