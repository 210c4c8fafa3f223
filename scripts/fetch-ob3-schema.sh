#!/bin/sh
# Downloads the official 1EdTech JSON Schema of the OB 3.0 AchievementCredential (not committed: 1EdTech publishes
# it) and prints the variable that makes test/badges/ob3-conformance.test.ts validate every issued credential
# against it:  OB3_OFFICIAL_SCHEMA=$(sh scripts/fetch-ob3-schema.sh) npm run jest -- test/badges/ob3-conformance.test.ts
set -eu
dir=$(dirname "$0")/../.cache/ob3
mkdir -p "$dir"
file="$dir/ob_v3p0_achievementcredential_schema.json"
curl -fsSL -o "$file.tmp" https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json
mv "$file.tmp" "$file"
cd "$dir" && echo "$(pwd)/ob_v3p0_achievementcredential_schema.json"
