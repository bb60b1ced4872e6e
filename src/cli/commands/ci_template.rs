//! `git lanes ci-template github|gitlab|k8s`.

use clap::{Args, ValueEnum};

use crate::cli::context::Ctx;
use crate::cli::error::{CliResult, Exit};

/// Print a CI workflow or Kubernetes Job manifest that runs one lane per job
///
/// Each job runs `git lanes run --lane <L> --no-integrate --push --run-id <id>`, so every lane's
/// branch reaches the remote with its work and verdicts; a last job runs
/// `git lanes integrate <id>` and pushes the result. The git remote is the coordination point.
#[derive(Debug, Args)]
pub struct CiTemplateArgs {
    /// The kind of template
    pub kind: Kind,
    /// Lanes to run (default: the repository's lanes)
    #[arg(long = "lane", value_name = "LANE")]
    pub lanes: Vec<String>,
    /// The worker each job runs (a preset or a command line)
    #[arg(long, default_value = "claude")]
    pub worker: String,
}

/// Which template.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Github,
    Gitlab,
    K8s,
}

pub fn run(args: CiTemplateArgs, ctx: &Ctx) -> CliResult {
    let lanes = if args.lanes.is_empty() {
        let (_repo, ws) = ctx.workspace()?;
        let cat = match ctx.catalog(&ws)? {
            Some(Ok(c)) => c.lanes(),
            _ => vec![],
        };
        ws.lanes(&cat)
    } else {
        args.lanes
    };
    for l in &lanes {
        crate::names::check_lane(l).map_err(crate::cli::error::CliError::usage)?;
    }
    let text = match args.kind {
        Kind::Github => github(&lanes, &args.worker),
        Kind::Gitlab => gitlab(&lanes, &args.worker),
        Kind::K8s => k8s(&lanes, &args.worker),
    };
    ctx.ui.out(text.trim_end())?;
    Ok(Exit::Success)
}

fn quoted_list(lanes: &[String]) -> String {
    lanes.iter().map(|l| format!("\"{l}\"")).collect::<Vec<_>>().join(", ")
}

fn github(lanes: &[String], worker: &str) -> String {
    let worker = crate::presets::shell_quote(worker);
    format!(
        r#"# .github/workflows/lanes.yml — one job per lane, then one integration job (git lanes ci-template github)
name: lanes
on: workflow_dispatch
permissions:
  contents: write
jobs:
  lane:
    runs-on: ubuntu-latest
    strategy:
      fail-fast: false
      matrix:
        lane: [{lanes}]
    steps:
{setup}      - run: git lanes run --lane "${{{{ matrix.lane }}}}" --no-integrate --push --run-id "gh-${{{{ github.run_id }}}}" --worker {worker}
        env:
          ANTHROPIC_API_KEY: ${{{{ secrets.ANTHROPIC_API_KEY }}}}
  integrate:
    needs: lane
    if: always()
    runs-on: ubuntu-latest
    steps:
{setup}      - run: git lanes integrate "gh-${{{{ github.run_id }}}}" --push
"#,
        lanes = quoted_list(lanes),
        setup = GITHUB_SETUP_STEPS,
    )
}

/// The steps both GitHub jobs start with: full history (lane branches and the merge base), git-lanes, a
/// committer identity.
const GITHUB_SETUP_STEPS: &str = r#"      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - run: cargo install --locked git-lanes
      - run: git config user.name "git-lanes" && git config user.email "git-lanes@users.noreply.github.com"
"#;

fn gitlab(lanes: &[String], worker: &str) -> String {
    let worker = crate::presets::shell_quote(worker);
    format!(
        r#"# .gitlab-ci.yml — one job per lane, then one integration job (git lanes ci-template gitlab)
stages: [lanes, integrate]
variables:
  GIT_DEPTH: "0"
.git-lanes: &git-lanes
  image: rust:latest
  before_script:
    - cargo install --locked git-lanes
    - git config user.name "git-lanes" && git config user.email "git-lanes@example.invalid"
    - git remote set-url origin "https://oauth2:${{LANES_PUSH_TOKEN}}@${{CI_SERVER_HOST}}/${{CI_PROJECT_PATH}}.git"
lane:
  <<: *git-lanes
  stage: lanes
  parallel:
    matrix:
      - LANE: [{lanes}]
  script:
    - git lanes run --lane "$LANE" --no-integrate --push --run-id "gl-$CI_PIPELINE_ID" --worker {worker}
integrate:
  <<: *git-lanes
  stage: integrate
  when: always
  script:
    - git lanes integrate "gl-$CI_PIPELINE_ID" --push
"#,
        lanes = quoted_list(lanes)
    )
}

fn k8s(lanes: &[String], worker: &str) -> String {
    let worker = crate::presets::shell_quote(worker);
    let n = lanes.len();
    let list = lanes.join(" ");
    format!(
        r#"# One Pod per lane (an Indexed Job), then run `git lanes integrate <RUN_ID>` anywhere
# (git lanes ci-template k8s). Set RUN_ID, the image (git, git-lanes and your agent CLI) and the
# secret holding the push credentials and API keys.
apiVersion: batch/v1
kind: Job
metadata:
  name: git-lanes-run
spec:
  completionMode: Indexed
  completions: {n}
  parallelism: {n}
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: lane
          image: your-registry/git-lanes-worker:latest
          envFrom:
            - secretRef:
                name: git-lanes
          env:
            - name: RUN_ID
              value: "k8s-run-1"
            - name: LANES
              value: "{list}"
          command: ["/bin/sh", "-c"]
          args:
            - |
              set -e
              lane=$(echo "$LANES" | cut -d' ' -f$((JOB_COMPLETION_INDEX + 1)))
              git clone "$REPO_URL" repo && cd repo
              git lanes run --lane "$lane" --no-integrate --push --run-id "$RUN_ID" --worker {worker}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_yaml_naming_every_lane() {
        let lanes = vec!["E".to_string(), "Data_2".to_string()];
        for text in [github(&lanes, "claude"), gitlab(&lanes, "sh it's.sh"), k8s(&lanes, "codex")] {
            let v: serde_json::Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert!(!v.is_null());
            assert!(text.contains("Data_2") && text.contains("--no-integrate --push"), "{text}");
        }
        assert_eq!(github(&lanes, "claude").matches("fetch-depth: 0").count(), 2, "both GitHub jobs fetch the full history");
    }
}
