//! Logs and metrics. Metrics go to one process-wide Prometheus recorder (the `metrics` facade
//! has a single global recorder by design); logs are JSON lines unless configured otherwise.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{OnceLock, PoisonError, RwLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use rustc_hash::{FxBuildHasher, FxHashMap};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus handle, installing the recorder on first use.
pub fn metrics_handle() -> PrometheusHandle {
    RECORDER
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ])
                .map(PrometheusBuilder::build_recorder);
            match recorder {
                Ok(recorder) => {
                    let handle = recorder.handle();
                    if metrics::set_global_recorder(recorder).is_err() {
                        tracing::warn!(
                            "a metrics recorder was already installed; /metrics will be empty"
                        );
                    }
                    handle
                }
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// Metric handles kept by their label values, each registered with the recorder once. The
/// `counter!` and `histogram!` macros look the metric up by its name and every label on each
/// use, hashing, comparing and cloning them; on the gateway's path that was more work than the
/// rest of the access log. Bounded: past [`Handles::CAP`] label sets, a handle is registered as
/// the macros do, and not kept.
#[derive(Debug)]
pub struct Handles<K, H> {
    // FxHash: the keys are label values this process chose (routes, methods, statuses,
    // upstreams), never a client's text.
    map: RwLock<FxHashMap<K, H>>,
}

impl<K: Hash + Eq, H: Clone> Handles<K, H> {
    pub const CAP: usize = 4096;

    pub const fn new() -> Self {
        Self {
            map: RwLock::new(HashMap::with_hasher(FxBuildHasher)),
        }
    }

    /// The handle for `key`, registered by `register` the first time.
    pub fn get(&self, key: K, register: impl FnOnce(&K) -> H) -> H {
        // A map of handles holds no invariant a panicking holder could break.
        let kept = self.map.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(handle) = kept.get(&key) {
            return handle.clone();
        }
        drop(kept);
        let handle = register(&key);
        let mut kept = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if kept.len() < Self::CAP {
            kept.entry(key).or_insert_with(|| handle.clone());
        }
        handle
    }
}

impl<K: Hash + Eq, H: Clone> Default for Handles<K, H> {
    fn default() -> Self {
        Self::new()
    }
}

/// Installs the log subscriber (`RUST_LOG` filters; `info` by default). Safe to call twice.
pub fn init_logging(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::Handles;

    #[test]
    fn a_handle_is_registered_once_per_label_set() {
        let handles = Handles::<(&str, u16), u32>::new();
        let registered = Cell::new(0);
        let register = |_: &(&str, u16)| {
            registered.set(registered.get() + 1);
            registered.get()
        };
        assert_eq!(handles.get(("/api", 200), register), 1);
        assert_eq!(handles.get(("/api", 200), register), 1);
        assert_eq!(handles.get(("/api", 404), register), 2);
        assert_eq!(registered.get(), 2);
    }

    #[test]
    fn past_the_cap_handles_are_registered_but_not_kept() {
        let handles = Handles::<usize, usize>::new();
        for key in 0..Handles::<usize, usize>::CAP {
            handles.get(key, |&key| key);
        }
        let registered = Cell::new(0);
        for _ in 0..2 {
            let handle = handles.get(usize::MAX, |_| {
                registered.set(registered.get() + 1);
                7
            });
            assert_eq!(handle, 7);
        }
        assert_eq!(registered.get(), 2, "a label set past the cap was kept");
        assert_eq!(handles.get(0, |_| unreachable!()), 0);
    }
}
