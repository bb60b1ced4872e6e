//! The embedded example repository (`examples/demo/` and what it needs around it), written out by
//! `git lanes demo`: lanes E and M, five issues, an example worker that fixes them and hunts for
//! new ones (with hunter specs for both lanes).

/// `(path, content)` of every file of the example, relative to the repository root.
pub const FILES: &[(&str, &str)] = &[
    ("lanes.yaml", include_str!("../../lanes.yaml")),
    (
        ".gitignore",
        "# git-lanes: signal files are never committed\n/LogBook/issue-fixing/signals/*.status\n/LogBook/issue-fixing/signals/*.done\n/LogBook/issue-hunting/signals/*.status\n/LogBook/issue-hunting/signals/*.done\n",
    ),
    (".claude/agents/issue-fixers/IF-Lane-E.md", include_str!("../../.claude/agents/issue-fixers/IF-Lane-E.md")),
    (".claude/agents/issue-fixers/IF-Lane-M.md", include_str!("../../.claude/agents/issue-fixers/IF-Lane-M.md")),
    (".claude/agents/issue-hunters/IH-Lane-E.md", include_str!("../../.claude/agents/issue-hunters/IH-Lane-E.md")),
    (".claude/agents/issue-hunters/IH-Lane-M.md", include_str!("../../.claude/agents/issue-hunters/IH-Lane-M.md")),
    ("LogBook/issue-fixing/signals/.gitkeep", ""),
    ("LogBook/issue-hunting/signals/.gitkeep", ""),
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
    Ok(())
}
