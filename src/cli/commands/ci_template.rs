//! `git lanes ci-template github|gitlab|k8s`.

use clap::{Args, ValueEnum};

use crate::agents::presets::Preset;
use crate::cli::context::Ctx;
use crate::cli::error::{CliResult, Exit};

/// Print a CI workflow or Kubernetes Job manifest that runs one lane per job
///
/// Each job runs `git lanes run --lane <L> --no-integrate --push --run-id <id>`, so every lane's
/// branch reaches the remote with its work and verdicts; a last job runs
/// `git lanes integrate <id>` and pushes the result. The git remote is the coordination point.
/// git-lanes is not on crates.io: the jobs install it from its git repository (`--install-from`,
/// else the CI variable `GIT_LANES_REPO`), and install the worker preset's agent CLI with the
/// credentials it reads (for the `k8s` Job, the image built from git-lanes' `Containerfile` has
/// every preset's CLI).
#[derive(Debug, Args)]
pub struct CiTemplateArgs {
    /// The kind of template
    pub kind: CiSystem,
    /// Lanes to run (default: the repository's lanes)
    #[arg(long = "lane", value_name = "LANE")]
    pub lanes: Vec<String>,
    /// The worker each job runs (a preset or a command line)
    #[arg(long, default_value = Preset::Claude.name(), value_parser = crate::cli::args::WorkerValue, hide_possible_values = true)]
    pub worker: String,
    /// git-lanes' own git repository, for `cargo install --git` (default: the CI variable
    /// GIT_LANES_REPO)
    #[arg(long, value_name = "URL")]
    pub install_from: Option<String>,
    /// The image of the k8s Job's pods (built from git-lanes' Containerfile)
    #[arg(long, value_name = "IMAGE", default_value = "git-lanes-agents:latest")]
    pub image: String,
}

/// Which template.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CiSystem {
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
        crate::files::names::check_lane(l).map_err(crate::cli::error::CliError::usage)?;
    }
    let t = Template { lanes: &lanes, worker: &args.worker, install_from: args.install_from.as_deref(), image: &args.image };
    let text = match args.kind {
        CiSystem::Github => github(&t),
        CiSystem::Gitlab => gitlab(&t),
        CiSystem::K8s => k8s(&t),
    };
    ctx.ui.out(text.trim_end())?;
    Ok(Exit::Success)
}

/// What a template is made from.
struct Template<'a> {
    lanes: &'a [String],
    worker: &'a str,
    install_from: Option<&'a str>,
    image: &'a str,
}

impl Template<'_> {
    fn preset(&self) -> Option<Preset> {
        self.worker.trim().parse::<Preset>().ok().filter(|p| p.agent().program().is_some())
    }

    /// The worker as one shell word.
    fn worker_word(&self) -> String {
        crate::agents::presets::shell_quote(self.worker)
    }

    /// `cargo install` from git-lanes' repository: the URL given, or the CI variable `var`.
    fn install_git_lanes(&self, var: &str) -> String {
        let from = self.install_from.map_or_else(|| format!("\"{var}\""), crate::agents::presets::shell_quote);
        format!("cargo install --locked --git {from} git-lanes")
    }

    /// The shell commands that install the preset's agent CLI (none for a command line).
    fn install_agent(&self) -> Vec<String> {
        let Some(preset) = self.preset() else { return vec![] };
        let agent = preset.agent();
        let mut lines = vec![match preset {
            // Debian/Ubuntu pythons refuse a system-wide pip install (PEP 668).
            Preset::Aider => format!(
                "python3 -m venv \"$HOME/.aider-venv\" && \"$HOME/.aider-venv/bin/pip\" install {} && ln -sf \"$HOME/.aider-venv/bin/aider\" /usr/local/bin/aider 2>/dev/null || echo \"$HOME/.aider-venv/bin\" >> \"${{GITHUB_PATH:-/dev/null}}\"",
                agent.package
            ),
            _ => format!("npm install -g {}", agent.package),
        }];
        if preset == Preset::Qwen {
            // Headless qwen needs an auth type chosen in its settings.
            lines.push(
                r#"mkdir -p "$HOME/.qwen" && echo '{"security":{"auth":{"selectedType":"openai"}}}' > "$HOME/.qwen/settings.json""#.into(),
            );
        }
        lines
    }

    /// The environment variables the agent reads its credentials from.
    fn keys(&self) -> &'static [&'static str] {
        self.preset().map_or(&[], |p| p.agent().keys)
    }

    fn lane_list(&self) -> String {
        self.lanes.iter().map(|l| format!("\"{l}\"")).collect::<Vec<_>>().join(", ")
    }
}

fn github(t: &Template<'_>) -> String {
    let mut setup = String::from("      - uses: actions/checkout@v4\n        with:\n          fetch-depth: 0\n");
    setup.push_str(&format!("      - run: {}\n", t.install_git_lanes("${{ vars.GIT_LANES_REPO }}")));
    setup.push_str("      - run: git config user.name \"git-lanes\" && git config user.email \"git-lanes@users.noreply.github.com\"\n");
    let mut lane_setup = setup.clone();
    for line in t.install_agent() {
        lane_setup.push_str(&format!("      - run: {}\n", yaml_scalar(&line)));
    }
    let mut env = String::new();
    for key in t.keys() {
        env.push_str(&format!("          {key}: ${{{{ secrets.{key} }}}}\n"));
    }
    let env = if env.is_empty() { String::new() } else { format!("        env:\n{env}") };
    format!(
        r#"# .github/workflows/lanes.yml — one job per lane, then one integration job (git lanes ci-template github)
# git-lanes is installed from its git repository: set the repository variable GIT_LANES_REPO to its URL
# (or print this again with --install-from <URL>); the agent's credentials come from repository secrets.
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
{lane_setup}      - run: git lanes run --lane "${{{{ matrix.lane }}}}" --no-integrate --push --run-id "gh-${{{{ github.run_id }}}}" --worker {worker}
{env}  integrate:
    needs: lane
    if: always()
    runs-on: ubuntu-latest
    steps:
{setup}      - run: git lanes integrate "gh-${{{{ github.run_id }}}}" --push
"#,
        lanes = t.lane_list(),
        worker = t.worker_word(),
    )
}

/// A YAML plain scalar when the line allows one, else a single-quoted one.
fn yaml_scalar(line: &str) -> String {
    if line.contains(": ") || line.contains(" #") || line.starts_with(['\'', '"', '{', '[', '&', '*', '!', '|', '>', '%', '@', '`']) {
        format!("'{}'", line.replace('\'', "''"))
    } else {
        line.to_owned()
    }
}

fn gitlab(t: &Template<'_>) -> String {
    // A node image (the npm CLIs want a current node) with a current Rust from rustup (git-lanes
    // needs a newer one than Debian ships) to build git-lanes from its repository.
    let mut before = vec![
        "curl --proto '=https' -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal".to_string(),
        ". \"$HOME/.cargo/env\"".to_string(),
        t.install_git_lanes("$GIT_LANES_REPO"),
    ];
    if t.preset() == Some(Preset::Aider) {
        before.insert(0, "apt-get update && apt-get install -y --no-install-recommends python3-venv".into());
    }
    before.extend(t.install_agent());
    before.push(r#"git config user.name "git-lanes" && git config user.email "git-lanes@example.invalid""#.into());
    before.push(r#"git remote set-url origin "https://oauth2:${LANES_PUSH_TOKEN}@${CI_SERVER_HOST}/${CI_PROJECT_PATH}.git""#.into());
    let before: String = before.iter().map(|l| format!("    - {}\n", yaml_scalar(l))).collect();
    let keys = t.keys();
    let keys = if keys.is_empty() { String::new() } else { format!(" ({} as masked CI/CD variables)", keys.join(", ")) };
    format!(
        r#"# .gitlab-ci.yml — one job per lane, then one integration job (git lanes ci-template gitlab)
# Set the CI/CD variables GIT_LANES_REPO (git-lanes' git URL, for cargo install), LANES_PUSH_TOKEN and
# the agent's credentials{keys}.
stages: [lanes, integrate]
variables:
  GIT_DEPTH: "0"
.git-lanes: &git-lanes
  image: node:22-bookworm
  before_script:
{before}lane:
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
        lanes = t.lane_list(),
        worker = t.worker_word(),
    )
}

fn k8s(t: &Template<'_>) -> String {
    let n = t.lanes.len();
    let list = t.lanes.join(" ");
    let keys = t.keys();
    let keys = if keys.is_empty() { String::new() } else { format!(", {}", keys.join(", ")) };
    format!(
        r#"# One Pod per lane (an Indexed Job), then run `git lanes integrate <RUN_ID>` anywhere
# (git lanes ci-template k8s). The image is built from the Containerfile in git-lanes' repository
# (git, git-lanes and every preset's agent CLI, a non-root user):
#   podman build -t {image} -f Containerfile .   (then push it where the cluster pulls from)
# The secret `git-lanes` holds REPO_URL (with push credentials) and the agent's keys{keys}.
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
          image: {image}
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
              git config user.name "git-lanes" && git config user.email "git-lanes@example.invalid"
              git lanes run --lane "$lane" --no-integrate --push --run-id "$RUN_ID" --worker {worker}
"#,
        image = t.image,
        worker = t.worker_word(),
    )
}

#[cfg(test)]
mod tests {
    use crate::cli::commands::ci_template::*;

    fn t<'a>(lanes: &'a [String], worker: &'a str) -> Template<'a> {
        Template { lanes, worker, install_from: None, image: "git-lanes-agents:latest" }
    }

    #[test]
    fn templates_are_yaml_naming_every_lane_for_every_preset() {
        let lanes = vec!["E".to_string(), "Data_2".to_string()];
        let mut workers: Vec<&str> = Preset::NAMES.to_vec();
        workers.push("sh it's.sh");
        for worker in workers {
            for text in [github(&t(&lanes, worker)), gitlab(&t(&lanes, worker)), k8s(&t(&lanes, worker))] {
                let v: serde_json::Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{worker}: {e}\n{text}"));
                assert!(!v.is_null());
                assert!(text.contains("Data_2") && text.contains("--no-integrate --push"), "{text}");
                // Not on crates.io: never `cargo install git-lanes` from the registry.
                assert!(!text.contains("cargo install --locked git-lanes"), "{text}");
            }
        }
        assert_eq!(
            github(&t(&lanes, Preset::Claude.name())).matches("fetch-depth: 0").count(),
            2,
            "both GitHub jobs fetch the full history"
        );
    }

    #[test]
    fn each_preset_gets_its_cli_and_its_credentials() {
        let lanes = vec!["E".to_string()];
        let gh = github(&t(&lanes, Preset::Codex.name()));
        assert!(gh.contains("npm install -g @openai/codex") && gh.contains("OPENAI_API_KEY: ${{ secrets.OPENAI_API_KEY }}"), "{gh}");
        assert!(gh.contains("cargo install --locked --git \"${{ vars.GIT_LANES_REPO }}\" git-lanes"), "{gh}");
        let gl = gitlab(&Template { install_from: Some("https://example.org/git-lanes.git"), ..t(&lanes, Preset::Aider.name()) });
        assert!(gl.contains("cargo install --locked --git https://example.org/git-lanes.git git-lanes"), "{gl}");
        assert!(gl.contains("pip\" install aider-chat"), "{gl}");
        assert!(gitlab(&t(&lanes, Preset::Qwen.name())).contains("selectedType"));
        let own = github(&t(&lanes, "sh my-worker.sh"));
        assert!(!own.contains("npm install") && !own.contains("${{ secrets."), "{own}");
        let k = k8s(&t(&lanes, Preset::Copilot.name()));
        assert!(k.contains("image: git-lanes-agents:latest") && k.contains("COPILOT_GITHUB_TOKEN") && k.contains("Containerfile"), "{k}");
    }
}
