//! The pre-push gate's rules, one row each in [`RULES`]: what `git lanes check` refuses a push for
//! (docs/design.md#the-pre-push-gate). Every list of the rules is this table — `check --help` and
//! the installed hook's comment are rendered from it; the module doc of `check.rs` and the list in
//! docs/design.md are compared with it, rule by rule, by a test — and every [`Failure`] the gate
//! reports names the rule it breaks (its `rule` in `--json`, `[id]` on the console).
//!
//! To add a rule: add a row here (and to [`RULES`]) and the function in `check.rs` that reports its
//! failures with it; the test `every_list_of_the_rules_is_the_table` then names each list that
//! still lacks it.
//!
//! [`Failure`]: crate::gate::check::Failure
#![deny(clippy::print_stdout, clippy::print_stderr)]

/// One rule of the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rule {
    /// Short, stable name: printed with each failure (`[catalog]`) and in `--json` (`"rule"`).
    pub id: &'static str,
    /// The rule's name in lists (`Catalog in sync`).
    pub title: &'static str,
    /// What it requires, one sentence (no final period).
    pub summary: &'static str,
}

/// `lanes.yaml` at the tip must read; when it does not, it is the tip's only failure.
pub const SETTINGS: Rule = Rule {
    id: "settings",
    title: "Settings readable",
    summary: "`lanes.yaml` at the tip parses (when it does not, that is the tip's only failure)",
};

/// The catalog's generated tables match the issue files.
pub const CATALOG: Rule = Rule {
    id: "catalog",
    title: "Catalog in sync",
    summary: "the catalog equals what `git lanes sync` would generate from the issue files (`Last Updated` excepted; compared only while the issue files are valid)",
};

/// Issue files parse and agree with their names and folders.
pub const ISSUE_FILES: Rule = Rule {
    id: "issue-files",
    title: "Issue files valid",
    summary: "every issue file parses, ids are unique, each id matches its file name and each lane its folder",
};

/// A resolution comes with its own evidence.
pub const EARNED: Rule = Rule {
    id: "earned",
    title: "Resolutions earned",
    summary: "an issue becomes RESOLVED only in a change that also adds passing evidence for it written and sealed by git-lanes, matching that change's files (a run report, or evidence added before, does not count)",
};

/// Signals are runtime state.
pub const SIGNALS: Rule = Rule {
    id: "signals",
    title: "No signal files committed",
    summary: "no pushed commit (for the working tree: the index) adds or changes a signal file under the fixing or hunting signals folders",
};

/// A resolution holds no placeholder.
pub const STUBS: Rule = Rule {
    id: "stubs",
    title: "No stubs in a resolution",
    summary: "no line added to an affected path of an issue that becomes RESOLVED holds a stub marker (`TODO`, `FIXME`, `todo!()`, `unimplemented!()`, `NotImplementedError`, `pass  # placeholder`)",
};

/// What judges an issue stays as strict as it was.
pub const NOT_WEAKENED: Rule = Rule {
    id: "weakened",
    title: "Nothing judging an issue weakened",
    summary: "no pushed commit deletes an issue file (unless another file keeps its id) or changes the verification commands of an issue it has RESOLVED",
};

/// Every rule, in the order the gate checks and lists them.
pub const RULES: &[Rule] = &[SETTINGS, CATALOG, ISSUE_FILES, EARNED, SIGNALS, STUBS, NOT_WEAKENED];

impl Rule {
    /// The rule called `id`.
    pub fn by_id(id: &str) -> Option<&'static Rule> {
        RULES.iter().find(|r| r.id == id)
    }
}

/// The rules as `check --help` lists them: `id  Title: summary`, wrapped to 100 columns under
/// the title (clap wraps only lines wider than the terminal).
pub fn help() -> String {
    list("  ", "")
}

/// The rules as the installed hook's comment lists them, in `#` lines like [`help`]'s.
pub fn hook_comment() -> String {
    list("#   ", "#")
}

/// Each rule as `<lead>id  Title: summary`, continued on lines that start with `<cont>` and are
/// indented to the title, none wider than 100 columns unless a word is.
fn list(lead: &str, cont: &str) -> String {
    let w = RULES.iter().map(|r| r.id.len()).max().unwrap_or(0);
    let indent = format!("{cont:<0$}", lead.len() + w + 2);
    let mut out = String::new();
    for r in RULES {
        let mut line = format!("{lead}{:w$}  {}:", r.id, r.title);
        for word in r.summary.split(' ') {
            if line.len() + 1 + word.len() > 100 && line.len() > indent.len() {
                out.push_str(&line);
                out.push('\n');
                line = indent.clone() + word;
            } else {
                line.push(' ');
                line.push_str(word);
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// A [`Rule`] in JSON (and in remembered answers): its id.
pub(crate) mod by_id {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Rule;

    pub fn serialize<S: Serializer>(rule: &&'static Rule, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(rule.id)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<&'static Rule, D::Error> {
        let id = String::deserialize(d)?;
        Rule::by_id(&id).ok_or_else(|| D::Error::custom(format!("no gate rule is called `{id}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The items of the first list whose items start with `**`, each joined into one line:
    /// `lines` are already stripped of comment markers.
    fn list_items(lines: &[String]) -> Vec<String> {
        let mut items: Vec<String> = Vec::new();
        let mut open = false;
        for line in lines {
            let t = line.trim();
            let numbered = t.split_once(". ").filter(|(n, _)| n.parse::<u32>().is_ok()).map(|(_, b)| b);
            if let Some(body) = t.strip_prefix("- ").or(numbered).filter(|b| b.starts_with("**")) {
                items.push(body.to_string());
                open = true;
            } else if open && line.starts_with(' ') && !t.is_empty() {
                let last = items.last_mut().expect("an open item");
                last.push(' ');
                last.push_str(t);
            } else if !items.is_empty() {
                break;
            }
        }
        items
    }

    fn compare(what: &str, items: &[String]) {
        let ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        assert_eq!(items.len(), RULES.len(), "{what} lists {} rules, the table has {ids:?}:\n{items:#?}", items.len());
        for (item, rule) in items.iter().zip(RULES) {
            let want = format!("**{}** (`{}`): {}", rule.title, rule.id, rule.summary);
            assert!(item.starts_with(&want), "{what}: the rule `{}` should read\n  {want}\nbut reads\n  {item}", rule.id);
        }
    }

    fn read(rel: &str) -> String {
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
    }

    #[test]
    fn every_list_of_the_rules_is_the_table() {
        let module_doc: Vec<String> = read("src/gate/check.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//!"))
            .map(|l| l.strip_prefix(' ').unwrap_or(l).to_string())
            .collect();
        compare("the module doc of src/gate/check.rs", &list_items(&module_doc));
        let design = read("docs/design.md");
        let section = design.split("\n### The pre-push gate\n").nth(1).expect("docs/design.md has `### The pre-push gate`");
        let lines: Vec<String> = section.lines().map(str::to_string).collect();
        compare("docs/design.md#the-pre-push-gate", &list_items(&lines));
        // The installed hook's comment is checked beside the hook (`gate/hook.rs`).
        let comment = words(&hook_comment().lines().filter_map(|l| l.strip_prefix('#')).collect::<Vec<_>>().join(" "));
        for r in RULES {
            let row = words(&format!("{} {}: {}", r.id, r.title, r.summary));
            assert!(words(&help()).contains(&row), "`check --help` lacks `{}`", r.id);
            assert!(comment.contains(&row), "`hook_comment` lacks `{}`", r.id);
        }
    }

    fn words(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn ids_are_unique_and_name_their_rule() {
        for (i, r) in RULES.iter().enumerate() {
            assert!(RULES[..i].iter().all(|o| o.id != r.id), "two rules are called `{}`", r.id);
            assert_eq!(Rule::by_id(r.id), Some(r));
            assert!(!r.summary.ends_with('.'), "`{}`: one sentence, no final period", r.id);
        }
        for text in [help(), hook_comment()] {
            assert!(text.lines().all(|l| l.len() <= 100), "{text}");
            assert_eq!(
                text.lines().filter(|l| !l.starts_with(&" ".repeat(8)) && !l.starts_with("#        ")).count(),
                RULES.len(),
                "{text}"
            );
        }
    }
}
