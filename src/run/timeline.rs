//! The picture of a run: phase times recorded from the run's events ([`record`]) and an SVG
//! timeline drawn from them ([`svg`]) — one bar per lane with its set-up, work, judging and
//! integration, coloured by outcome, with a tick for every signal the lane wrote. The SVG is
//! committed next to the report (`LogBook/issue-fixing/runs/<RUN_ID>.svg`) and linked from it,
//! so any forge shows it. Plain SVG text: no drawing crate.

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset};

use crate::run::events::RunEvent;
use crate::run::state::{LanePhases, LaneState, MAX_SIGNAL_MOMENTS, RunPhases, RunState, SignalMoment};
use crate::run::status::LaneStatus;

/// Now, RFC 3339 with milliseconds (phases of a fast run are shorter than a second).
pub fn now_ms() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

/// Note in `state` when `e` happened (called for every event a run emits).
pub fn record(state: &mut RunState, e: &RunEvent) {
    let now = now_ms();
    match e {
        RunEvent::Started { .. } => {
            state.phases.get_or_insert_with(RunPhases::default).started_at.get_or_insert(now);
        }
        RunEvent::WorktreeReady { lane, .. } => lane_phases(state, lane).ready_at = Some(now),
        RunEvent::LaneStarted { lane, .. } => {
            let p = lane_phases(state, lane);
            p.work_started_at = Some(now);
            p.work_ended_at = None;
        }
        RunEvent::LaneEnded { lane, .. } => lane_phases(state, lane).work_ended_at = Some(now),
        RunEvent::LaneStatus { lane, text } => push_signal(state, lane, SignalMoment { at: now, text: text.clone() }),
        RunEvent::LaneDone { lane, .. } => {
            push_signal(state, lane, SignalMoment { at: now, text: crate::files::signal::SignalFile::Done.suffix().into() })
        }
        RunEvent::Judged { lane, .. } => {
            state.phases.get_or_insert_with(RunPhases::default).collect_at.get_or_insert_with(|| now.clone());
            lane_phases(state, lane).judged_at = Some(now);
        }
        RunEvent::Merged { lane } | RunEvent::BackedOut { lane, .. } => lane_phases(state, lane).integrated_at = Some(now),
        _ => {}
    }
}

fn lane_phases<'a>(state: &'a mut RunState, lane: &str) -> &'a mut LanePhases {
    state.lanes.entry(lane.to_string()).or_default().phases.get_or_insert_with(LanePhases::default)
}

/// Keep the first moments and always the latest one.
fn push_signal(state: &mut RunState, lane: &str, m: SignalMoment) {
    let v = &mut state.lanes.entry(lane.to_string()).or_default().signals;
    if v.len() >= MAX_SIGNAL_MOMENTS {
        v.pop();
    }
    v.push(m);
}

/// Note that the first lane's collection begins now (a later call keeps the first moment).
pub fn collection_begins(state: &mut RunState) {
    state.phases.get_or_insert_with(RunPhases::default).collect_at.get_or_insert_with(now_ms);
}

/// Note that integration begins now.
pub fn integration_begins(state: &mut RunState) {
    state.phases.get_or_insert_with(RunPhases::default).integrate_at = Some(now_ms());
}

fn parse(t: &Option<String>) -> Option<DateTime<FixedOffset>> {
    t.as_deref().and_then(|s| DateTime::parse_from_rfc3339(s).ok())
}

const WIDTH: f64 = 960.0;
const LABEL: f64 = 110.0;
const RIGHT: f64 = 150.0;
const ROW: f64 = 30.0;
const TOP: f64 = 58.0;
/// The width of the chart between the lane names and the outcome words.
const CHART: f64 = WIDTH - LABEL - RIGHT;

/// Phase colours (set-up, work, judging, integration) and outcome colours.
const PHASES: [(&str, &str); 4] = [("set-up", "#9aa5b1"), ("work", "#3b82f6"), ("judging", "#a855f7"), ("integration", "#14b8a6")];

fn outcome(state: &RunState, lane: &str) -> (&'static str, String) {
    let (colour, words) = outcome_of(state, lane);
    match state.lanes[lane].attempts.len() {
        n if n > 1 => (colour, format!("{words} ({n} attempts)")),
        _ => (colour, words),
    }
}

fn outcome_of(state: &RunState, lane: &str) -> (&'static str, String) {
    let l = &state.lanes[lane];
    let backed = l.merge.as_deref().is_some_and(|m| m.starts_with("backed out"));
    match &l.status {
        LaneStatus::Done if backed => ("#f59e0b", "backed out".into()),
        LaneStatus::Done if !l.resolved.is_empty() => ("#16a34a", format!("{} resolved", l.resolved.len())),
        LaneStatus::Done if !l.rejected.is_empty() => ("#dc2626", format!("{} rejected", l.rejected.len())),
        LaneStatus::Done => ("#f59e0b", "resolved nothing".into()),
        LaneStatus::Failed => ("#dc2626", "failed".into()),
        LaneStatus::TimedOut => ("#dc2626", "timed out".into()),
        LaneStatus::Running | LaneStatus::Pending => ("#3b82f6", l.status.as_str().to_string()),
        other => ("#6b7280", other.words()),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The SVG timeline of a run.
pub fn svg(state: &RunState) -> String {
    let n = state.lanes.len().max(1) as f64;
    let height = TOP + n * ROW + 40.0;
    let run_id = state.run_id.as_deref().unwrap_or("?");
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<title>Run {} timeline</title>"#, esc(run_id));
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let Some(scale) = Scale::of(state) else {
        let _ = writeln!(s, r#"<text x="10" y="30">run {}: no phase times recorded</text>"#, esc(run_id));
        s.push_str("</svg>\n");
        return s;
    };
    let _ = writeln!(
        s,
        r#"<text x="10" y="20" font-size="14" font-weight="bold">Run {} — {} ({})</text>"#,
        esc(run_id),
        crate::run::state::status_words(&state.status),
        human_span(scale.span_ms)
    );
    let mut picture = Picture { s, scale };
    picture.legend();
    picture.axis(n);
    let marks = Marks::of(state);
    for (row, (lane, l)) in state.lanes.iter().enumerate() {
        picture.lane_row(state, &marks, TOP + row as f64 * ROW, lane, l);
    }
    picture.s.push_str("</svg>\n");
    picture.s
}

/// Where a moment of the run goes on the chart: from the first recorded time to the last.
struct Scale {
    t0: DateTime<FixedOffset>,
    span_ms: f64,
}

impl Scale {
    /// The span of every time the state records; `None` when it records none.
    fn of(state: &RunState) -> Option<Scale> {
        let phases = state.phases.clone().unwrap_or_default();
        let lane_times: Vec<DateTime<FixedOffset>> = state
            .lanes
            .values()
            .flat_map(|l| {
                let p = l.phases.clone().unwrap_or_default();
                let mut v = vec![
                    parse(&p.ready_at),
                    parse(&p.work_started_at),
                    parse(&p.work_ended_at),
                    parse(&p.judged_at),
                    parse(&p.integrated_at),
                ];
                v.extend(l.signals.iter().map(|m| DateTime::parse_from_rfc3339(&m.at).ok()));
                v
            })
            .flatten()
            .collect();
        let start = parse(&phases.started_at).or_else(|| parse(&state.started)).or_else(|| lane_times.iter().min().copied())?;
        let end = lane_times.iter().copied().chain(parse(&state.finished)).max()?;
        Some(Scale { t0: start, span_ms: ((end - start).num_milliseconds().max(1)) as f64 })
    }

    /// The x coordinate of `t`.
    fn x(&self, t: DateTime<FixedOffset>) -> f64 {
        LABEL + ((t - self.t0).num_milliseconds().max(0) as f64 / self.span_ms) * CHART
    }
}

/// Run-wide moments every lane's row is drawn against.
struct Marks {
    /// Every lane's merge (or back-out) time, in order: integration runs lane by lane, so each
    /// lane's merge starts where the previous one ended.
    merges: Vec<(DateTime<FixedOffset>, String)>,
    integrate_at: Option<DateTime<FixedOffset>>,
    collect_at: Option<DateTime<FixedOffset>>,
}

impl Marks {
    fn of(state: &RunState) -> Marks {
        let mut merges: Vec<(DateTime<FixedOffset>, String)> = state
            .lanes
            .iter()
            .filter_map(|(lane, l)| parse(&l.phases.as_ref().and_then(|p| p.integrated_at.clone())).map(|t| (t, lane.clone())))
            .collect();
        merges.sort();
        let phases = state.phases.clone().unwrap_or_default();
        Marks { merges, integrate_at: parse(&phases.integrate_at), collect_at: parse(&phases.collect_at) }
    }

    /// When `lane`'s merge began: the previous lane's merge, else the start of integration.
    fn merge_began(&self, lane: &str, done: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        self.merges.iter().take_while(|(t, l)| *t < done && l != lane).map(|(t, _)| *t).last().or(self.integrate_at)
    }
}

/// The SVG text being drawn and its time scale.
struct Picture {
    s: String,
    scale: Scale,
}

impl Picture {
    /// The phase colours and the signal tick, named.
    fn legend(&mut self) {
        let mut lx = 10.0;
        for (name, colour) in PHASES {
            let _ = writeln!(
                self.s,
                r#"<rect x="{lx}" y="30" width="12" height="10" fill="{colour}"/><text x="{}" y="39">{name}</text>"#,
                lx + 16.0
            );
            lx += 100.0;
        }
        let _ = writeln!(
            self.s,
            r##"<line x1="{lx}" y1="35" x2="{}" y2="35" stroke="#111827" stroke-width="2"/><text x="{}" y="39">signal</text>"##,
            lx,
            lx + 16.0
        );
    }

    /// The time axis under `rows` rows: five ticks, each with a grid line.
    fn axis(&mut self, rows: f64) {
        let axis_y = TOP + rows * ROW + 6.0;
        let _ = writeln!(self.s, r##"<line x1="{LABEL}" y1="{axis_y}" x2="{}" y2="{axis_y}" stroke="#9ca3af"/>"##, LABEL + CHART);
        for i in 0..=4 {
            let f = i as f64 / 4.0;
            let tx = LABEL + f * CHART;
            let _ = writeln!(
                self.s,
                r##"<line x1="{tx}" y1="{TOP}" x2="{tx}" y2="{axis_y}" stroke="#e5e7eb"/><text x="{tx}" y="{}" text-anchor="middle" fill="#6b7280">+{}</text>"##,
                axis_y + 16.0,
                human_span(self.scale.span_ms * f)
            );
        }
    }

    /// One lane's row at height `y`: its name, a bar per phase, a frame and words in its
    /// outcome's colour, and a tick for every signal.
    fn lane_row(&mut self, state: &RunState, marks: &Marks, y: f64, lane: &str, l: &LaneState) {
        let p = l.phases.clone().unwrap_or_default();
        let (colour, words) = outcome(state, lane);
        let _ = writeln!(self.s, r#"<text x="10" y="{}" font-weight="bold">lane {}</text>"#, y + 18.0, esc(lane));
        let (ready, work_start, work_end, judged) =
            (parse(&p.ready_at), parse(&p.work_started_at), parse(&p.work_ended_at), parse(&p.judged_at));
        self.bar(y, lane, Some(self.scale.t0), ready.or(work_start), 0);
        self.bar(y, lane, work_start, work_end, 1);
        let judging_from = match (work_end, marks.collect_at) {
            (Some(w), Some(c)) => Some(w.max(c)),
            (w, c) => w.or(c),
        };
        self.bar(y, lane, judging_from, judged, 2);
        let integrated = parse(&p.integrated_at);
        if let Some(done) = integrated {
            self.bar(y, lane, marks.merge_began(lane, done).or(judged), Some(done), 3);
        }
        if let Some(b) = integrated.or(judged).or(work_end) {
            let x0 = self.scale.x(self.scale.t0);
            let _ = writeln!(
                self.s,
                r#"<rect x="{:.1}" y="{}" width="{:.1}" height="22" fill="none" stroke="{colour}" stroke-width="2" rx="3"/>"#,
                x0 - 1.0,
                y + 3.0,
                (self.scale.x(b) - x0).max(2.0) + 2.0
            );
        }
        let _ = writeln!(self.s, r#"<text x="{}" y="{}" fill="{colour}">{}</text>"#, LABEL + CHART + 10.0, y + 18.0, esc(&words));
        self.attempts(y, lane, l);
        self.signal_ticks(y, &l.signals);
    }

    /// A lane given more than one attempt: the work bar of each earlier attempt (the phase times
    /// keep the last one's), and a dashed line where each later attempt began, numbered.
    fn attempts(&mut self, y: f64, lane: &str, l: &LaneState) {
        let Some((_, earlier)) = l.attempts.split_last() else { return };
        for a in earlier {
            self.bar(y, lane, parse(&a.started), parse(&a.ended), 1);
        }
        for a in l.attempts.iter().skip(1) {
            let Some(t) = parse(&a.started) else { continue };
            let x = self.scale.x(t);
            let _ = writeln!(
                self.s,
                r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="#111827" stroke-dasharray="3,2"><title>lane {}: attempt {} ({})</title></line><text x="{:.1}" y="{}" font-size="9">{}</text>"##,
                y + 1.0,
                y + 27.0,
                esc(lane),
                a.n,
                esc(&crate::run::state::status_words(&a.outcome)),
                x + 2.0,
                y + 11.0,
                a.n
            );
        }
    }

    /// The bar of phase `phase` (an index into [`PHASES`]) from `from` to `to`, when both are known.
    fn bar(&mut self, y: f64, lane: &str, from: Option<DateTime<FixedOffset>>, to: Option<DateTime<FixedOffset>>, phase: usize) {
        let (Some(a), Some(b)) = (from, to) else { return };
        if b < a {
            return;
        }
        let (x0, x1) = (self.scale.x(a), self.scale.x(b));
        let (name, fill) = PHASES[phase];
        let _ = writeln!(
            self.s,
            r#"<rect x="{x0:.1}" y="{}" width="{:.1}" height="18" fill="{fill}" rx="2"><title>lane {}: {name} {}</title></rect>"#,
            y + 5.0,
            (x1 - x0).max(2.0),
            esc(lane),
            human_span((b - a).num_milliseconds() as f64)
        );
    }

    /// A tick for every signal the lane wrote, its text as the tooltip.
    fn signal_ticks(&mut self, y: f64, signals: &[SignalMoment]) {
        for m in signals {
            let Ok(t) = DateTime::parse_from_rfc3339(&m.at) else { continue };
            let tx = self.scale.x(t);
            let _ = writeln!(
                self.s,
                r##"<line x1="{tx:.1}" y1="{}" x2="{tx:.1}" y2="{}" stroke="#111827" stroke-width="2"><title>{}</title></line>"##,
                y + 2.0,
                y + 26.0,
                esc(&m.text)
            );
        }
    }
}

/// `850 ms`, `12.3 s`, `4m05s`, `1h02m`.
fn human_span(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms < 3_600_000.0 {
        let s = (ms / 1000.0) as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        let m = (ms / 60_000.0) as u64;
        format!("{}h{:02}m", m / 60, m % 60)
    }
}

#[cfg(test)]
mod tests {
    use crate::run::status::RunStatus;
    use crate::run::timeline::*;

    fn at(s: &str) -> Option<String> {
        Some(format!("2026-01-01T00:00:{s}+00:00"))
    }

    #[test]
    fn one_bar_per_phase_and_a_tick_per_signal() {
        let mut st = RunState { run_id: Some("R1".into()), status: RunStatus::Complete, ..RunState::default() };
        st.phases = Some(RunPhases { started_at: at("00.000"), collect_at: at("06.000"), integrate_at: at("07.000") });
        let phases = LanePhases {
            ready_at: at("01.000"),
            work_started_at: at("01.500"),
            work_ended_at: at("05.000"),
            judged_at: at("06.500"),
            integrated_at: at("08.000"),
        };
        st.lanes.insert(
            "E".into(),
            LaneState {
                status: LaneStatus::Done,
                resolved: vec!["E-01".into()],
                phases: Some(phases),
                signals: vec![SignalMoment { at: at("02.000").unwrap(), text: "WORKING: <E-01>".into() }],
                ..LaneState::default()
            },
        );
        st.lanes.insert("M".into(), LaneState { status: LaneStatus::Failed, ..LaneState::default() });
        let svg = svg(&st);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{svg}");
        for phase in ["set-up", "work", "judging", "integration"] {
            assert!(svg.contains(&format!("lane E: {phase} ")), "{phase} bar missing:\n{svg}");
        }
        assert!(svg.contains("<title>WORKING: &lt;E-01&gt;</title>"), "{svg}");
        assert!(svg.contains(">1 resolved</text>") && svg.contains(">failed</text>"), "{svg}");
        assert!(svg.contains("#16a34a") && svg.contains("#dc2626"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn a_lane_with_two_attempts_shows_the_earlier_work_and_where_the_second_began() {
        use crate::run::state::Attempt;
        let at = |s: &str| Some(format!("2026-11-20T10:00:{s}+00:00"));
        let mut st = RunState { run_id: Some("R".into()), status: RunStatus::Complete, ..RunState::default() };
        st.phases = Some(RunPhases { started_at: at("00.000"), ..RunPhases::default() });
        let attempt = |n: u32, from: &str, to: &str, outcome: &str| Attempt {
            n,
            started: at(from),
            ended: at(to),
            outcome: outcome.into(),
            ..Attempt::default()
        };
        let lane = LaneState {
            status: LaneStatus::Done,
            resolved: vec!["E-01".into()],
            phases: Some(LanePhases { work_started_at: at("04.000"), work_ended_at: at("06.000"), ..LanePhases::default() }),
            attempts: vec![attempt(1, "01.000", "02.000", "rejected"), attempt(2, "04.000", "06.000", "resolved")],
            ..LaneState::default()
        };
        st.lanes.insert("E".into(), lane);
        let svg = svg(&st);
        assert_eq!(svg.matches("<title>lane E: work ").count(), 2, "{svg}");
        assert!(svg.contains("<title>lane E: attempt 2 (resolved)</title>"), "{svg}");
        assert!(!svg.contains("attempt 1 ("), "the first attempt has no marker: {svg}");
        assert!(svg.contains(">1 resolved (2 attempts)</text>"), "{svg}");
    }

    #[test]
    fn recording_events_sets_the_phase_times() {
        let mut st = RunState::default();
        record(&mut st, &RunEvent::Started { run_id: "R".into(), lanes: vec!["E".into()] });
        record(&mut st, &RunEvent::WorktreeReady { lane: "E".into(), path: "/x".into() });
        record(&mut st, &RunEvent::LaneStarted { lane: "E".into(), pid: 1, issues: vec![], attempt: 1 });
        record(&mut st, &RunEvent::LaneStatus { lane: "E".into(), text: "WORKING".into() });
        record(&mut st, &RunEvent::LaneEnded { lane: "E".into(), state: "done".into(), detail: String::new() });
        record(&mut st, &RunEvent::Judged { lane: "E".into(), id: "E-01".into(), approved: true, reason: String::new(), failing: vec![] });
        record(&mut st, &RunEvent::Merged { lane: "E".into() });
        let p = st.lanes["E"].phases.clone().unwrap();
        assert!(p.ready_at.is_some() && p.work_started_at.is_some() && p.work_ended_at.is_some());
        assert!(p.judged_at.is_some() && p.integrated_at.is_some());
        assert_eq!(st.lanes["E"].signals.len(), 1);
        assert!(st.phases.unwrap().collect_at.is_some());
    }
}
