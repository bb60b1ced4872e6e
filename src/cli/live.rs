//! The live view of `run` and `watch` on a terminal (ratatui, inline at the bottom of the
//! screen, so what scrolled by stays in the scrollback): one row per lane — state, elapsed,
//! issues, cost, last signal — a pane with the selected lane's log tail or the latest events,
//! and keys to steer: ↑/↓ select, `l` log tail, `s` stop the lane, `r` restart it, Ctrl-C stop
//! the run (twice: kill). Off a terminal, with `--plain`, `--json` or `-q`, the plain lines of
//! [`crate::cli::progress::LaneDisplay`] are used instead.
//!
//! # Design note
//! The run engine calls the observer on its own thread and must never wait for the screen: the
//! view runs on a thread of its own that owns the terminal. Events reach it on a channel; keys
//! are read there; stop and restart go back to the coordinator through
//! [`crate::run::LaneControls`], and Ctrl-C (which raw mode turns into a key) through the same
//! counter the signal handler uses. [`Model`] holds what is shown and [`draw`] renders it, so the
//! rendering is tested with ratatui's `TestBackend`.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::terminal;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, TableState, Widget};
use ratatui::{Frame, TerminalOptions, Viewport};

use crate::cli::progress::{LaneDisplay, describe};
use crate::cli::ui::Ui;
use crate::run::{LaneControl, LaneControls, RunEvent};

/// Lines of the log / events pane.
const PANE: u16 = 8;
const TICK: Duration = Duration::from_millis(100);

/// One lane's row.
#[derive(Debug, Clone, Default)]
pub struct LaneRow {
    pub state: String,
    pub started: Option<Instant>,
    pub took: Option<Duration>,
    pub issues: Vec<String>,
    pub cost_usd: Option<f64>,
    pub last: String,
    /// The attempt running or last run (1 unless a rejected lane was started again).
    pub attempt: u32,
}

/// What the live view shows.
#[derive(Debug, Clone)]
pub struct Model {
    pub title: String,
    pub run_id: Option<String>,
    pub started: Instant,
    pub rows: BTreeMap<String, LaneRow>,
    pub selected: usize,
    pub show_log: bool,
    pub log: Vec<String>,
    pub events: VecDeque<String>,
    /// Whether stop/restart are possible (a run we drive, not `watch`).
    pub steerable: bool,
}

impl Model {
    pub fn new(title: &str, steerable: bool) -> Model {
        Model {
            title: title.to_string(),
            run_id: None,
            started: Instant::now(),
            rows: BTreeMap::new(),
            selected: 0,
            show_log: false,
            log: Vec::new(),
            events: VecDeque::new(),
            steerable,
        }
    }

    fn row(&mut self, lane: &str) -> &mut LaneRow {
        self.rows.entry(lane.to_string()).or_insert_with(|| LaneRow { state: "pending".into(), ..LaneRow::default() })
    }

    pub fn selected_lane(&self) -> Option<&str> {
        self.rows.keys().nth(self.selected).map(String::as_str)
    }

    /// Take one event into the model.
    pub fn apply(&mut self, e: &RunEvent) {
        match e {
            RunEvent::Started { run_id, lanes } => {
                self.run_id = Some(run_id.clone());
                for l in lanes {
                    self.row(l);
                }
            }
            RunEvent::LaneStarted { lane, issues, attempt, .. } => {
                let r = self.row(lane);
                r.state = "running".into();
                r.attempt = *attempt;
                r.started = Some(Instant::now());
                r.took = None;
                r.issues = issues.clone();
            }
            RunEvent::LaneStatus { lane, text } => {
                let r = self.row(lane);
                if r.started.is_none() {
                    r.started = Some(Instant::now());
                    r.state = "running".into();
                }
                r.last = text.clone();
            }
            RunEvent::LaneUsage { lane, cost_usd, .. } => {
                let r = self.row(lane);
                r.cost_usd = cost_usd.or(r.cost_usd);
            }
            RunEvent::LaneDone { lane, .. } => self.row(lane).last = format!("{} (.done)", self.row(lane).last).trim().to_string(),
            RunEvent::LaneEnded { lane, state, .. } => {
                let r = self.row(lane);
                r.state = state.clone();
                r.took = r.started.map(|s| s.elapsed());
            }
            RunEvent::Judged { lane, id, approved, .. } => {
                let r = self.row(lane);
                r.state = if *approved { format!("{id} resolved") } else { format!("{id} rejected") };
            }
            RunEvent::Finding { lane, path, accepted, .. } => {
                let r = self.row(lane);
                let file = path.rsplit('/').next().unwrap_or(path);
                r.state = if *accepted { format!("{file} kept") } else { format!("{file} rejected") };
            }
            RunEvent::Merged { lane } => self.row(lane).state = "merged".into(),
            RunEvent::BackedOut { lane, .. } => self.row(lane).state = "backed out".into(),
            _ => {}
        }
    }

    fn note(&mut self, line: String) {
        self.events.push_back(line);
        while self.events.len() > 50 {
            self.events.pop_front();
        }
    }

    fn select(&mut self, delta: isize) {
        let n = self.rows.len();
        if n == 0 {
            return;
        }
        self.selected = (self.selected as isize + delta).rem_euclid(n as isize) as usize;
    }

    /// Rows of the view: a table line per lane plus borders, the pane, the key line.
    pub fn height(&self) -> u16 {
        self.rows.len().max(1) as u16 + 3 + PANE + 1
    }
}

fn span(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 { format!("{}h{:02}m", s / 3600, s / 60 % 60) } else { format!("{}m{:02}s", s / 60, s % 60) }
}

fn state_style(state: &str) -> Style {
    let colour = match state {
        "running" => Color::Cyan,
        "pending" => Color::Gray,
        "done" | "merged" => Color::Green,
        s if s.ends_with("resolved") => Color::Green,
        "failed" | "timed_out" | "interrupted" | "backed out" => Color::Red,
        s if s.ends_with("rejected") => Color::Red,
        _ => Color::Yellow,
    };
    Style::default().fg(colour)
}

/// Render the model into a frame.
pub fn draw(f: &mut Frame, m: &Model) {
    let area = f.area();
    let table_h = m.rows.len().max(1) as u16 + 3;
    let [table_area, pane_area, keys_area] =
        Layout::vertical([Constraint::Length(table_h), Constraint::Min(3), Constraint::Length(1)]).areas(area);
    let rows: Vec<Row> = m
        .rows
        .iter()
        .map(|(lane, r)| {
            let elapsed = r.took.or_else(|| r.started.map(|s| s.elapsed())).map(span).unwrap_or_else(|| "-".into());
            let cost = r.cost_usd.map(|c| format!("${c:.2}")).unwrap_or_else(|| "-".into());
            Row::new(vec![
                lane.clone(),
                if r.attempt > 1 {
                    format!("{} #{}", crate::run::state::status_words(&r.state), r.attempt)
                } else {
                    crate::run::state::status_words(&r.state)
                },
                elapsed,
                if r.issues.is_empty() { "-".into() } else { r.issues.join(",") },
                cost,
                r.last.clone(),
            ])
            .style(state_style(&r.state))
        })
        .collect();
    let title = match &m.run_id {
        Some(id) => format!(" {} {id} — {} — {} ", m.title, crate::files::text::plural(m.rows.len(), "lane"), span(m.started.elapsed())),
        None => format!(" {} — {} ", m.title, span(m.started.elapsed())),
    };
    let table = Table::new(
        rows,
        [
            Constraint::Length(10),
            Constraint::Length(14),
            Constraint::Length(7),
            Constraint::Length(16),
            Constraint::Length(8),
            Constraint::Fill(1),
        ],
    )
    .header(Row::new(["lane", "state", "elapsed", "issues", "cost", "last signal"]).style(Style::default().add_modifier(Modifier::BOLD)))
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
    .block(Block::default().borders(Borders::ALL).title(title));
    let mut state = TableState::default().with_selected((!m.rows.is_empty()).then_some(m.selected));
    f.render_stateful_widget(table, table_area, &mut state);
    let inner = pane_area.height.saturating_sub(2) as usize;
    let (pane_title, lines): (String, Vec<String>) = if m.show_log {
        let lane = m.selected_lane().unwrap_or("-");
        (format!(" log of lane {lane} "), m.log.iter().rev().take(inner).rev().cloned().collect())
    } else {
        (" events ".into(), m.events.iter().rev().take(inner).rev().cloned().collect())
    };
    let text: Vec<Line> = lines.into_iter().map(Line::from).collect();
    f.render_widget(Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(pane_title)), pane_area);
    let keys = if m.steerable {
        "↑/↓ select · l log tail · s stop lane · r restart lane · Ctrl-C stop the run"
    } else {
        "↑/↓ select · Ctrl-C quit"
    };
    f.render_widget(Paragraph::new(keys).style(Style::default().fg(Color::DarkGray)), keys_area);
}

/// Whether the live view should be used: an interactive terminal, people's output, not asked
/// for plain lines.
pub fn wanted(ui: &Ui, plain: bool) -> bool {
    use std::io::IsTerminal;
    let dumb = std::env::var("TERM").map(|t| t == "dumb" || t.is_empty()).unwrap_or(true);
    ui.interactive && !ui.json && !ui.quiet && !plain && !dumb && io::stderr().is_terminal()
}

/// What the view thread needs besides events.
pub struct LiveSetup {
    pub title: String,
    /// `<common git dir>/lanes`, to read the lanes' logs.
    pub lanes_dir: PathBuf,
    pub interrupts: Arc<AtomicUsize>,
    /// `None` for `watch` (workers started elsewhere cannot be steered).
    pub controls: Option<LaneControls>,
    /// Lanes known before any event (watch).
    pub lanes: Vec<String>,
}

enum Msg {
    Event(RunEvent),
    Finish,
}

/// The live view: a thread that owns the terminal.
pub struct LiveView {
    tx: Sender<Msg>,
    handle: Option<JoinHandle<()>>,
}

impl LiveView {
    pub fn start(ui: &Ui, setup: LiveSetup) -> LiveView {
        let (tx, rx) = mpsc::channel();
        let ui = ui.clone();
        let handle = std::thread::Builder::new().name("live-view".into()).spawn(move || {
            if let Err(e) = view_thread(&ui, setup, &rx) {
                let _ = terminal::disable_raw_mode();
                eprintln!("{} the live view stopped ({e}); plain lines follow", ui.yellow("warning:"));
                // The run goes on: what it does is still shown, as plain lines.
                let mut plain = crate::cli::progress::LaneDisplay::new(&Ui { interactive: false, ..ui.clone() });
                for msg in rx {
                    match msg {
                        Msg::Event(e) => plain.event(&e),
                        Msg::Finish => break,
                    }
                }
            }
        });
        LiveView { tx, handle: handle.ok() }
    }

    pub fn event(&mut self, e: &RunEvent) {
        let _ = self.tx.send(Msg::Event(e.clone()));
    }

    /// Draw the last picture and give the terminal back.
    pub fn finish(&mut self) {
        let _ = self.tx.send(Msg::Finish);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for LiveView {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Leaves raw mode however the thread ends.
struct RawGuard;

impl Drop for RawGuard {
    fn drop(&mut self) {
        let _ = terminal::disable_raw_mode();
    }
}

fn view_thread(ui: &Ui, setup: LiveSetup, rx: &Receiver<Msg>) -> io::Result<()> {
    let mut m = Model::new(&setup.title, setup.controls.is_some());
    for l in &setup.lanes {
        m.row(l);
    }
    let mut term: Option<(Terminal<CrosstermBackend<io::Stderr>>, RawGuard)> = None;
    let mut last_read = Instant::now() - Duration::from_secs(5);
    loop {
        let mut finish = false;
        let mut pending: Vec<RunEvent> = Vec::new();
        match rx.recv_timeout(TICK) {
            Ok(Msg::Event(e)) => pending.push(e),
            Ok(Msg::Finish) | Err(RecvTimeoutError::Disconnected) => finish = true,
            Err(RecvTimeoutError::Timeout) => {}
        }
        while let Ok(msg) = rx.try_recv() {
            match msg {
                Msg::Event(e) => pending.push(e),
                Msg::Finish => finish = true,
            }
        }
        for e in &pending {
            m.apply(e);
            if let Some(line) = describe(ui, e) {
                // Ratatui draws text, not escape codes: colour comes from the row styles.
                let line = console::strip_ansi_codes(&line).into_owned();
                let time = chrono::Local::now().format("%H:%M:%S").to_string();
                for stamped in stamped_rows(&time, &line) {
                    m.note(stamped.clone());
                    match term.as_mut() {
                        // What happened stays in the scrollback, above the live rows.
                        Some((t, _)) => insert_line(t, &stamped)?,
                        None => eprintln!("{}", stamped),
                    }
                }
            }
        }
        if term.is_none() && !m.rows.is_empty() && !finish {
            terminal::enable_raw_mode()?;
            let guard = RawGuard;
            let (_, rows) = terminal::size().unwrap_or((80, 24));
            let height = m.height().min(rows.saturating_sub(1)).max(6);
            let t = Terminal::with_options(CrosstermBackend::new(io::stderr()), TerminalOptions { viewport: Viewport::Inline(height) })?;
            term = Some((t, guard));
        }
        let Some((t, _)) = term.as_mut() else {
            if finish {
                return Ok(());
            }
            continue;
        };
        while event::poll(Duration::ZERO)? {
            if let Event::Key(k) = event::read()?
                && k.kind != KeyEventKind::Release
            {
                key(&mut m, &setup, k.code, k.modifiers);
            }
        }
        if last_read.elapsed() >= Duration::from_millis(500) {
            last_read = Instant::now();
            refresh(&mut m, &setup);
        }
        t.draw(|f| draw(f, &m))?;
        if finish {
            // Leave the last picture on screen and go on below it.
            let area = t.get_frame().area();
            t.set_cursor_position((0, area.bottom().saturating_sub(1)))?;
            t.show_cursor()?;
            drop(term.take());
            eprintln!();
            return Ok(());
        }
    }
}

/// An event's text as rows: the first stamped with the time, the others (a lane's end carries
/// the agent's reason and the log's path) indented under it — one row each, since the scrollback
/// takes one line per insert.
fn stamped_rows(time: &str, text: &str) -> Vec<String> {
    text.lines()
        .enumerate()
        .map(|(i, part)| if i == 0 { format!("{time} {part}") } else { format!("{:w$} {part}", "", w = time.len()) })
        .collect()
}

fn insert_line<B: Backend>(t: &mut Terminal<B>, line: &str) -> io::Result<()> {
    let line = line.to_string();
    // Padded to the full width: cells left empty would keep what the viewport drew there.
    t.insert_before(1, move |buf| {
        let w = buf.area.width as usize;
        Paragraph::new(format!("{line:<w$}")).render(buf.area, buf)
    })
}

fn key(m: &mut Model, setup: &LiveSetup, code: KeyCode, mods: KeyModifiers) {
    match code {
        KeyCode::Char('c') if mods.contains(KeyModifiers::CONTROL) => {
            let n = setup.interrupts.fetch_add(1, Ordering::SeqCst) + 1;
            m.note(if n >= 2 { "Ctrl-C again: killing every lane".into() } else { "Ctrl-C: stopping the run (again to kill)".into() });
        }
        KeyCode::Up | KeyCode::Char('k') => m.select(-1),
        KeyCode::Down | KeyCode::Char('j') => m.select(1),
        KeyCode::Char('l') | KeyCode::Enter => {
            m.show_log = !m.show_log;
            refresh(m, setup);
        }
        KeyCode::Esc => m.show_log = false,
        KeyCode::Char(c @ ('s' | 'r')) => {
            let Some(lane) = m.selected_lane().map(str::to_string) else { return };
            match &setup.controls {
                Some(q) => {
                    if let Ok(mut q) = q.lock() {
                        q.push_back(if c == 's' { LaneControl::Stop(lane.clone()) } else { LaneControl::Restart(lane.clone()) });
                    }
                    m.note(format!("{} lane {lane}…", if c == 's' { "stopping" } else { "restarting" }));
                }
                None => m.note("these workers were started elsewhere: git lanes cannot stop or restart them".into()),
            }
        }
        _ => {}
    }
}

/// Re-read what events do not carry: the selected lane's log tail (costs come with
/// [`RunEvent::LaneUsage`]).
fn refresh(m: &mut Model, setup: &LiveSetup) {
    let Some(run_id) = m.run_id.clone() else { return };
    let dir = setup.lanes_dir.join("runs").join(&run_id);
    if m.show_log
        && let Some(lane) = m.selected_lane()
    {
        let path = dir.join(lane).join("worker.log");
        m.log = match std::fs::read(&path) {
            Ok(b) => {
                let tail = &b[b.len().saturating_sub(64 * 1024)..];
                let text = String::from_utf8_lossy(tail);
                crate::base::redact::redact(&text)
                    .lines()
                    .rev()
                    .take(200)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .map(str::to_string)
                    .collect()
            }
            Err(_) => vec![format!("no log yet at {}", path.display())],
        };
    }
}

/// The display of a run: the live view on a terminal, else plain lines.
pub enum RunDisplay {
    Lines(LaneDisplay),
    Live(LiveView),
}

impl RunDisplay {
    /// The live view when [`wanted`], else [`LaneDisplay`].
    pub fn new(ui: &Ui, plain: bool, setup: impl FnOnce() -> LiveSetup) -> RunDisplay {
        if wanted(ui, plain) { RunDisplay::Live(LiveView::start(ui, setup())) } else { RunDisplay::Lines(LaneDisplay::new(ui)) }
    }

    pub fn event(&mut self, e: &RunEvent) {
        match self {
            RunDisplay::Lines(d) => d.event(e),
            RunDisplay::Live(v) => v.event(e),
        }
    }

    pub fn finish(&mut self) {
        match self {
            RunDisplay::Lines(d) => d.finish(),
            RunDisplay::Live(v) => v.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::live::*;
    use ratatui::backend::TestBackend;

    fn screen(m: &Model) -> String {
        let mut t = Terminal::new(TestBackend::new(100, m.height())).unwrap();
        t.draw(|f| draw(f, m)).unwrap();
        let buf = t.backend().buffer().clone();
        let mut s = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                s.push_str(buf[(x, y)].symbol());
            }
            s.push('\n');
        }
        s
    }

    #[test]
    fn one_row_per_lane_with_state_issues_cost_and_last_signal() {
        let mut m = Model::new("git lanes run", true);
        m.apply(&RunEvent::Started { run_id: "R1".into(), lanes: vec!["E".into(), "M".into()] });
        m.apply(&RunEvent::LaneStarted { lane: "E".into(), pid: 7, issues: vec!["E-01".into(), "E-02".into()], attempt: 1 });
        m.apply(&RunEvent::LaneStatus { lane: "E".into(), text: "WORKING: E-02 tests".into() });
        m.apply(&RunEvent::LaneStarted { lane: "M".into(), pid: 8, issues: vec!["M-01".into()], attempt: 1 });
        m.apply(&RunEvent::LaneEnded { lane: "M".into(), state: "timed_out".into(), detail: String::new() });
        // The cost comes with the event the engine sends when it records it; a later one
        // without a cost keeps it.
        let usage =
            |cost_usd| RunEvent::LaneUsage { lane: "E".into(), cost_usd, cost_estimated: false, input_tokens: None, output_tokens: None };
        m.apply(&usage(Some(0.4213)));
        m.apply(&usage(None));
        m.note("12:00:00 lane M: timed out".into());
        let s = screen(&m);
        assert!(s.contains("git lanes run R1 — 2 lanes"), "{s}");
        let e = s.lines().find(|l| l.contains("│E ")).unwrap_or_else(|| panic!("{s}"));
        assert!(e.contains("running") && e.contains("E-01,E-02") && e.contains("$0.42") && e.contains("WORKING: E-02 tests"), "{e}");
        let mline = s.lines().find(|l| l.contains("│M ")).unwrap();
        assert!(mline.contains("timed out") && mline.contains("M-01"), "{mline}");
        // A lane started again says which attempt it is on.
        m.apply(&RunEvent::LaneStarted { lane: "M".into(), pid: 9, issues: vec!["M-01".into()], attempt: 2 });
        let s = screen(&m);
        let mline = s.lines().find(|l| l.contains("│M ")).unwrap();
        assert!(mline.contains("running #2"), "{mline}");
        assert!(s.contains(" events ") && s.contains("lane M: timed out"), "{s}");
        assert!(s.contains("s stop lane") && s.contains("r restart lane"), "{s}");
    }

    #[test]
    fn the_pane_shows_the_selected_lanes_log_tail() {
        let mut m = Model::new("git lanes run", true);
        m.apply(&RunEvent::Started { run_id: "R1".into(), lanes: vec!["E".into(), "M".into()] });
        m.select(1);
        assert_eq!(m.selected_lane(), Some("M"));
        m.show_log = true;
        m.log = (1..=30).map(|i| format!("log line {i}")).collect();
        let s = screen(&m);
        assert!(s.contains(" log of lane M "), "{s}");
        assert!(s.contains("log line 30") && !s.contains("log line 1 "), "only the tail fits:\n{s}");
        m.select(1);
        assert_eq!(m.selected_lane(), Some("E"), "selection wraps");
    }

    #[test]
    fn keys_queue_stop_and_restart_for_the_selected_lane() {
        let controls: LaneControls = Arc::default();
        let setup = LiveSetup {
            title: "git lanes run".into(),
            lanes_dir: PathBuf::from("/nonexistent"),
            interrupts: Arc::default(),
            controls: Some(controls.clone()),
            lanes: vec![],
        };
        let mut m = Model::new("git lanes run", true);
        m.apply(&RunEvent::Started { run_id: "R1".into(), lanes: vec!["E".into(), "M".into()] });
        key(&mut m, &setup, KeyCode::Down, KeyModifiers::NONE);
        key(&mut m, &setup, KeyCode::Char('s'), KeyModifiers::NONE);
        key(&mut m, &setup, KeyCode::Up, KeyModifiers::NONE);
        key(&mut m, &setup, KeyCode::Char('r'), KeyModifiers::NONE);
        key(&mut m, &setup, KeyCode::Char('c'), KeyModifiers::CONTROL);
        let q: Vec<LaneControl> = controls.lock().unwrap().drain(..).collect();
        assert_eq!(q, [LaneControl::Stop("M".into()), LaneControl::Restart("E".into())]);
        assert_eq!(setup.interrupts.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_lane_end_with_the_agents_reason_is_one_row_per_line() {
        let rows = stamped_rows("20:01:02", "lane E: failed — exit 1\n  claude said: Not logged in\n  worker log: /x/worker.log");
        assert_eq!(
            rows,
            ["20:01:02 lane E: failed — exit 1", "           claude said: Not logged in", "           worker log: /x/worker.log"]
        );
    }
}
