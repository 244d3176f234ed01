//! A function binary run as Lambda runs it: its own process behind a Lambda Runtime API
//! emulator (`billing_bench::emulator`), with Lambda's environment, against DynamoDB Local.
//! `scripts/test` builds the binaries the tests run before `cargo test`.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use billing_bench::emulator::Emulator;
use billing_bench::seed::project_env;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::require_env;

/// The function binary of the same build as the running test (`target/<profile>/<name>`).
pub fn binary(name: &str) -> PathBuf {
    let test = std::env::current_exe().expect("the test's path");
    let binary = test.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps").join(name);
    assert!(binary.exists(), "{} is not built: scripts/test builds it (cargo build -p billing-functions --bin {name})", binary.display());
    binary
}

/// `name` as a process served by `emulator`, with the project's settings for `table` and the
/// Stripe at `stripe_base`, then `extra` on top; its output goes where the caller says.
pub fn command(name: &str, emulator: &Emulator, table: &str, stripe_base: &str, extra: &[(&str, &str)]) -> Command {
    let mut command = Command::new(binary(name));
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", emulator.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .envs(project_env(table, stripe_base))
        .env("AWS_ENDPOINT_URL_DYNAMODB", require_env("AWS_ENDPOINT_URL_DYNAMODB"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"].map(|k| (k, require_env(k))))
        .envs(extra.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// A running function whose stdout (log lines and EMF documents) is read per invocation.
pub struct Function {
    emulator: Emulator,
    _process: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    /// Lines of `stdout` handed out with an invocation already.
    taken: usize,
    invocations: u64,
}

/// One invocation: the ids Lambda handed it out with, its answer, and the lines it wrote
/// (the first invocation's include what the process wrote while it started).
pub struct Invocation {
    pub request_id: String,
    pub trace_id: String,
    pub answer: Value,
    pub lines: Vec<String>,
}

impl Function {
    pub async fn start(name: &str, table: &str, stripe_base: &str, extra: &[(&str, &str)]) -> Self {
        let emulator = Emulator::start(name, Duration::from_secs(30)).await.expect("runtime API");
        let mut process = command(name, &emulator, table, stripe_base, extra).stdout(Stdio::piped()).spawn().expect("start the function");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(process.stdout.take().expect("piped stdout")).lines();
        let sink = stdout.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        Self { emulator, _process: process, stdout, taken: 0, invocations: 0 }
    }

    /// Invokes the function with `event` and waits until it asks for the next one, so that
    /// everything it writes for this one (metrics are written after the answer) is in.
    pub async fn invoke(&mut self, event: &Value) -> Invocation {
        let answer = self.emulator.invoke(event.to_string().into());
        let outcome = tokio::time::timeout(Duration::from_secs(60), answer)
            .await
            .unwrap_or_else(|_| panic!("no answer; init error: {:?}", self.emulator.init_error()))
            .expect("the emulator's outcome");
        self.invocations += 1;
        tokio::time::timeout(Duration::from_secs(10), self.emulator.polled(self.invocations + 1)).await.expect("asked for the next event");
        // Written before that poll, so in the pipe: read until nothing more comes.
        let mut seen = usize::MAX;
        while seen != self.stdout.lock().unwrap().len() {
            seen = self.stdout.lock().unwrap().len();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let lines = self.stdout.lock().unwrap()[self.taken..].to_vec();
        self.taken += lines.len();
        let answer = outcome.result.map(|bytes| serde_json::from_slice(&bytes).expect("a JSON answer")).unwrap_or_else(|e| panic!("{e}"));
        Invocation { request_id: outcome.request_id, trace_id: outcome.trace_id, answer, lines }
    }
}
