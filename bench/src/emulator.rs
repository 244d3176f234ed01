//! A Lambda Runtime API emulator: the four endpoints a custom runtime (here `lambda_runtime`)
//! talks to. The harness queues an event with [`Emulator::invoke`]; the function takes it with
//! `GET .../invocation/next` and answers with `POST .../invocation/{id}/response` (or `/error`).
//! Timestamps are taken here, so latencies are what the Lambda service itself would see.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

const API: &str = "/2018-06-01/runtime";

/// How one invocation went, timed at the emulator.
pub struct Outcome {
    /// Lambda's request id (`Lambda-Runtime-Aws-Request-Id`) and X-Ray trace id
    /// (`Lambda-Runtime-Trace-Id`) the event was handed out with.
    pub request_id: String,
    pub trace_id: String,
    /// When `/next` handed the event to the function.
    pub handed_out: Instant,
    /// When the function's response (or error) had been fully received.
    pub answered: Instant,
    /// The response payload, or the error the function reported.
    pub result: Result<Bytes, String>,
}

struct Invocation {
    id: String,
    event: Bytes,
    done: oneshot::Sender<Outcome>,
}

struct State {
    function_arn: String,
    /// The function's timeout: each event's deadline is this far from its hand-out.
    timeout: Duration,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    in_flight: Mutex<HashMap<String, (Instant, oneshot::Sender<Outcome>)>>,
    init_error: Mutex<Option<String>>,
    /// How often the function has asked for its next event.
    polls: tokio::sync::watch::Sender<u64>,
}

/// One emulator serves one function process (as Lambda gives each sandbox its own endpoint).
pub struct Emulator {
    addr: SocketAddr,
    state: Arc<State>,
    queue: mpsc::UnboundedSender<Invocation>,
    next_id: u64,
    server: JoinHandle<()>,
}

impl Emulator {
    pub async fn start(function_name: &str, timeout: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (queue, receiver) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            function_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{function_name}"),
            timeout,
            queue: tokio::sync::Mutex::new(receiver),
            in_flight: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
            polls: tokio::sync::watch::Sender::new(0),
        });
        let server = tokio::spawn(serve(listener, state.clone()));
        Ok(Self { addr, state, queue, next_id: 0, server })
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues `event`; the receiver completes once the function has answered it.
    pub fn invoke(&mut self, event: Bytes) -> oneshot::Receiver<Outcome> {
        self.next_id += 1;
        let (done, outcome) = oneshot::channel();
        let invocation = Invocation { id: format!("bench-{:012}", self.next_id), event, done };
        // The receiving half lives in `state` as long as `self` does.
        let _ = self.queue.send(invocation);
        outcome
    }

    /// Waits until the function has asked for its `n`th event: it is done with the ones before,
    /// including what it does after answering (the runtime's layers, e.g. writing metrics).
    pub async fn polled(&self, n: u64) {
        let _ = self.state.polls.subscribe().wait_for(|polls| *polls >= n).await;
    }

    /// What the function posted to `/init/error`, if anything.
    pub fn init_error(&self) -> Option<String> {
        self.state.init_error.lock().expect("lock").clone()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(listener: TcpListener, state: Arc<State>) {
    while let Ok((stream, _)) = listener.accept().await {
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(route(&state, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

fn reply(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}

async fn route(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().strip_prefix(API).unwrap_or_default().to_string();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    match (req.method(), segments.as_slice()) {
        (&Method::GET, ["invocation", "next"]) => next(state).await,
        (&Method::POST, ["invocation", id, "response"]) => {
            let id = id.to_string();
            let body = read_body(req).await;
            complete(state, &id, body)
        }
        (&Method::POST, ["invocation", id, "error"]) => {
            let id = id.to_string();
            let kind = header(&req, "lambda-runtime-function-error-type");
            let body = read_body(req).await.map(|b| String::from_utf8_lossy(&b).into_owned());
            complete(state, &id, Err(format!("{kind}: {}", body.unwrap_or_else(|e| e))))
        }
        (&Method::POST, ["init", "error"]) => {
            let kind = header(&req, "lambda-runtime-function-error-type");
            let body = read_body(req).await.map(|b| String::from_utf8_lossy(&b).into_owned());
            *state.init_error.lock().expect("lock") = Some(format!("{kind}: {}", body.unwrap_or_else(|e| e)));
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        _ => reply(StatusCode::NOT_FOUND, r#"{"errorType":"NotFound"}"#),
    }
}

fn header(req: &Request<Incoming>, name: &str) -> String {
    req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("Unhandled").to_string()
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, String> {
    req.into_body().collect().await.map(|b| b.to_bytes()).map_err(|e| format!("unreadable body: {e}"))
}

/// Long-polls until the harness queues an event, then hands it out with Lambda's headers.
async fn next(state: &State) -> Response<Full<Bytes>> {
    state.polls.send_modify(|polls| *polls += 1);
    let Some(invocation) = state.queue.lock().await.recv().await else {
        return reply(StatusCode::GONE, r#"{"errorType":"ShuttingDown"}"#);
    };
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + state.timeout;
    let response = Response::builder()
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &invocation.id)
        .header("lambda-runtime-deadline-ms", deadline.as_millis().to_string())
        .header("lambda-runtime-invoked-function-arn", &state.function_arn)
        .header("lambda-runtime-trace-id", trace_id(&invocation.id))
        .body(Full::new(invocation.event))
        .expect("valid headers");
    state.in_flight.lock().expect("lock").insert(invocation.id, (Instant::now(), invocation.done));
    response
}

/// The X-Ray trace id of the invocation `id` (`bench-000000000001`).
fn trace_id(id: &str) -> String {
    format!("Root=1-00000000-{:0>24};Sampled=0", &id[6..])
}

fn complete(state: &State, id: &str, result: Result<Bytes, String>) -> Response<Full<Bytes>> {
    let answered = Instant::now();
    let Some((handed_out, done)) = state.in_flight.lock().expect("lock").remove(id) else {
        return reply(StatusCode::BAD_REQUEST, r#"{"errorType":"InvalidRequestID"}"#);
    };
    let _ = done.send(Outcome { request_id: id.to_string(), trace_id: trace_id(id), handed_out, answered, result });
    reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
}
