//! Where each agent CLI sends its requests and with which credentials, as `git lanes doctor`
//! shows it: the variables and files each CLI reads to be pointed at a gateway or a self-hosted
//! model (read from its `--help`, its documentation or its bundled source at the checked
//! version). Only names are shown, never a key's value.

use std::path::{Path, PathBuf};

use super::preset::Preset;

/// What one CLI reads to find its API.
struct Gateway {
    /// Variables that point it at another endpoint, in the order it prefers them.
    url_vars: &'static [&'static str],
    /// Variables it takes a key or token from.
    key_vars: &'static [&'static str],
    /// Configuration files (relative to `$HOME`) where a provider can be set instead.
    files: &'static [&'static str],
    /// Its endpoint when nothing is set.
    default: &'static str,
}

fn gateway(preset: Preset) -> Option<Gateway> {
    Some(match preset {
        Preset::Claude => Gateway {
            url_vars: &["ANTHROPIC_BASE_URL"],
            key_vars: &["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"],
            files: &[".claude/settings.json", ".claude/.credentials.json"],
            default: "Anthropic's API (or the login in ~/.claude)",
        },
        // Codex ignores OPENAI_BASE_URL: another endpoint is a provider in its config.toml.
        Preset::Codex => Gateway {
            url_vars: &[],
            key_vars: &["OPENAI_API_KEY", "CODEX_API_KEY"],
            files: &[".codex/config.toml", ".codex/auth.json"],
            default: "OpenAI's API (or the ChatGPT login in ~/.codex/auth.json)",
        },
        Preset::Gemini => Gateway {
            url_vars: &["GOOGLE_GEMINI_BASE_URL"],
            key_vars: &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
            files: &[".gemini/settings.json"],
            default: "Google's Gemini API",
        },
        Preset::Qwen => Gateway {
            url_vars: &["OPENAI_BASE_URL"],
            key_vars: &["OPENAI_API_KEY"],
            files: &[".qwen/settings.json"],
            default: "the provider chosen in ~/.qwen/settings.json (Qwen OAuth when none)",
        },
        Preset::Opencode => Gateway {
            url_vars: &[],
            key_vars: &["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENCODE_API_KEY"],
            files: &[".config/opencode/opencode.json", ".local/share/opencode/auth.json"],
            default: "opencode's own provider (or one set in its opencode.json)",
        },
        Preset::Copilot => Gateway {
            url_vars: &["COPILOT_PROVIDER_BASE_URL"],
            key_vars: &["COPILOT_PROVIDER_API_KEY", "COPILOT_PROVIDER_BEARER_TOKEN", "COPILOT_GITHUB_TOKEN", "GH_TOKEN", "GITHUB_TOKEN"],
            files: &[".copilot/config.json"],
            default: "GitHub Copilot's model routing",
        },
        Preset::Aider => Gateway {
            url_vars: &["OPENAI_API_BASE", "ANTHROPIC_API_BASE"],
            key_vars: &["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY"],
            files: &[".aider.conf.yml"],
            default: "the provider of the model it is given",
        },
        Preset::Script => return None,
    })
}

/// One line saying where `preset`'s CLI would send requests and with what: the endpoint
/// variable that is set (with its value: a URL), else its default; the key variables that are
/// set (names only); its configuration files that exist. `var` reads a variable as the worker
/// would see it (the environment with `lanes.yaml`'s `agents.<preset>.env` over it).
#[must_use]
pub fn describe(preset: Preset, var: &dyn Fn(&str) -> Option<String>, home: Option<&Path>) -> Option<String> {
    let g = gateway(preset)?;
    let set = |name: &str| var(name).is_some_and(|v| !v.trim().is_empty());
    let endpoint = g
        .url_vars
        .iter()
        .find(|n| set(n))
        .map(|name| format!("{} (from {name})", crate::base::redact::redact(&var(name).unwrap_or_default())))
        .unwrap_or_else(|| g.default.to_owned());
    let keys: Vec<&str> = g.key_vars.iter().filter(|n| set(n)).copied().collect();
    let keys = if keys.is_empty() { "no key variable set".to_owned() } else { format!("key from {}", keys.join(", ")) };
    let files: Vec<PathBuf> = home.map(|h| g.files.iter().map(|f| h.join(f)).filter(|p| p.is_file()).collect()).unwrap_or_default();
    let files = if files.is_empty() {
        String::new()
    } else {
        format!("; reads {}", files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))
    };
    Some(format!("{endpoint}; {keys}{files}"))
}

#[cfg(test)]
mod tests {
    use crate::agents::presets::endpoints::*;

    #[test]
    fn names_the_endpoint_variable_and_the_keys_set_never_their_values() {
        let env = |name: &str| match name {
            "ANTHROPIC_BASE_URL" => Some("http://127.0.0.1:8080".to_owned()),
            "ANTHROPIC_API_KEY" => Some("sk-ant-api03-secretsecretsecret".to_owned()),
            _ => None,
        };
        let line = describe(Preset::Claude, &env, None).unwrap();
        assert_eq!(line, "http://127.0.0.1:8080 (from ANTHROPIC_BASE_URL); key from ANTHROPIC_API_KEY");
        let codex = describe(Preset::Codex, &env, None).unwrap();
        assert!(codex.starts_with("OpenAI's API") && codex.ends_with("no key variable set"), "{codex}");
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".codex")).unwrap();
        std::fs::write(home.path().join(".codex/config.toml"), "model_provider = \"local\"\n").unwrap();
        assert!(describe(Preset::Codex, &env, Some(home.path())).unwrap().contains(".codex/config.toml"));
        assert_eq!(describe(Preset::Script, &env, None), None);
    }
}
