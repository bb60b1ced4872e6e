//! The embedded example repository (`examples/demo/` and what it needs around it), written out by
//! `git lanes demo`: lanes E and M, five issues, an example worker that fixes them and hunts for
//! new ones (with hunter specs for both lanes).

use crate::files::config::{Config, Overrides};
use crate::files::signal;

/// `(path, content)` of the example's own files, relative to the repository root; [`write()`] adds
/// what `init` would write around them for its `lanes.yaml`: the signal folders and the
/// `.gitignore` lines that keep signal files out of commits.
pub const FILES: &[(&str, &str)] = &[
    ("lanes.yaml", include_str!("../../lanes.yaml")),
    (".claude/agents/issue-fixers/IF-Lane-E.md", include_str!("../../.claude/agents/issue-fixers/IF-Lane-E.md")),
    (".claude/agents/issue-fixers/IF-Lane-M.md", include_str!("../../.claude/agents/issue-fixers/IF-Lane-M.md")),
    (".claude/agents/issue-hunters/IH-Lane-E.md", include_str!("../../.claude/agents/issue-hunters/IH-Lane-E.md")),
    (".claude/agents/issue-hunters/IH-Lane-M.md", include_str!("../../.claude/agents/issue-hunters/IH-Lane-M.md")),
    ("examples/demo/SAF_ISSUE_CATALOG.md", include_str!("../../examples/demo/SAF_ISSUE_CATALOG.md")),
    ("examples/demo/worker.sh", include_str!("../../examples/demo/worker.sh")),
    ("examples/demo/config/retention.yaml", include_str!("../../examples/demo/config/retention.yaml")),
    ("examples/demo/config/privacy-notice.md", include_str!("../../examples/demo/config/privacy-notice.md")),
    ("examples/demo/config/escalation.md", include_str!("../../examples/demo/config/escalation.md")),
    ("examples/demo/schema/orders.schema.json", include_str!("../../examples/demo/schema/orders.schema.json")),
    ("examples/demo/schema/customers.schema.json", include_str!("../../examples/demo/schema/customers.schema.json")),
    ("examples/demo/issues/E/E-01.md", include_str!("../../examples/demo/issues/E/E-01.md")),
    ("examples/demo/issues/E/E-02.md", include_str!("../../examples/demo/issues/E/E-02.md")),
    ("examples/demo/issues/E/E-03.md", include_str!("../../examples/demo/issues/E/E-03.md")),
    ("examples/demo/issues/M/M-01.md", include_str!("../../examples/demo/issues/M/M-01.md")),
    ("examples/demo/issues/M/M-02.md", include_str!("../../examples/demo/issues/M/M-02.md")),
];

/// Write the example under `root` (which must be empty).
pub fn write(root: &std::path::Path) -> crate::Result<()> {
    for (rel, content) in FILES {
        let p = root.join(rel);
        crate::base::fsutil::write_atomic(&p, content.as_bytes())?;
    }
    let config = Config::load(root, &Overrides::default())?;
    for dir in config.signal_folders() {
        crate::base::fsutil::write_atomic(&root.join(dir).join(".gitkeep"), b"")?;
    }
    let ignore: String = signal::ignore_lines(&config).iter().map(|l| format!("{l}\n")).collect();
    crate::base::fsutil::write_atomic(&root.join(".gitignore"), format!("{}{ignore}", signal::IGNORE_HEADER).as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_example_keeps_both_signal_folders_out_of_commits() {
        let d = tempfile::tempdir().unwrap();
        super::write(d.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join(".gitignore")).unwrap(),
            "# git-lanes: signal files are never committed\n/LogBook/issue-fixing/signals/*.status\n/LogBook/issue-fixing/signals/*.done\n/LogBook/issue-hunting/signals/*.status\n/LogBook/issue-hunting/signals/*.done\n"
        );
        for dir in ["LogBook/issue-fixing/signals", "LogBook/issue-hunting/signals"] {
            assert!(d.path().join(dir).join(".gitkeep").is_file(), "{dir}");
        }
    }
}
