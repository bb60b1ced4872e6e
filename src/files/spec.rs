//! Agent specs (`.claude/agents/issue-fixers/IF-Lane-<LANE>.md`): frontmatter plus prompt body.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::base::error::Problem;
use crate::files::config::ModelSetting;
use crate::files::frontmatter;
use crate::files::text::{self, Text};

/// A lane's agent spec.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    pub path: PathBuf,
    pub lane: String,
    pub name: String,
    pub description: Option<String>,
    /// `model:`, a name or a map by preset (see [`ModelSetting`]).
    pub model: Option<ModelSetting>,
    pub color: Option<String>,
    pub tools: Vec<String>,
    /// git-lanes extensions.
    pub worker: Option<String>,
    pub max_issues: Option<usize>,
    pub timeout: Option<String>,
    /// The paths the lane covers (`paths:`), a hunter's scope; empty when not given.
    pub paths: Vec<String>,
    /// The prompt: everything after the frontmatter.
    pub body: String,
}

#[derive(Deserialize)]
struct RawSpec {
    name: Option<String>,
    description: Option<String>,
    model: Option<ModelSetting>,
    color: Option<String>,
    #[serde(default)]
    tools: crate::files::issue::OneOrMany,
    worker: Option<String>,
    max_issues: Option<usize>,
    timeout: Option<String>,
    #[serde(default)]
    paths: crate::files::issue::OneOrMany,
}

/// The lane a spec file name belongs to: `IF-Lane-E.md` → `E` (prefix `IF-Lane-`).
pub fn lane_of_file(file_name: &str) -> Option<&str> {
    let stem = file_name.strip_suffix(".md")?;
    let (_, lane) = stem.split_once("-Lane-")?;
    Some(lane)
}

impl AgentSpec {
    pub fn parse(path: &Path, lane: &str, bytes: Vec<u8>) -> Result<AgentSpec, Problem> {
        let Text { text, .. } = text::decode("agent spec", path, bytes)?;
        let (raw, body) = match frontmatter::split(&text) {
            Some(split) => (frontmatter::parse::<RawSpec>(path, &text, &split)?, text[split.body_offset..].to_string()),
            None => return Err(Problem::new(path, 1, "agent spec has no YAML frontmatter (`---` … `---`)")),
        };
        if let Some(t) = &raw.timeout
            && crate::files::config::parse_duration(t).is_none()
        {
            return Err(Problem::new(path, 0, format!("timeout `{t}` is not a duration (e.g. 30m, PT30M)")));
        }
        Ok(AgentSpec {
            path: path.to_path_buf(),
            lane: lane.to_string(),
            name: raw
                .name
                .unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| format!("IF-Lane-{lane}"))),
            description: raw.description,
            model: raw.model,
            color: raw.color,
            tools: raw.tools.into_vec(),
            worker: raw.worker,
            max_issues: raw.max_issues,
            timeout: raw.timeout,
            paths: raw.paths.into_vec(),
            body,
        })
    }

    /// A short description of the lane for catalog headings: the spec's description up to ` - `
    /// or `(`, without the leading "Fixes issues in Lane X".
    pub fn lane_title(&self) -> Option<String> {
        let d = self.description.as_deref()?;
        let d = d.split(" (").next().unwrap_or(d);
        let d = match d.find(" - ") {
            Some(i) if d[..i].contains("Lane") => &d[i + 3..],
            _ => d,
        };
        Some(d.trim().to_string()).filter(|s| !s.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_seed_spec() {
        let bytes = include_bytes!("../../tests/fixtures/seed/agents/IF-Lane-E.md").to_vec();
        let s = AgentSpec::parse(Path::new("IF-Lane-E.md"), "E", bytes).unwrap();
        assert_eq!(s.name, "IF-Lane-E");
        assert_eq!(s.model, Some(ModelSetting::One("haiku".into())));
        assert_eq!(s.tools.len(), 6);
        assert_eq!(s.lane_title().as_deref(), Some("Customer Services & Data Protection"));
        assert!(s.body.contains("# Issue Fixer"));
        assert_eq!(lane_of_file("IF-Lane-E.md"), Some("E"));
        assert_eq!(lane_of_file("IF-Orchestrator.md"), None);
    }

    #[test]
    fn model_may_be_a_map_by_preset() {
        let text = "---\nname: IF-Lane-E\nmodel: {claude: sonnet, codex: gpt-5.2}\n---\nbody\n";
        let s = AgentSpec::parse(Path::new("IF-Lane-E.md"), "E", text.as_bytes().to_vec()).unwrap();
        let model = s.model.unwrap();
        assert_eq!(model.pick("codex", false), Some("gpt-5.2"));
        assert_eq!(model.pick("gemini", false), None);
        let block = "---\nname: IF-Lane-E\nmodel:\n  claude: sonnet\n---\nbody\n";
        let s = AgentSpec::parse(Path::new("IF-Lane-E.md"), "E", block.as_bytes().to_vec()).unwrap();
        assert_eq!(s.model.unwrap().pick("claude", false), Some("sonnet"));
    }
}
