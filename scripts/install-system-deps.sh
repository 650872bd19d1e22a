#!/usr/bin/env bash
# Install the Debian packages the tests drive as real tools, when missing. Idempotent: apt is
# touched (update + install) only when something is missing. Needs root when it installs (CI runs
# as root; on a workstation: sudo scripts/install-system-deps.sh).
set -euo pipefail

PACKAGES=(
  cloud-init  # `cloud-init schema` validates the compose hosts' user data
  e2fsprogs   # mkfs.ext4 for the data volume script's tests (blkid and cmp are essential packages)
  redis-server  # two real LiteLLM proxies share one Redis in the rate-limit test
  postgresql  # the team plane's Langfuse SQL runs against a real server (pgcrypto is in its contrib)
  iptables  # the EC2 host's IMDS firewall runs for real in throwaway network namespaces
  iproute2  # (ip netns) for those namespaces
  busybox  # the Langfuse web image's /bin/sh (Alpine): langfuse-migrator's command runs under it
  dash  # the hosts' /bin/sh: AWS-RunShellScript runs the job command with it
  systemd  # a user manager runs the host's unit as systemd would (its restart states)
)

if ! command -v dpkg-query >/dev/null; then
  echo "install-system-deps: not a Debian/Ubuntu machine; install ${PACKAGES[*]} with its package manager" >&2
  exit 1
fi

missing=()
for package in "${PACKAGES[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: missing ${missing[*]}; run as root: sudo $0" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
