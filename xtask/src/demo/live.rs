//! The interactive demo: a screen that shows the three nodes as their daemons report them
//! (refreshed four times a second), the client's probe, and the keys; each key acts on the
//! lab, and once the lab has settled its timeline appears below. On quitting, every
//! timeline is printed to the normal screen so it stays in the terminal's scrollback.
//!
//! The terminal is put back (raw mode off, main screen, cursor shown) on every way out:
//! `q`, Ctrl-C (a key in raw mode), SIGTERM/SIGHUP, an error, or a panic.
use std::{
    io::{Stdout, Write as _},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, anyhow};
use crossterm::{
    cursor::{Hide, MoveTo, Show},
    event::{self, Event, KeyCode, KeyEventKind, KeyModifiers},
    execute, queue,
    style::{Print, Stylize as _},
    terminal::{
        self, Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode,
        enable_raw_mode,
    },
};

use super::{
    Interrupted,
    cluster::{Cluster, PRIORITIES, Pending, Proc, SETTLE_LIMIT, TRACK_DROP, VIP},
    status::{self, NodeStatus},
    timeline::Outcome,
};

/// Screen refresh period.
const FRAME: Duration = Duration::from_millis(250);
/// An idle probe is replaced this often, so its record of replies stays small.
const PROBE_ROTATION: Duration = Duration::from_secs(60);

/// Raw mode and the alternate screen, undone on drop.
struct Screen;

impl Screen {
    fn enter() -> Result<Screen> {
        // Restore even on a panic, before the panic message is printed, so it is readable.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        enable_raw_mode().context("switching the terminal to raw mode")?;
        let screen = Screen;
        execute!(std::io::stdout(), EnterAlternateScreen, Hide)?;
        Ok(screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

fn restore() {
    let _ = execute!(std::io::stdout(), Show, LeaveAlternateScreen);
    let _ = disable_raw_mode();
}

/// The latest `status` answer of each node (index n - 1): `None` when not asked.
type Answers = Vec<Option<Result<NodeStatus, String>>>;

/// Asks every running daemon for its status in the background, so the screen never
/// waits for a `vrrp-daemon status` process.
struct Poller {
    stop: Arc<AtomicBool>,
    /// Which nodes to ask (running, not frozen), set by the screen each frame.
    ask: Arc<Mutex<Vec<bool>>>,
    /// The latest answer of each node.
    results: Arc<Mutex<Answers>>,
    thread: Option<JoinHandle<()>>,
}

impl Poller {
    fn start(targets: Vec<(PathBuf, PathBuf)>) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let ask = Arc::new(Mutex::new(vec![false; targets.len()]));
        let results = Arc::new(Mutex::new(vec![None; targets.len()]));
        let (s, a, r) = (stop.clone(), ask.clone(), results.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let started = Instant::now();
                for (i, (bin, socket)) in targets.iter().enumerate() {
                    let wanted = a.lock().map(|a| a[i]).unwrap_or(false);
                    let answer =
                        wanted.then(|| status::query(bin, socket).map_err(|e| format!("{e:#}")));
                    if let Ok(mut r) = r.lock() {
                        r[i] = answer;
                    }
                }
                std::thread::sleep(FRAME.saturating_sub(started.elapsed()));
            }
        });
        Poller {
            stop,
            ask,
            results,
            thread: Some(thread),
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs the interactive demo; `interrupted` is set by SIGINT, SIGTERM or SIGHUP.
pub fn run(daemon: &Path, interrupted: Arc<AtomicBool>) -> Result<()> {
    println!("Building the demo lab: three nodes and a client in network namespaces...");
    let mut c = Cluster::start(daemon, interrupted.clone())?;
    let poller = Poller::start((1..=PRIORITIES.len()).map(|n| c.status_target(n)).collect());
    let mut history: Vec<Outcome> = Vec::new();
    let mut pending: Option<Pending> = None;
    let mut message = String::from("Waiting for the first election (about 0.4 s)...");
    let mut probe_since = Instant::now();
    let screen = Screen::enter()?;
    let mut out = std::io::stdout();
    loop {
        if interrupted.load(Ordering::Relaxed) {
            drop(screen);
            drop(poller);
            drop(c);
            return Err(Interrupted.into());
        }
        if let Ok(mut ask) = poller.ask.lock() {
            for (i, a) in ask.iter_mut().enumerate() {
                *a = c.proc(i + 1) == Proc::Running;
            }
        }
        if let Some(p) = &pending {
            let settled = c.settled(p);
            if settled || p.elapsed() > SETTLE_LIMIT {
                let p = pending.take().ok_or_else(|| anyhow!("no pending action"))?;
                history.push(c.conclude(p, settled)?);
                probe_since = Instant::now();
                message.clear();
            }
        } else if probe_since.elapsed() > PROBE_ROTATION {
            c.fresh_probe()?;
            probe_since = Instant::now();
        }
        if message.starts_with("Waiting for the first") && c.master().is_some() {
            message = "node1 won the election. Try k first.".into();
        }
        let statuses = poller.results.lock().map(|r| r.clone()).unwrap_or_default();
        draw(
            &mut out,
            &c,
            &statuses,
            pending.as_ref(),
            &history,
            &message,
        )?;

        if !event::poll(FRAME)? {
            continue;
        }
        let key = match event::read()? {
            Event::Key(k) if k.kind == KeyEventKind::Press => k,
            Event::Resize(..) => {
                queue!(out, Clear(ClearType::All))?;
                continue;
            }
            _ => continue,
        };
        let quit = matches!(key.code, KeyCode::Char('q') | KeyCode::Esc)
            || (key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL));
        if quit {
            break;
        }
        if let Some(p) = &pending {
            message = format!(
                "Still watching “{}” play out ({:.1} s); keys work again once it settles.",
                p.label(),
                p.elapsed().as_secs_f64()
            );
            continue;
        }
        let action = match key.code {
            KeyCode::Char('k') => on_master(&c).map(|m| c.kill9(m)),
            KeyCode::Char('t') => on_master(&c).map(|m| c.term(m)),
            KeyCode::Char('s') => {
                match (1..=PRIORITIES.len()).find(|&n| c.proc(n) == Proc::Frozen) {
                    Some(n) => Ok(c.thaw(n)),
                    None => on_master(&c).map(|m| c.freeze(m)),
                }
            }
            KeyCode::Char('r') => {
                match (1..=PRIORITIES.len()).find(|&n| matches!(c.proc(n), Proc::Gone(_))) {
                    Some(n) => Ok(c.restart(n)),
                    None => Err("Every daemon is running: stop one first (k or t).".into()),
                }
            }
            KeyCode::Char('p') => match c.lowered() {
                Some(_) => Ok(c.raise()),
                None => on_master(&c).map(|m| c.lower(m)),
            },
            _ => Err("Keys: k s t r p q".into()),
        };
        match action {
            Ok(Ok(p)) => {
                message = format!("Watching “{}” play out...", p.label());
                pending = Some(p);
            }
            Ok(Err(e)) => message = format!("That did not work: {e:#}"),
            Err(m) => message = m,
        }
    }
    drop(screen);
    drop(poller);
    if let Some(p) = pending.take() {
        history.push(c.conclude(p, false)?);
    }
    let dir = c.lab().dir().display().to_string();
    transcript(&history);
    drop(c);
    println!("\nThe lab is gone: daemons stopped, namespaces deleted, {dir} removed.");
    Ok(())
}

/// The node an action on "the master" applies to.
fn on_master(c: &Cluster) -> Result<usize, String> {
    c.master().ok_or_else(|| match c.active_holders()[..] {
        [] => "Nobody holds the VIP right now: restart a daemon with r.".to_string(),
        _ => "Two nodes hold the VIP this instant; try again in a moment.".to_string(),
    })
}

/// Everything that happened, for the scrollback once the screen is gone.
fn transcript(history: &[Outcome]) {
    if history.is_empty() {
        println!("No action was taken. Next time, try k, then r.");
        return;
    }
    for o in history {
        println!("\n{} (at {:.3} s):", o.label, o.at.as_secs_f64());
        for l in o.lines("  ") {
            println!("{l}");
        }
    }
    println!("\n{:<28}  {:<16}  {:>10}", "action", "VIP", "client gap");
    for o in history {
        println!(
            "{:<28}  {:<16}  {:>7} ms",
            o.label,
            o.movement(),
            o.gap.as_millis()
        );
    }
}

fn draw(
    out: &mut Stdout,
    c: &Cluster,
    statuses: &Answers,
    pending: Option<&Pending>,
    history: &[Outcome],
    message: &str,
) -> Result<()> {
    let (width, height) = terminal::size().unwrap_or((100, 30));
    let (width, height) = (usize::from(width), usize::from(height));
    let mut lines: Vec<String> = Vec::new();
    lines.push(format!(
        "{}  three nodes, one VIP {VIP}, VRRPv3 adverts every 0.1 s       {:>7.1} s",
        "vrrp-daemon demo".bold(),
        c.t0.elapsed().as_secs_f64()
    ));
    lines.push(String::new());
    lines.push(format!(
        "  {:<6} {:<22} {:<8} {:<16} {:<22} {:<5} {}",
        "node", "daemon", "state", "priority", "its master (prio)", "VIP", "adverts sent/rcvd"
    ));
    let holders = c.holders();
    for n in 1..=PRIORITIES.len() {
        let proc = c.proc(n);
        let daemon = match proc {
            Proc::Running => format!("running, pid {}", c.pid(n).unwrap_or_default()),
            Proc::Frozen => "frozen (SIGSTOP)".into(),
            Proc::Gone(how) => how.into(),
        };
        let daemon = match proc {
            Proc::Running => format!("{daemon:<22}").green().to_string(),
            Proc::Frozen => format!("{daemon:<22}").yellow().to_string(),
            Proc::Gone(_) => format!("{daemon:<22}").red().to_string(),
        };
        let vip = if holders.contains(&n) && proc == Proc::Frozen {
            format!("{:<5}", "(VIP)").yellow().to_string()
        } else if holders.contains(&n) {
            format!("{:<5}", "◀ VIP").bold().green().to_string()
        } else {
            format!("{:<5}", "")
        };
        let row = match (proc, statuses.get(n - 1)) {
            (Proc::Running, Some(Some(Ok(s)))) => {
                let state = match s.state.as_str() {
                    "MASTER" => format!("{:<8}", s.state).bold().green().to_string(),
                    "FAULT" => format!("{:<8}", s.state).red().to_string(),
                    _ => format!("{:<8}", s.state),
                };
                let prio = if s.effective_priority == s.base_priority {
                    format!("{}", s.effective_priority)
                } else {
                    format!("{} (base {})", s.effective_priority, s.base_priority)
                };
                let master = match (&s.master, s.state.as_str()) {
                    (_, "MASTER") => "itself".to_string(),
                    (Some((a, p)), _) => format!("{a} ({p})"),
                    (None, _) => "-".into(),
                };
                format!(
                    "{state} {prio:<16} {master:<22} {vip} {} / {}",
                    s.adverts_sent, s.adverts_rcvd
                )
            }
            (Proc::Running, Some(Some(Err(e)))) => format!("status: {e}"),
            (Proc::Running, _) => "(asking vrrp-daemon status...)".into(),
            (Proc::Frozen, _) => format!(
                "{:<8} {:<16} {:<22} {vip} (a frozen daemon cannot answer `status`)",
                "?", "?", "?"
            ),
            _ => format!("{:<8} {:<16} {:<22} {vip}", "-", "-", "-"),
        };
        lines.push(format!("  {:<6} {daemon} {row}", format!("node{n}")));
    }
    lines.push(String::new());
    let client = match c.probe_live() {
        Some(l) => match l.last_reply {
            Some((node, at)) => {
                let ago = l.elapsed.saturating_sub(at).as_millis();
                let who = format!("node{node}");
                let state = if ago < 50 {
                    format!("answered by {who}, {ago} ms ago")
                        .green()
                        .to_string()
                } else {
                    format!("no answer for {ago} ms (last from {who})")
                        .red()
                        .to_string()
                };
                format!("{state}   ({} probes, {} answers)", l.sent, l.received)
            }
            None => "no answer yet".red().to_string(),
        },
        None => "not probing".into(),
    };
    lines.push(format!("  client → {VIP}, a UDP probe every ms: {client}"));
    lines.push(String::new());
    let p_help = match c.lowered() {
        Some(n) => format!("raise node{n}'s priority back"),
        None => format!("lower the master's priority by {TRACK_DROP} (track file)"),
    };
    let s_help = if (1..=PRIORITIES.len()).any(|n| c.proc(n) == Proc::Frozen) {
        "SIGCONT the frozen daemon"
    } else {
        "SIGSTOP the master (it hangs)"
    };
    lines.push(format!(
        "  {} kill -9 the master   {} {s_help}   {} SIGTERM the master (graceful)",
        "k".bold().cyan(),
        "s".bold().cyan(),
        "t".bold().cyan()
    ));
    lines.push(format!(
        "  {} restart a stopped daemon   {} {p_help}   {} quit",
        "r".bold().cyan(),
        "p".bold().cyan(),
        "q".bold().cyan()
    ));
    lines.push(String::new());
    if let Some(p) = pending {
        lines.push(format!(
            "  {} {:.1} s",
            format!("Watching “{}” play out...", p.label()).yellow(),
            p.elapsed().as_secs_f64()
        ));
    } else if !message.is_empty() {
        lines.push(format!("  {}", message.yellow()));
    }
    if history.len() > 1 {
        let earlier: Vec<String> = history[..history.len() - 1]
            .iter()
            .rev()
            .take(4)
            .map(|o| format!("{} ({}, {} ms)", o.label, o.movement(), o.gap.as_millis()))
            .collect();
        lines.push(truncate(
            &format!("  Before that: {}", earlier.join(" · ")),
            width,
        ));
    }
    if let Some(o) = history.last() {
        lines.push(format!(
            "  {} (at {:.3} s):",
            format!("What happened after “{}”", o.label).bold(),
            o.at.as_secs_f64()
        ));
        let budget = height.saturating_sub(lines.len() + 1);
        let mut tl = o.lines("  ");
        if tl.len() > budget {
            let cut = tl.len() - budget.max(1);
            tl.drain(..cut);
            tl[0] = format!(
                "  ... ({} earlier lines; all are printed when you quit)",
                cut + 1
            );
        }
        lines.extend(tl.into_iter().map(|l| truncate(&l, width)));
    }
    for (row, line) in lines.iter().take(height).enumerate() {
        queue!(
            out,
            MoveTo(0, row as u16),
            Print(line),
            Clear(ClearType::UntilNewLine)
        )?;
    }
    queue!(out, Clear(ClearType::FromCursorDown))?;
    out.flush()?;
    Ok(())
}

/// Cuts a plain line to the terminal width (timeline lines carry no colour codes).
fn truncate(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        line.to_string()
    } else {
        line.chars()
            .take(width.saturating_sub(1))
            .chain(['…'])
            .collect()
    }
}
