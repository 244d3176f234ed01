//! The JSON log lines a piece of code writes, for tests that check what an operator would read.

use std::sync::{Arc, Mutex};

/// Log lines written while a subscriber made by `subscriber` is the default on this thread (the
/// test's current-thread runtime).
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    /// A JSON subscriber writing here; hold `tracing::subscriber::set_default(it)`'s guard.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + use<> {
        let writer = self.clone();
        tracing_subscriber::fmt().json().with_writer(move || writer.clone()).finish()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}
