#!/usr/bin/env bash
# Installs the project's local tools once, outside the clone, and prints nothing but errors.
# Sourced by the other scripts: exports TOOLS_DIR, VENV_BIN, DYNAMODB_LOCAL_DIR.
set -euo pipefail
TOOLS_DIR="${BILLING_TOOLS_DIR:-$HOME/.cache/stripe-billing-api}"
VENV_BIN="$TOOLS_DIR/venv/bin"
DYNAMODB_LOCAL_DIR="$TOOLS_DIR/dynamodb-local"
export TOOLS_DIR VENV_BIN DYNAMODB_LOCAL_DIR
mkdir -p "$TOOLS_DIR"

# Pinned: a newer validator may judge the same document differently, a newer MCP SDK may
# negotiate another protocol version.
OPENAPI_SPEC_VALIDATOR="openapi-spec-validator==0.9.0"
MCP_SDK="mcp==2.3.0"
SCHEMATHESIS="schemathesis==4.32.5"

install_python_tools() {
  # cfn-lint validates template.yaml; moto's server stands in for Secrets Manager in tests;
  # openapi-spec-validator checks openapi.json against the OpenAPI 3.1 specification; the
  # official MCP Python SDK is the client the MCP tests drive; Schemathesis tests the running API
  # against the document.
  local frozen
  frozen=$("$VENV_BIN/pip" freeze --disable-pip-version-check 2>/dev/null || true)
  if [ ! -x "$VENV_BIN/cfn-lint" ] || [ ! -x "$VENV_BIN/moto_server" ] ||
    ! grep -qx "$OPENAPI_SPEC_VALIDATOR" <<<"$frozen" || ! grep -qx "$MCP_SDK" <<<"$frozen" ||
    ! grep -qx "$SCHEMATHESIS" <<<"$frozen"; then
    python3 -m venv "$TOOLS_DIR/venv"
    "$VENV_BIN/pip" install --quiet --disable-pip-version-check cfn-lint 'moto[server]' "$OPENAPI_SPEC_VALIDATOR" "$MCP_SDK" "$SCHEMATHESIS" >&2
  fi
}

install_dynamodb_local() {
  # The real DynamoDB Local jar ships inside the npm package amplify-dynamodb-simulator.
  if [ ! -f "$DYNAMODB_LOCAL_DIR/DynamoDBLocal.jar" ]; then
    local work
    work=$(mktemp -d)
    (cd "$work" && npm pack --silent amplify-dynamodb-simulator >/dev/null && tar -xzf amplify-dynamodb-simulator-*.tgz)
    rm -rf "$DYNAMODB_LOCAL_DIR"
    mv "$work/package/emulator" "$DYNAMODB_LOCAL_DIR"
    rm -rf "$work"
  fi
}

install_build_tools() {
  # cargo-lambda and zig cross-compile the arm64 Lambda binaries (benchmark, sam build).
  if [ ! -x "$VENV_BIN/cargo-lambda" ]; then
    install_python_tools
    "$VENV_BIN/pip" install --quiet --disable-pip-version-check cargo-lambda ziglang >&2
  fi
  rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu >&2
}

install_sam() {
  # SAM CLI: `sam validate --lint` and `sam build` (rust-cargolambda) in scripts/lambda-build.
  if [ ! -x "$VENV_BIN/sam" ]; then
    install_python_tools
    "$VENV_BIN/pip" install --quiet --disable-pip-version-check aws-sam-cli >&2
  fi
}

install_browser() {
  # Debian's Chromium and its WebDriver drive the approval page's browser test.
  if ! command -v chromedriver >/dev/null || ! command -v chromium >/dev/null; then
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
}
