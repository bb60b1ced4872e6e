//! The run's settings, resolved once: each is the flag if given, else the lane's spec where a
//! spec may set it, else `lanes.yaml` (with its defaults) — worked out here at the start of a
//! run, and read by every phase instead of weighing `RunOptions` against `Config` again
//! (docs/formats.md#lanesyaml lists the keys).

use std::time::Duration;

use crate::files::config::{Config, IntegrationPolicy};
use crate::files::spec::AgentSpec;
use crate::run::options::RunOptions;

/// The run-wide settings: `--flag`, else `lanes.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// How many workers run at once (`None`: no limit).
    pub max_parallel: Option<usize>,
    /// How long a worker may go on after writing `.done`.
    pub done_grace: Duration,
    /// How long a worker may show no sign of life.
    pub stall_after: Duration,
    /// Whether workers run in the sandbox.
    pub sandbox_workers: bool,
    pub policy: IntegrationPolicy,
    /// How many times a lane's worker is started in all (at least 1).
    pub attempts: u32,
    /// The whole run's budget in dollars and in tokens.
    pub budget_usd: Option<f64>,
    pub budget_tokens: Option<u64>,
    /// The command told when the run ends or a lane needs a human (never blank).
    pub notify: Option<String>,
    /// `--timeout`: every lane's time box, over the specs' and `lanes.yaml`'s.
    timeout: Option<Duration>,
    /// `lanes.yaml`'s `lane_timeout`: a lane's time box when neither the flag nor its spec sets one.
    lane_timeout: Duration,
}

impl Settings {
    /// The settings of a run given `opts`, with `config` for what they leave out.
    pub fn resolve(opts: &RunOptions, config: &Config) -> Settings {
        Settings {
            max_parallel: opts.max_parallel.or(config.max_parallel),
            done_grace: opts.done_grace.unwrap_or(config.done_grace),
            stall_after: opts.stall_after.unwrap_or(config.stall_after),
            sandbox_workers: opts.sandbox_workers.unwrap_or(config.sandbox_workers),
            policy: opts.policy.unwrap_or(config.integration),
            attempts: opts.attempts.unwrap_or(config.attempts).max(1),
            budget_usd: opts.budget_usd.or(config.budget.usd),
            budget_tokens: opts.budget_tokens.or(config.budget.tokens),
            notify: opts.notify.clone().or_else(|| config.notify.clone()).filter(|c| !c.trim().is_empty()),
            timeout: opts.timeout,
            lane_timeout: config.lane_timeout,
        }
    }

    /// A lane's time box: `--timeout`, else its spec's `timeout:`, else `lanes.yaml`'s.
    pub fn lane_timeout(&self, spec: Option<&AgentSpec>) -> Duration {
        self.timeout
            .or_else(|| spec.and_then(|s| s.timeout.as_deref()).and_then(crate::files::config::parse_duration))
            .unwrap_or(self.lane_timeout)
    }
}

#[cfg(test)]
mod tests {
    use crate::run::settings::*;

    #[test]
    fn a_flag_wins_over_lanes_yaml_and_lanes_yaml_fills_the_rest() {
        let mut config = Config::defaults();
        config.max_parallel = Some(3);
        config.attempts = 4;
        config.notify = Some("  ".into());
        config.budget.usd = Some(5.0);
        let none = Settings::resolve(&RunOptions::default(), &config);
        assert_eq!(none.max_parallel, Some(3));
        assert_eq!(none.attempts, 4);
        assert_eq!(none.notify, None, "a blank notify command is none");
        assert_eq!(none.budget_usd, Some(5.0));
        assert_eq!(none.policy, config.integration);
        let opts = RunOptions {
            max_parallel: Some(1),
            attempts: Some(0),
            notify: Some("notify-send".into()),
            budget_usd: Some(1.5),
            timeout: Some(Duration::from_secs(7)),
            ..RunOptions::default()
        };
        let flags = Settings::resolve(&opts, &config);
        assert_eq!(flags.max_parallel, Some(1));
        assert_eq!(flags.attempts, 1, "at least one attempt");
        assert_eq!(flags.notify.as_deref(), Some("notify-send"));
        assert_eq!(flags.budget_usd, Some(1.5));
        assert_eq!(flags.lane_timeout(None), Duration::from_secs(7));
        assert_eq!(none.lane_timeout(None), config.lane_timeout);
    }
}
