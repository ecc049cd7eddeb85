//! The timeline: what happened after an action, from every source that saw it, on one
//! clock (`Instant`), so a newcomer reads cause and effect in order: the signal, the
//! adverts on the wire, the VIP moving between nodes, the daemons' transitions and their
//! reasons, and the client's answers.
use std::{
    fmt,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// Who saw an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The demo itself acted (a signal, a restart, a track file write).
    You,
    /// An advert (or its absence) on the bridge, as the client received it.
    Wire,
    /// The kernel added or removed the VIP on a node (rtnetlink notification).
    Vip,
    /// A daemon logged a state transition.
    Node(usize),
    /// The client's probes: who answers on the VIP.
    Client,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::You => f.write_str("you"),
            Source::Wire => f.write_str("wire"),
            Source::Vip => f.write_str("vip"),
            Source::Node(n) => write!(f, "node{n}"),
            Source::Client => f.write_str("client"),
        }
    }
}

/// One line of a timeline.
#[derive(Clone, Debug)]
pub struct Event {
    /// When it happened (not when it was noticed).
    pub at: Instant,
    /// Who saw it.
    pub source: Source,
    /// What happened, in words.
    pub text: String,
}

/// Events collected by the listener threads, shared with the demo; cheap to clone.
#[derive(Clone, Default)]
pub struct Events {
    inner: Arc<Mutex<Vec<Event>>>,
}

impl Events {
    /// Records an event.
    pub fn push(&self, at: Instant, source: Source, text: impl Into<String>) {
        self.lock().push(Event {
            at,
            source,
            text: text.into(),
        });
    }

    /// Events that happened in `[from, to]`, in time order.
    pub fn between(&self, from: Instant, to: Instant) -> Vec<Event> {
        let mut v: Vec<Event> = self
            .lock()
            .iter()
            .filter(|e| e.at >= from && e.at <= to)
            .cloned()
            .collect();
        v.sort_by_key(|e| e.at);
        v
    }

    /// When the latest event happened (`None` if there was none).
    pub fn latest(&self) -> Option<Instant> {
        self.lock().iter().map(|e| e.at).max()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Event>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What one action led to: its timeline and the client's view of it.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// What was done, e.g. "kill -9 node1 (the master)".
    pub label: String,
    /// When, since the demo started.
    pub at: Duration,
    /// The events from the action until things settled, in order, with their time in
    /// milliseconds since the action (negative for a node's last advert just before it).
    pub events: Vec<(f64, Source, String)>,
    /// Who held the VIP before and after (`None`: nobody).
    pub holder_before: Option<usize>,
    /// Who holds it now.
    pub holder_after: Option<usize>,
    /// The longest time the client got no answer around the action.
    pub gap: Duration,
    /// Whether everything settled in time (one holder, the expected one, answering).
    pub settled: bool,
}

impl Outcome {
    /// "node1 → node2", "node1 kept it", "nobody holds it".
    pub fn movement(&self) -> String {
        match (self.holder_before, self.holder_after) {
            (Some(a), Some(b)) if a == b => format!("node{a} kept the VIP"),
            (Some(a), Some(b)) => format!("node{a} → node{b}"),
            (None, Some(b)) => format!("nobody → node{b}"),
            (Some(a), None) => format!("node{a} → nobody"),
            (None, None) => "nobody holds the VIP".into(),
        }
    }

    /// The timeline as lines of text (no trailing newline), indented by `indent`.
    pub fn lines(&self, indent: &str) -> Vec<String> {
        let mut out = Vec::with_capacity(self.events.len() + 2);
        for (t, source, text) in &self.events {
            let t = if t.abs() < 1000.0 {
                format!("{t:+.1} ms")
            } else {
                format!("{:+.3} s", t / 1000.0)
            };
            out.push(format!(
                "{indent}{t:>10}  {:<6}  {text}",
                source.to_string()
            ));
        }
        let gap = self.gap.as_millis();
        let summary = match (self.holder_before, self.holder_after) {
            (Some(a), Some(b)) if a != b => {
                format!("VIP moved node{a} → node{b}; the client went {gap} ms without an answer")
            }
            (Some(a), Some(_)) => {
                format!("node{a} kept the VIP; the client's longest gap was {gap} ms")
            }
            (None, Some(b)) => {
                format!("node{b} holds the VIP; the client's first answer came after {gap} ms")
            }
            (_, None) => format!(
                "nobody holds the VIP now (press r to restart a daemon); no answer for {gap} ms"
            ),
        };
        out.push(format!("{indent}→ {summary}"));
        if !self.settled {
            out.push(format!(
                "{indent}  (still not settled when the demo stopped waiting; the machine may be busy)"
            ));
        }
        out
    }
}
