#!/usr/bin/env bash
# Installs, from Debian, what the browser SAML tests (tests/saml/test_e2e.py) need:
# SimpleSAMLphp as an independent IdP (served by `php -S`, no Apache needed), the PHP
# command line with its XML extension, and Chromium for Playwright to drive.
# Non-interactive and idempotent: when everything is installed already it does nothing
# (no `apt-get update`), so it is cheap to call on every CI run. Needs root (or sudo).
set -euo pipefail

# openssl makes the IdP's test key (usually present already, via ca-certificates).
PACKAGES=(simplesamlphp php-cli php-xml chromium openssl)

missing=()
for package in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-e2e: already installed: ${PACKAGES[*]}"
    exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo)
fi

echo "install-e2e: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}"

for tool in php /usr/bin/chromium /usr/bin/openssl; do
    command -v "$tool" >/dev/null || { echo "install-e2e: $tool is missing" >&2; exit 1; }
done
test -f /usr/share/simplesamlphp/www/index.php || {
    echo "install-e2e: SimpleSAMLphp's web root /usr/share/simplesamlphp/www is missing" >&2
    exit 1
}
echo "install-e2e: done"
