//! Runs function binaries as Lambda does (a fresh process per cold start, its own Runtime API
//! and environment) and takes the measurements: cold starts, warm latencies, DynamoDB and Stripe
//! calls, peak RSS. Targets are interleaved (round-robin) in both phases, so whatever else the
//! machine is doing weighs on every target alike and the ratios to the floor stay fair.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use hyper::Uri;
use tokio::process::{Child, Command};

use crate::emulator::{Emulator, Outcome};
use crate::proxy::{CountingProxy, Counts, Units};
use crate::seed::project_env;
use crate::targets::Plan;

/// How long past its own timeout a function may take to answer before it is declared hung.
const GRACE: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Settings {
    /// DynamoDB Local, behind each function's counting proxy.
    pub dynamodb: Uri,
    /// The Stripe stand-in, behind each function's counting proxy.
    pub stripe: Uri,
    pub table: String,
    /// template.yaml's `MemorySize` (MB) and `Timeout` of the functions.
    pub memory_mb: u64,
    pub timeout: Duration,
    /// Each function's stdout and stderr are appended to `<log_dir>/<binary>.log`.
    pub log_dir: PathBuf,
    pub cold_starts: usize,
    pub warm_invocations: usize,
}

pub struct Figures {
    /// Process spawn to the first response received, once per fresh process.
    pub cold: Vec<Duration>,
    /// Event handed out to response received, for each warm request.
    pub warm: Vec<Duration>,
    /// Calls made during init and the first request.
    pub first_calls: Calls,
    /// Calls made during all the warm requests.
    pub warm_calls: Calls,
    /// VmHWM after the warm requests.
    pub peak_rss_kib: u64,
}

/// Calls a process made to its dependencies, by operation.
#[derive(Clone, Default)]
pub struct Calls {
    pub dynamodb: Counts,
    pub stripe: Counts,
    /// DynamoDB capacity units, by operation.
    pub dynamodb_units: Units,
}

impl Calls {
    fn minus(&self, before: &Calls) -> Calls {
        let minus = |after: &Counts, before: &Counts| -> Counts {
            after.iter().map(|(op, n)| (op.clone(), n - before.get(op).copied().unwrap_or(0))).filter(|(_, n)| *n > 0).collect()
        };
        let units = self
            .dynamodb_units
            .iter()
            .map(|(op, n)| (op.clone(), n - before.dynamodb_units.get(op).copied().unwrap_or(0.0)))
            .filter(|(_, n)| *n > 0.0)
            .collect();
        Calls { dynamodb: minus(&self.dynamodb, &before.dynamodb), stripe: minus(&self.stripe, &before.stripe), dynamodb_units: units }
    }
}

/// A function process with its own Runtime API emulator and counting proxies.
struct Session {
    child: Child,
    emulator: Emulator,
    dynamodb: CountingProxy,
    stripe: CountingProxy,
}

impl Session {
    /// Starts the process; returns it with the instant just before the spawn.
    async fn start(binary: &str, plan: &Plan, settings: &Settings) -> Result<(Self, Instant), String> {
        let emulator = Emulator::start(binary, settings.timeout).await.map_err(|e| format!("runtime emulator: {e}"))?;
        let dynamodb = CountingProxy::start(&settings.dynamodb).await.map_err(|e| format!("dynamodb proxy: {e}"))?;
        let stripe = CountingProxy::start(&settings.stripe).await.map_err(|e| format!("stripe proxy: {e}"))?;
        let log = settings.log_dir.join(format!("{binary}.log"));
        let log = OpenOptions::new().create(true).append(true).open(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let stdio = |file: &File| file.try_clone().map(Stdio::from).map_err(|e| format!("log file: {e}"));
        let mut command = Command::new(&plan.program);
        command
            .env_clear()
            // What Lambda sets for a provided.al2023 function.
            .env("AWS_LAMBDA_RUNTIME_API", emulator.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", binary)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", settings.memory_mb.to_string())
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{binary}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("_HANDLER", "bootstrap")
            .env("TZ", ":UTC")
            // The project's settings, and the local services behind this process's proxies.
            .envs(project_env(&settings.table, &format!("{}/", stripe.endpoint())))
            .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.endpoint())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            // DynamoDB Local keeps a database per access key and region: the harness's (dummy) ones.
            .envs(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"].iter().filter_map(|k| Some((k, std::env::var(k).ok()?))))
            .envs(plan.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(stdio(&log)?)
            .stderr(stdio(&log)?)
            .kill_on_drop(true);
        let spawned = Instant::now();
        let child = command.spawn().map_err(|e| format!("cannot start {}: {e}", plan.program.display()))?;
        Ok((Self { child, emulator, dynamodb, stripe }, spawned))
    }

    /// One invocation, checked against what the target must answer.
    async fn invoke(&mut self, plan: &Plan, timeout: Duration) -> Result<Outcome, String> {
        let answer = self.emulator.invoke(plan.event.clone());
        let outcome = tokio::select! {
            outcome = answer => outcome.map_err(|_| "the runtime emulator stopped".to_string())?,
            status = self.child.wait() => {
                let init = self.emulator.init_error().map(|e| format!("; init error: {e}")).unwrap_or_default();
                return Err(format!("the process exited ({}){init}", status.map_or_else(|e| e.to_string(), |s| s.to_string())));
            }
            _ = tokio::time::sleep(timeout + GRACE) => return Err(format!("no answer within {:?}", timeout + GRACE)),
        };
        let payload = outcome.result.as_ref().map_err(|e| format!("function error: {e}"))?;
        plan.expect.check(payload)?;
        Ok(outcome)
    }

    fn calls(&self) -> Calls {
        Calls { dynamodb: self.dynamodb.counts(), stripe: self.stripe.counts(), dynamodb_units: self.dynamodb.units() }
    }

    /// The process's peak resident set (VmHWM), in KiB.
    fn peak_rss_kib(&self) -> Result<u64, String> {
        let pid = self.child.id().ok_or("the process is gone")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("/proc/{pid}/status: {e}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| "no VmHWM in /proc/<pid>/status".to_string())
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

struct Warm {
    session: Session,
    figures: Figures,
}

/// One process per target, alive together: a first (cold) request, then `warm_invocations`
/// rounds of one request each, then the call counts and VmHWM.
async fn warm_phase(targets: &[(&str, &Plan)], settings: &Settings) -> Vec<Result<Figures, String>> {
    let mut slots = Vec::new();
    for (binary, plan) in targets {
        let started = async {
            let (mut session, _) = Session::start(binary, plan, settings).await?;
            session.invoke(plan, settings.timeout).await?;
            let first_calls = session.calls();
            let figures = Figures { cold: Vec::new(), warm: Vec::new(), first_calls, warm_calls: Calls::default(), peak_rss_kib: 0 };
            Ok::<_, String>(Warm { session, figures })
        };
        slots.push(started.await);
    }
    for _ in 0..settings.warm_invocations {
        for (slot, (_, plan)) in slots.iter_mut().zip(targets) {
            let Ok(warm) = slot else { continue };
            match warm.session.invoke(plan, settings.timeout).await {
                Ok(outcome) => warm.figures.warm.push(outcome.answered - outcome.handed_out),
                Err(e) => *slot = Err(format!("warm request {}: {e}", warm.figures.warm.len() + 1)),
            }
        }
    }
    let mut results = Vec::new();
    for slot in slots {
        results.push(match slot {
            Ok(Warm { session, mut figures }) => {
                figures.warm_calls = session.calls().minus(&figures.first_calls);
                let rss = session.peak_rss_kib();
                session.stop().await;
                rss.map(|kib| Figures { peak_rss_kib: kib, ..figures })
            }
            Err(e) => Err(e),
        });
    }
    results
}

/// Warm latencies of two targets alone, alternating request by request (in ABBA order, so that
/// neither always follows the other): a difference of a few percent, as metrics make, is below
/// the noise of the round over every function, where a busy moment falls on some targets only.
pub async fn paired(a: (&str, &Plan), b: (&str, &Plan), invocations: usize, settings: &Settings) -> Result<[Vec<Duration>; 2], String> {
    let mut sessions = [Session::start(a.0, a.1, settings).await?.0, Session::start(b.0, b.1, settings).await?.0];
    let plans = [a.1, b.1];
    for (session, plan) in sessions.iter_mut().zip(plans) {
        session.invoke(plan, settings.timeout).await?;
    }
    let mut warm = [Vec::with_capacity(invocations), Vec::with_capacity(invocations)];
    for round in 0..invocations {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let outcome = sessions[i].invoke(plans[i], settings.timeout).await?;
            warm[i].push(outcome.answered - outcome.handed_out);
        }
    }
    for session in sessions {
        session.stop().await;
    }
    Ok(warm)
}

/// A fresh process answering one request: spawn to response received.
async fn cold_start(binary: &str, plan: &Plan, settings: &Settings) -> Result<Duration, String> {
    let (mut session, spawned) = Session::start(binary, plan, settings).await?;
    let outcome = session.invoke(plan, settings.timeout).await?;
    session.stop().await;
    Ok(outcome.answered - spawned)
}

/// Measures every target: the warm phase first (it also brings each binary into the page
/// cache), then `cold_starts` rounds that start each target once, in rotating order.
pub async fn measure(targets: &[(&str, &Plan)], settings: &Settings) -> Vec<Result<Figures, String>> {
    let mut results = warm_phase(targets, settings).await;
    for round in 0..settings.cold_starts {
        for k in 0..targets.len() {
            let i = (round + k) % targets.len();
            let Ok(figures) = &mut results[i] else { continue };
            let (binary, plan) = targets[i];
            match cold_start(binary, plan, settings).await {
                Ok(took) => figures.cold.push(took),
                Err(e) => results[i] = Err(format!("cold start {}: {e}", round + 1)),
            }
        }
    }
    results
}
