//! Configuration: seed defaults, the optional `lanes.yaml`, and command-line overrides, resolved
//! once into an immutable [`Config`] that the domain consumes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::base::error::{Problem, Result};
use crate::{base::fsutil, files::names};

/// The name of the optional configuration file at the repository root.
pub const CONFIG_FILE: &str = "lanes.yaml";

/// The paths that judge a fix when `lanes.yaml` has no `protect:`: the usual test locations of
/// the main ecosystems.
pub const DEFAULT_PROTECT: &[&str] = &[
    "tests/**",
    "test/**",
    "**/test_*.py",
    "**/*_test.py",
    "**/*_test.go",
    "**/*.test.*",
    "**/*.spec.*",
    "spec/**",
    "__tests__/**",
    "src/test/**",
];

/// How finished lanes are brought together (docs/design.md#integrate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum IntegrationPolicy {
    #[default]
    Merge,
    Branches,
    Squash,
}

impl std::str::FromStr for IntegrationPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "merge" => Ok(Self::Merge),
            "branches" => Ok(Self::Branches),
            "squash" => Ok(Self::Squash),
            _ => Err(format!("unknown integration policy `{s}` (merge, branches, squash)")),
        }
    }
}

/// `lanes.yaml` as written. Every field is optional; unknown keys are errors (typos must not be
/// silently ignored).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub catalog: Option<PathBuf>,
    pub issues: Option<PathBuf>,
    pub fixer_specs: Option<PathBuf>,
    pub hunter_specs: Option<PathBuf>,
    pub signals: Option<PathBuf>,
    pub state: Option<PathBuf>,
    pub runs: Option<PathBuf>,
    pub evidence: Option<PathBuf>,
    pub lanes: Option<Vec<String>>,
    pub worker: Option<String>,
    pub max_parallel: Option<usize>,
    pub max_issues: Option<usize>,
    pub timeout: Option<String>,
    pub stall_after: Option<String>,
    pub done_grace: Option<String>,
    pub branch_prefix: Option<String>,
    pub worktree_dir: Option<PathBuf>,
    pub integration: Option<IntegrationPolicy>,
    pub port_base: Option<u16>,
    pub port_span: Option<u16>,
    /// The model: one for the preset `worker:` names, or one per preset.
    pub model: Option<ModelSetting>,
    /// Settings per agent preset (`agents: {codex: {env: {…}}}`).
    #[serde(default)]
    pub agents: std::collections::BTreeMap<String, AgentConfig>,
    /// Run workers in the sandbox (writes limited to their worktree, a temp folder of their own
    /// and the agent's own folders in `$HOME`). On by default.
    pub sandbox_workers: Option<bool>,
    /// More folders sandboxed workers may write (absolute or `~/…`), e.g. a build cache.
    pub sandbox_writable: Option<Vec<PathBuf>>,
    /// Keep a finished run's clean lane worktrees for the next run (default on).
    pub worktree_pool: Option<bool>,
    /// At most this many worktrees are kept in the pool (default 32).
    pub worktree_pool_size: Option<usize>,
    /// Globs of the paths that judge a fix (tests): checks run with them as they are at the run's
    /// base, and a lane's edits to existing ones are not merged. Absent: the usual test locations.
    pub protect: Option<Vec<String>>,
    /// How many times a lane's worker is started when its issues are rejected (default 2; 1 =
    /// never again).
    pub attempts: Option<u32>,
    /// What the whole run may spend: no attempt starts once the recorded usage reaches it.
    pub budget: Option<BudgetConfig>,
    /// A command told when a run ends or a lane needs a human (JSON on its standard input).
    pub notify: Option<String>,
    /// Commands run on the integration result before the user's branch moves (e.g. the whole
    /// test suite); a lane that breaks one is backed out.
    #[serde(default)]
    pub integration_checks: Vec<String>,
    /// Time limit of one integration check (default: `verify.timeout`).
    pub integration_timeout: Option<String>,
    #[serde(default)]
    pub verify: VerifyConfig,
    #[serde(default)]
    pub setup: SetupConfig,
}

/// `model:` in `lanes.yaml` or an agent spec: one model, meant for the agent the same file names
/// as `worker:`, or one model per preset (`model: {claude: sonnet, codex: gpt-5.2}`). A model
/// name means nothing to another vendor's CLI, so a plain name never reaches another agent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum ModelSetting {
    /// `model: sonnet`.
    One(String),
    /// `model: {claude: sonnet, codex: gpt-5.2}`, keyed by preset name.
    ByAgent(std::collections::BTreeMap<String, String>),
}

impl ModelSetting {
    /// The model for the preset called `agent`: the map's entry for it, or the plain name when
    /// `file_names_it` (the same file's `worker:` is that preset). Empty names count as none.
    #[must_use]
    pub fn pick(&self, agent: &str, file_names_it: bool) -> Option<&str> {
        let model = match self {
            ModelSetting::One(m) => file_names_it.then_some(m.as_str()),
            ModelSetting::ByAgent(map) => map.iter().find(|(k, _)| k.trim().eq_ignore_ascii_case(agent)).map(|(_, v)| v.as_str()),
        };
        model.map(str::trim).filter(|m| !m.is_empty())
    }

    /// The preset names a map form is keyed by (none for a plain name), for checking.
    #[must_use]
    pub fn agents(&self) -> Vec<&str> {
        match self {
            ModelSetting::One(_) => Vec::new(),
            ModelSetting::ByAgent(map) => map.keys().map(String::as_str).collect(),
        }
    }
}

/// One entry of `agents:` in `lanes.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Variables set for this preset's worker only (a gateway's URL, a key variable's name).
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
    /// Dollars per million tokens by model, for agents that report tokens but no cost.
    #[serde(default)]
    pub prices: std::collections::BTreeMap<String, Price>,
}

/// What a model costs, in dollars per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per million input tokens.
    pub input: f64,
    /// Per million output tokens.
    pub output: f64,
}

/// `verify:` in `lanes.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyConfig {
    pub timeout: Option<String>,
    #[serde(default)]
    pub env: Vec<String>,
}

/// `setup:` in `lanes.yaml`: prepares each lane worktree before its worker starts.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SetupConfig {
    /// Untracked files copied from the main worktree (e.g. `.env`).
    #[serde(default)]
    pub copy: Vec<PathBuf>,
    /// Shell commands run in the worktree.
    #[serde(default)]
    pub run: Vec<String>,
}

/// Overrides from the command line (`--catalog`, `--issues`).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub catalog: Option<PathBuf>,
    pub issues: Option<PathBuf>,
}

/// The resolved configuration. Paths are relative to the repository root.
#[derive(Debug, Clone)]
pub struct Config {
    pub catalog: PathBuf,
    pub issues: PathBuf,
    pub fixer_specs: PathBuf,
    pub hunter_specs: PathBuf,
    pub signals: PathBuf,
    pub state: PathBuf,
    pub runs: PathBuf,
    pub evidence: PathBuf,
    pub lanes: Option<Vec<String>>,
    pub worker: Option<String>,
    pub max_parallel: Option<usize>,
    pub max_issues: usize,
    pub lane_timeout: Duration,
    pub stall_after: Duration,
    pub done_grace: Duration,
    pub branch_prefix: String,
    pub worktree_dir: Option<PathBuf>,
    pub integration: IntegrationPolicy,
    pub port_base: u16,
    pub port_span: u16,
    pub model: Option<ModelSetting>,
    /// `agents:` — settings per agent preset, keyed by preset name.
    pub agents: std::collections::BTreeMap<String, AgentConfig>,
    pub verify_timeout: Duration,
    pub verify_env: Vec<String>,
    /// `sandbox_workers:` (see [`FileConfig::sandbox_workers`]).
    pub sandbox_workers: bool,
    /// `sandbox_writable:` (see [`FileConfig::sandbox_writable`]), `~/` resolved.
    pub sandbox_writable: Vec<PathBuf>,
    /// `worktree_pool:` — whether finished runs' clean worktrees are pooled and reused.
    pub worktree_pool: bool,
    /// `worktree_pool_size:` — how many worktrees the pool keeps at most.
    pub worktree_pool_size: usize,
    /// `attempts:` — how many times a rejected lane's worker is started in all (at least 1).
    pub attempts: u32,
    /// `budget:` — the whole run's limit in dollars and in tokens (none by default).
    pub budget: BudgetConfig,
    /// `notify:` — the command told when a run ends or a lane needs a human.
    pub notify: Option<String>,
    pub setup: SetupConfig,
    /// Protected-path globs (`protect:`; by default [`DEFAULT_PROTECT`]).
    pub protect: Vec<String>,
    /// `integration_checks:` (see [`FileConfig::integration_checks`]).
    pub integration_checks: Vec<String>,
    /// `integration_timeout:`, else `verify.timeout`.
    pub integration_timeout: Duration,
    /// Whether `lanes.yaml` exists.
    pub from_file: bool,
}

/// `budget:` in `lanes.yaml`: `usd:` and `tokens:` for the whole run (each optional).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    pub usd: Option<f64>,
    pub tokens: Option<u64>,
}

/// The word in the default fixing folders that [`Config::hunting`] replaces.
const FIXING: &str = "issue-fixing";
/// What it becomes in the hunting folders.
const HUNTING: &str = "issue-hunting";

/// `path` with `from` replaced by `to` (`LogBook/issue-fixing/signals` → `LogBook/issue-hunting/signals`).
fn sibling(path: &Path, from: &str, to: &str) -> PathBuf {
    PathBuf::from(path.to_string_lossy().replace(from, to))
}

impl Config {
    /// Seed defaults (docs/formats.md#lanesyaml).
    pub fn defaults() -> Config {
        Config {
            catalog: "SAF_ISSUE_CATALOG.md".into(),
            issues: "issues".into(),
            fixer_specs: ".claude/agents/issue-fixers".into(),
            hunter_specs: ".claude/agents/issue-hunters".into(),
            signals: "LogBook/issue-fixing/signals".into(),
            state: "LogBook/issue-fixing/orchestrator-state.yaml".into(),
            runs: "LogBook/issue-fixing/runs".into(),
            evidence: "LogBook/verification/evidence".into(),
            lanes: None,
            worker: None,
            max_parallel: None,
            max_issues: 5,
            lane_timeout: Duration::from_secs(60 * 60),
            stall_after: Duration::from_secs(10 * 60),
            done_grace: Duration::from_secs(30),
            branch_prefix: "lanes".into(),
            worktree_dir: None,
            integration: IntegrationPolicy::Merge,
            port_base: 20000,
            port_span: 100,
            model: None,
            agents: std::collections::BTreeMap::new(),
            verify_timeout: Duration::from_secs(30),
            verify_env: Vec::new(),
            sandbox_workers: true,
            sandbox_writable: Vec::new(),
            worktree_pool: true,
            worktree_pool_size: 32,
            attempts: 2,
            budget: BudgetConfig::default(),
            notify: None,
            setup: SetupConfig::default(),
            protect: DEFAULT_PROTECT.iter().map(|s| s.to_string()).collect(),
            integration_checks: Vec::new(),
            integration_timeout: Duration::from_secs(30),
            from_file: false,
        }
    }

    /// The configuration of a hunt: the fixing folders' `issue-fixing` becomes `issue-hunting` in
    /// the signals folder, the state file and the reports folder (`LogBook/issue-hunting/…` by
    /// default, as `init` creates it); everything else stays. Every place that needs a hunting
    /// path takes it from here.
    pub fn hunting(&self) -> Config {
        let mut h = self.clone();
        h.signals = sibling(&self.signals, FIXING, HUNTING);
        h.state = sibling(&self.state, FIXING, HUNTING);
        h.runs = sibling(&self.runs, FIXING, HUNTING);
        h
    }

    /// Both signals folders, fixing and hunting, whichever of the two this configuration follows
    /// (a hunt's points at the hunting one): sorted, each once.
    pub fn signal_folders(&self) -> Vec<PathBuf> {
        let mut v = vec![sibling(&self.signals, HUNTING, FIXING), sibling(&self.signals, FIXING, HUNTING)];
        v.sort();
        v.dedup();
        v
    }

    /// Load `lanes.yaml` from `root` (if present) over the defaults, then apply `overrides`.
    pub fn load(root: &Path, overrides: &Overrides) -> Result<Config> {
        Config::from_bytes(fsutil::read_optional_capped(&root.join(CONFIG_FILE), crate::files::text::MAX_FILE_BYTES)?, overrides)
    }

    /// Like [`Config::load`] from the bytes of `lanes.yaml` (`None` when there is none), e.g. as
    /// committed in a tree that `check` reads.
    pub fn from_bytes(file: Option<Vec<u8>>, overrides: &Overrides) -> Result<Config> {
        let mut c = Config::defaults();
        if let Some(bytes) = file {
            let text = crate::files::text::decode("configuration file", Path::new(CONFIG_FILE), bytes)?.text;
            let file: FileConfig = if text.trim().is_empty() {
                FileConfig::default()
            } else {
                serde_saphyr::from_str(&text).map_err(|e| {
                    let line = e.location().map(|l| l.line() as usize).unwrap_or(0);
                    let msg = e.to_string();
                    let msg = msg.lines().next().unwrap_or("").split(" at line ").next().unwrap_or("").to_string();
                    Problem::new(CONFIG_FILE, line, format!("invalid configuration: {msg}"))
                })?
            };
            c.apply(file)?;
            c.from_file = true;
        }
        if let Some(p) = &overrides.catalog {
            c.catalog = p.clone();
        }
        if let Some(p) = &overrides.issues {
            c.issues = p.clone();
        }
        for p in [&c.catalog, &c.issues, &c.signals, &c.state, &c.runs, &c.evidence] {
            check_relative(p)?;
        }
        Ok(c)
    }

    fn apply(&mut self, f: FileConfig) -> Result<()> {
        let dur = |v: &Option<String>, key: &str, default: Duration| -> Result<Duration> {
            match v {
                None => Ok(default),
                Some(s) => parse_duration(s).ok_or_else(|| {
                    Problem::new(CONFIG_FILE, 0, format!("`{key}: {s}` is not a duration (e.g. 30s, 10m, 1h, PT30M)")).into()
                }),
            }
        };
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = f.$f.clone() { self.$f = v; } )* };
        }
        set!(
            catalog,
            issues,
            fixer_specs,
            hunter_specs,
            signals,
            state,
            runs,
            evidence,
            max_issues,
            branch_prefix,
            integration,
            port_base,
            port_span
        );
        self.worker = f.worker.clone().or(self.worker.take());
        self.model = f.model.clone().or(self.model.take());
        self.agents = f.agents.clone();
        self.max_parallel = f.max_parallel.or(self.max_parallel);
        self.worktree_dir = f.worktree_dir.clone().or(self.worktree_dir.take());
        self.lane_timeout = dur(&f.timeout, "timeout", self.lane_timeout)?;
        self.stall_after = dur(&f.stall_after, "stall_after", self.stall_after)?;
        self.done_grace = dur(&f.done_grace, "done_grace", self.done_grace)?;
        self.verify_timeout = dur(&f.verify.timeout, "verify.timeout", self.verify_timeout)?;
        self.verify_env = f.verify.env.clone();
        self.sandbox_workers = f.sandbox_workers.unwrap_or(self.sandbox_workers);
        for p in f.sandbox_writable.iter().flatten() {
            let home = std::env::var_os("HOME").map(PathBuf::from);
            let resolved = match (p.strip_prefix("~"), home) {
                (Ok(rest), Some(home)) => home.join(rest),
                _ => p.clone(),
            };
            if !resolved.is_absolute() {
                return Err(Problem::new(
                    CONFIG_FILE,
                    0,
                    format!("sandbox_writable: `{}` is neither absolute nor under `~/`", p.display()),
                )
                .with_hint("name the folder in full, e.g. `~/.cargo` or `/opt/cache`")
                .into());
            }
            self.sandbox_writable.push(resolved);
        }
        self.worktree_pool = f.worktree_pool.unwrap_or(self.worktree_pool);
        self.worktree_pool_size = f.worktree_pool_size.unwrap_or(self.worktree_pool_size);
        if f.attempts == Some(0) {
            return Err(Problem::new(CONFIG_FILE, 0, "attempts: must be at least 1 (1 = a rejected lane is not started again)").into());
        }
        self.attempts = f.attempts.unwrap_or(self.attempts);
        self.notify = f.notify.clone().or(self.notify.take());
        if let Some(b) = &f.budget {
            if b.usd.is_some_and(|u| !u.is_finite() || u < 0.0) {
                return Err(Problem::new(CONFIG_FILE, 0, "budget.usd: must be a number of dollars, 0 or more").into());
            }
            self.budget = b.clone();
        }
        self.setup = f.setup.clone();
        if let Some(globs) = &f.protect {
            for g in globs {
                if let Err(e) = globset::Glob::new(g) {
                    return Err(Problem::new(CONFIG_FILE, 0, format!("protect: `{g}` is not a valid glob: {}", e.kind()))
                        .with_hint("write globs such as `tests/**` or `**/test_*.py`")
                        .into());
                }
            }
            self.protect = globs.clone();
        }
        if let Some(bad) = f.integration_checks.iter().find(|c| c.trim().is_empty()) {
            return Err(Problem::new(CONFIG_FILE, 0, format!("integration_checks: `{bad}` is an empty command")).into());
        }
        self.integration_checks = f.integration_checks.clone();
        self.integration_timeout = dur(&f.integration_timeout, "integration_timeout", self.verify_timeout)?;
        if let Some(lanes) = &f.lanes {
            for l in lanes {
                names::check_lane(l).map_err(|m| Problem::new(CONFIG_FILE, 0, m))?;
            }
            self.lanes = Some(lanes.clone());
        }
        if let Err(m) = names::check_lane(&self.branch_prefix.replace('/', "-")) {
            return Err(Problem::new(CONFIG_FILE, 0, format!("branch_prefix: {m}")).into());
        }
        Ok(())
    }
}

/// Refuse absolute paths and `..` in configured paths: everything lives inside the repository.
fn check_relative(p: &Path) -> Result<()> {
    use std::path::Component;
    if p.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err(Problem::new(CONFIG_FILE, 0, format!("path `{}` must be relative and stay inside the repository", p.display())).into());
    }
    Ok(())
}

/// Parse `30`, `30s`, `10m`, `2h`, `1h30m`, `500ms` or ISO-8601 `PT30M` / `PT1H30M` / `P1D`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Some(Duration::from_secs(n));
    }
    let upper = s.to_ascii_uppercase();
    let (body, iso) = match upper.strip_prefix('P') {
        Some(rest) => (rest.replace('T', ""), true),
        None => (s.to_ascii_lowercase(), false),
    };
    let mut total = Duration::ZERO;
    let mut num = String::new();
    let mut chars = body.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        let unit = match (c.to_ascii_lowercase(), chars.peek()) {
            ('m', Some('s')) if !iso => {
                chars.next();
                0.001
            }
            ('s', _) => 1.0,
            ('m', _) => 60.0,
            ('h', _) => 3600.0,
            ('d', _) => 86400.0,
            _ => return None,
        };
        total += Duration::from_secs_f64(n * unit);
        any = true;
    }
    if !num.is_empty() || !any {
        return None;
    }
    Some(total)
}

/// Format a duration the ISO-8601 way (`PT25M`), as the seed's verdicts do.
pub fn iso_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let mut out = String::from("PT");
    if h > 0 {
        out += &format!("{h}H");
    }
    if m > 0 {
        out += &format!("{m}M");
    }
    if sec > 0 || (h == 0 && m == 0) {
        out += &format!("{sec}S");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunting_paths_come_from_the_fixing_ones() {
        let c = Config::defaults();
        let h = c.hunting();
        assert_eq!(h.signals, Path::new("LogBook/issue-hunting/signals"));
        assert_eq!(h.state, Path::new("LogBook/issue-hunting/orchestrator-state.yaml"));
        assert_eq!(h.runs, Path::new("LogBook/issue-hunting/runs"));
        assert_eq!((h.evidence, h.issues), (c.evidence.clone(), c.issues.clone()), "the rest stays");
        let both = [PathBuf::from("LogBook/issue-fixing/signals"), PathBuf::from("LogBook/issue-hunting/signals")];
        assert_eq!(c.signal_folders(), both);
        assert_eq!(c.hunting().signal_folders(), both, "a hunt's configuration names the same two");
        let mut own = c.clone();
        own.signals = "sig".into();
        assert_eq!(own.signal_folders(), [PathBuf::from("sig")]);
        assert_eq!(own.hunting().signals, Path::new("sig"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("PT30M"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_duration("PT1H30M"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(iso_duration(Duration::from_secs(1500)), "PT25M");
    }

    #[test]
    fn protect_replaces_the_default_test_locations_and_bad_globs_are_refused() {
        let o = Overrides::default();
        assert_eq!(Config::from_bytes(None, &o).unwrap().protect.len(), DEFAULT_PROTECT.len());
        let c = Config::from_bytes(Some(b"protect: [\"checks/**\"]\n".to_vec()), &o).unwrap();
        assert_eq!(c.protect, ["checks/**"]);
        assert!(Config::from_bytes(Some(b"protect: []\n".to_vec()), &o).unwrap().protect.is_empty());
        let e = Config::from_bytes(Some(b"protect: [\"tests/[a\"]\n".to_vec()), &o).unwrap_err().to_string();
        assert!(e.contains("protect: `tests/[a` is not a valid glob"), "{e}");
    }

    #[test]
    fn lanes_yaml_overrides_and_rejects_typos() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "catalog: examples/minimal_demo/SAF_ISSUE_CATALOG.md\nmax_issues: 3\nverify:\n  timeout: 5s\n",
        )
        .unwrap();
        let c = Config::load(dir.path(), &Overrides::default()).unwrap();
        assert_eq!(c.catalog, Path::new("examples/minimal_demo/SAF_ISSUE_CATALOG.md"));
        assert_eq!(c.max_issues, 3);
        assert_eq!(c.verify_timeout, Duration::from_secs(5));
        std::fs::write(dir.path().join(CONFIG_FILE), "catalgo: x\n").unwrap();
        let e = Config::load(dir.path(), &Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("lanes.yaml:1"), "{e}");
        std::fs::write(dir.path().join(CONFIG_FILE), "issues: ../outside\n").unwrap();
        assert!(Config::load(dir.path(), &Overrides::default()).is_err());
    }

    #[test]
    fn the_worktree_pool_is_on_by_default_and_can_be_turned_off_or_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(dir.path(), &Overrides::default()).unwrap();
        assert!(c.worktree_pool);
        assert_eq!(c.worktree_pool_size, 32);
        assert_eq!((c.attempts, c.budget.clone()), (2, BudgetConfig::default()));
        let yaml = "attempts: 3\nbudget:\n  usd: 12.5\n  tokens: 100000\nnotify: notify-send lanes\n";
        let c = Config::from_bytes(Some(yaml.as_bytes().to_vec()), &Overrides::default()).unwrap();
        assert_eq!(
            (c.attempts, c.budget.usd, c.budget.tokens, c.notify.as_deref()),
            (3, Some(12.5), Some(100000), Some("notify-send lanes"))
        );
        for bad in ["attempts: 0\n", "budget:\n  usd: -1\n", "budget:\n  dollars: 3\n"] {
            assert!(Config::from_bytes(Some(bad.as_bytes().to_vec()), &Overrides::default()).is_err(), "{bad}");
        }
        std::fs::write(dir.path().join(CONFIG_FILE), "worktree_pool: false\nworktree_pool_size: 4\n").unwrap();
        let c = Config::load(dir.path(), &Overrides::default()).unwrap();
        assert!(!c.worktree_pool);
        assert_eq!(c.worktree_pool_size, 4);
    }

    #[test]
    fn model_is_a_name_or_a_map_by_preset_and_agents_carry_env_and_prices() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "worker: codex\nmodel: gpt-5.2\n").unwrap();
        let c = Config::load(dir.path(), &Overrides::default()).unwrap();
        let model = c.model.unwrap();
        assert_eq!(model.pick("codex", true), Some("gpt-5.2"));
        assert_eq!(model.pick("claude", false), None, "a plain name reaches only the agent its file names");
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "model: {claude: sonnet, Codex: ' gpt-5.2 ', qwen: ''}\nagents:\n  codex:\n    env: {OPENAI_BASE_URL: 'http://127.0.0.1:9/v1'}\n    prices:\n      gpt-5.2: {input: 1.25, output: 10}\n",
        )
        .unwrap();
        let c = Config::load(dir.path(), &Overrides::default()).unwrap();
        let model = c.model.unwrap();
        assert_eq!(model.pick("claude", false), Some("sonnet"));
        assert_eq!(model.pick("codex", true), Some("gpt-5.2"));
        assert_eq!(model.pick("qwen", true), None, "an empty name is no model");
        assert_eq!(model.pick("gemini", true), None);
        assert_eq!(model.agents(), vec!["Codex", "claude", "qwen"]);
        let codex = &c.agents["codex"];
        assert_eq!(codex.env["OPENAI_BASE_URL"], "http://127.0.0.1:9/v1");
        assert_eq!(codex.prices["gpt-5.2"], Price { input: 1.25, output: 10.0 });
        std::fs::write(dir.path().join(CONFIG_FILE), "agents:\n  codex:\n    evn: {}\n").unwrap();
        assert!(Config::load(dir.path(), &Overrides::default()).is_err(), "typos under agents: are refused");
    }
}
