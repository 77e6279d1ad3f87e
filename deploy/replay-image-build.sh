#!/usr/bin/env bash
# Replays deploy/Dockerfile's steps without a Docker engine, for hosts (and CI boxes) that have none:
# a clean venv, CPU torch first, a NON-editable install of the sources the image copies (which is what proves
# the package data ships), then, as an unprivileged user, the image's build step and a question.
#
#   bash deploy/replay-image-build.sh [WORKDIR]
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d /tmp/studybot-image.XXXXXX)}"
mkdir -p "$work/app" "$work/data" "$work/var"
echo "replaying deploy/Dockerfile in $work"
cp -r "$src/pyproject.toml" "$src/README.md" "$src/bot" "$src/index" "$src/knowledge" "$work/app/"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check torch==2.13.0
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "$work/app"
rm -rf "$work/app/bot" "$work/app/index"  # the image runs the installed package, not the copied sources

run_as() {
  # As an unprivileged user, like the image, when this host's Python is usable by one (a Python installed
  # under /root is not); otherwise as the current user.
  if [ "$(id -u)" = 0 ] && runuser -u nobody -- "$work/venv/bin/python" -c pass 2>/dev/null; then
    chown -R nobody "$work/data" "$work/var"
    runuser -u nobody -- "$@"
  else
    "$@"
  fi
}
cd "$work/app"
export HF_HUB_OFFLINE=1 STUDYBOT_KNOWLEDGE_DIR="$work/app/knowledge" STUDYBOT_INDEX_PATH="$work/var/index" \
  STUDYBOT_DATA_DIR="$work/data"
run_as "$work/venv/bin/studybot" kb validate
run_as "$work/venv/bin/studybot" index build
run_as "$work/venv/bin/studybot" db upgrade
run_as "$work/venv/bin/studybot" ask "What is overfitting?"
echo "image steps replayed OK in $work"
