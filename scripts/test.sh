#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what is missing, then `mvn -B verify`.
# Extra arguments go to Maven, e.g. scripts/test.sh -Dtest=MariaDbClusterTest
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/deps.sh

# long-running integration tests opt in with -Dtiproxy.it=true (see pom.xml)
status=0
mvn -B -Dtiproxy.it=true verify "$@" || status=$?
if (( status != 0 )); then
  echo "test.sh: mvn verify failed (exit $status); reports in target/surefire-reports and target/failsafe-reports" >&2
fi
exit "$status"
