//! Which model a lane's agent is given: `--model`, else the spec's `model:`, else `lanes.yaml`'s,
//! each read for the preset that will run (a plain name only reaches the agent the same file
//! names as `worker:`; a map gives each preset its own). With none, the agent CLI picks.

use crate::agents::presets::Preset;
use crate::files::config::{Config, ModelSetting};
use crate::files::spec::AgentSpec;

/// The model for a lane whose worker runs `preset`.
#[must_use]
pub fn lane_model(preset: Preset, flag: Option<&str>, spec: Option<&AgentSpec>, config: &Config) -> Option<String> {
    if let Some(m) = flag.map(str::trim).filter(|m| !m.is_empty()) {
        return Some(m.to_owned());
    }
    let from = |setting: Option<&ModelSetting>, worker: Option<&str>| {
        let names_it = worker.is_some_and(|w| w.trim().parse::<Preset>().unwrap_or(Preset::Script) == preset);
        setting.and_then(|s| s.pick(preset.name(), names_it)).map(str::to_owned)
    };
    from(spec.and_then(|s| s.model.as_ref()), spec.and_then(|s| s.worker.as_deref()))
        .or_else(|| from(config.model.as_ref(), config.worker.as_deref()))
}

/// The keys of a `model:` map that name no preset (a typo would leave that agent on its default
/// without a word).
#[must_use]
pub fn unknown_presets(setting: Option<&ModelSetting>) -> Vec<String> {
    setting.map_or_else(Vec::new, |s| s.agents().into_iter().filter(|k| k.parse::<Preset>().is_err()).map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::Path;

    fn spec(front: &str) -> AgentSpec {
        let text = format!("---\nname: IF-Lane-E\n{front}---\nbody\n");
        AgentSpec::parse(Path::new("IF-Lane-E.md"), "E", text.into_bytes()).unwrap()
    }

    #[test]
    fn a_plain_name_reaches_only_the_agent_its_own_file_names() {
        let config = Config::defaults();
        let claude_spec = spec("worker: claude\nmodel: sonnet\n");
        assert_eq!(lane_model(Preset::Claude, None, Some(&claude_spec), &config).as_deref(), Some("sonnet"));
        // `--worker codex` over a spec written for claude: codex keeps its own default.
        assert_eq!(lane_model(Preset::Codex, None, Some(&claude_spec), &config), None);
        // A spec with a plain name and no `worker:` names no agent.
        assert_eq!(lane_model(Preset::Claude, None, Some(&spec("model: sonnet\n")), &config), None);
        // A command line as the worker: the plain name is for it (it reads `LANES_MODEL`).
        let script = spec("worker: ./my-agent.sh\nmodel: local-7b\n");
        assert_eq!(lane_model(Preset::Script, None, Some(&script), &config).as_deref(), Some("local-7b"));
    }

    #[test]
    fn a_map_gives_each_preset_its_own_and_the_flag_overrides() {
        let mut config = Config::defaults();
        config.worker = Some(Preset::Claude.name().into());
        config.model = Some(ModelSetting::One("opus".into()));
        let map = spec("model: {claude: sonnet, codex: gpt-5.2}\n");
        assert_eq!(lane_model(Preset::Codex, None, Some(&map), &config).as_deref(), Some("gpt-5.2"));
        assert_eq!(lane_model(Preset::Claude, None, Some(&map), &config).as_deref(), Some("sonnet"));
        assert_eq!(lane_model(Preset::Gemini, None, Some(&map), &config), None, "no entry: the CLI's own default");
        // The spec says nothing for claude: lanes.yaml's plain name, its `worker:` being claude.
        let none = spec("worker: claude\n");
        assert_eq!(lane_model(Preset::Claude, None, Some(&none), &config).as_deref(), Some("opus"));
        assert_eq!(lane_model(Preset::Qwen, None, Some(&none), &config), None);
        assert_eq!(lane_model(Preset::Qwen, Some("qwen3-coder"), Some(&map), &config).as_deref(), Some("qwen3-coder"));
        assert_eq!(lane_model(Preset::Qwen, Some("  "), Some(&map), &config), None);
    }

    #[test]
    fn map_keys_that_name_no_preset_are_found() {
        let map = ModelSetting::ByAgent(BTreeMap::from([("claud".to_owned(), "x".to_owned()), ("Codex".to_owned(), "y".to_owned())]));
        assert_eq!(unknown_presets(Some(&map)), vec!["claud".to_owned()]);
        assert!(unknown_presets(Some(&ModelSetting::One("sonnet".into()))).is_empty());
        assert!(unknown_presets(None).is_empty());
    }
}
