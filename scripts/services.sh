#!/usr/bin/env bash
# Starts and stops the local services the API needs. Sourced by run-local, test and bench
# (after tools.sh). Each service gets a free loopback port; its log goes under .local/.
set -euo pipefail
LOCAL_DIR="${LOCAL_DIR:-$PWD/.local}"
mkdir -p "$LOCAL_DIR"
SERVICE_PIDS=()

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for_port() { # port name seconds
  local deadline=$((SECONDS + $3))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "$2 did not start on port $1; its log:" >&2
      tail -20 "$LOCAL_DIR/$2.log" >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

# Dummy credentials and region: the SDK needs some, DynamoDB Local and moto accept any.
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true

start_dynamodb_local() {
  local port
  port=$(free_port)
  (cd "$DYNAMODB_LOCAL_DIR" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
    -inMemory -port "$port") >"$LOCAL_DIR/dynamodb-local.log" 2>&1 &
  SERVICE_PIDS+=($!)
  wait_for_port "$port" dynamodb-local 60
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
  # The publisher's input, read locally as Lambda's event source mapping reads it in AWS.
  export AWS_ENDPOINT_URL_DYNAMODB_STREAMS="$AWS_ENDPOINT_URL_DYNAMODB"
}

start_moto() {
  local port
  port=$(free_port)
  "$VENV_BIN/moto_server" -p "$port" >"$LOCAL_DIR/moto.log" 2>&1 &
  SERVICE_PIDS+=($!)
  wait_for_port "$port" moto 30
  export MOTO_ENDPOINT="http://127.0.0.1:$port"
  # The outbox's bus and the queue its rule forwards to (the local run and the event tests).
  export AWS_ENDPOINT_URL_EVENTBRIDGE="$MOTO_ENDPOINT" AWS_ENDPOINT_URL_SQS="$MOTO_ENDPOINT"
}

start_local_api() {
  # The local run in the background (after start_dynamodb_local): a free port, its own table,
  # the demo org; exports LOCAL_API_URL, DEMO_HUMAN_KEY, DEMO_AGENT_KEY and DEMO_ADMIN_KEY.
  local keys="$LOCAL_DIR/demo-keys.env" deadline=$((SECONDS + 600))
  rm -f "$keys"
  cargo build --quiet --locked -p billing-infra --bin local-api
  PORT=0 BILLING_TABLE="${1:-billing-local}" DEMO_KEYS_FILE="$keys" \
    cargo run --quiet --locked -p billing-infra --bin local-api >"$LOCAL_DIR/local-api.log" 2>&1 &
  SERVICE_PIDS+=($!)
  until [ -f "$keys" ]; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 "${SERVICE_PIDS[-1]}" 2>/dev/null; then
      echo "local-api did not start; its log:" >&2
      tail -20 "$LOCAL_DIR/local-api.log" >&2 || true
      return 1
    fi
    sleep 0.2
  done
  set -a
  source "$keys"
  set +a
}

stop_services() {
  for pid in "${SERVICE_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${SERVICE_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  SERVICE_PIDS=()
}
