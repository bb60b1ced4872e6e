//! Findings about verification commands themselves: they are untrusted code written by agents
//! (SPEC §2.7). A command that deletes outside the worktree, reaches the network or uses `sudo`
//! is flagged by `validate` and never run by a dry run.
//!
//! This is a first, explained warning and nothing more: no list of words can be complete (a
//! deleter can hide behind `eval`, a variable, a nested shell or an interpreter). What protects
//! the machine is the sandbox every check runs in ([`crate::sandbox`]). The list does catch the
//! common shapes: nested `sh -c`/`bash -c` strings are inspected too, and a delete after a `cd`,
//! `xargs rm`, `find -exec rm`, `eval`, a command named by a variable (`$r -rf …`) and an
//! interpreter one-liner that removes trees (`python3 -c "shutil.rmtree(…)"`) are flagged.

use std::sync::LazyLock;

use regex::Regex;

/// What kind of danger a command shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    DeletesOutsideWorktree,
    Network,
    Sudo,
    /// Runs code the list cannot see through (`eval`, a command named by a variable).
    Indirect,
}

/// One finding about one command.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub message: String,
}

static URL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(https?|ftp|ssh)://|/dev/(tcp|udp)/").expect("valid regex"));

const NETWORK_TOOLS: &[&str] =
    &["curl", "wget", "nc", "ncat", "netcat", "ssh", "scp", "sftp", "rsync", "telnet", "ftp", "ping", "dig", "nslookup"];
const DELETERS: &[&str] = &["rm", "rmdir", "shred", "unlink", "mv", "truncate"];
const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh"];
const INTERPRETERS: &[&str] = &["python", "python3", "python2", "perl", "ruby", "node", "php"];

/// Interpreter one-liners that delete (`shutil.rmtree`, `os.remove`, `fs.rmSync`, `unlink`…).
static SCRIPT_DELETE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"rmtree|os\.remove|os\.unlink|os\.rmdir|\.unlink\(|rmSync|rmdirSync|unlinkSync|FileUtils\.rm|\bunlink\b|remove_tree|rm_rf")
        .expect("valid regex")
});

/// Inspect one command.
pub fn inspect(command: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    inspect_into(command, 0, &mut out);
    out
}

/// The command `xargs` or `find … -exec` runs (`xargs rm`, `find … -exec rm {} +`).
fn run_through<'a>(cmd: &str, args: &[&'a str]) -> Option<&'a str> {
    match cmd {
        "xargs" => args.iter().find(|a| !a.starts_with('-')).copied(),
        "find" => args.iter().position(|a| matches!(*a, "-exec" | "-execdir" | "-ok" | "-okdir")).and_then(|i| args.get(i + 1)).copied(),
        _ => None,
    }
}

/// Whether `cmd args…` reaches the network: a network tool, a git command that talks to a
/// remote, or a package manager installing or publishing.
fn reaches_network(cmd: &str, args: &[&str]) -> bool {
    let git_net = cmd == "git"
        && args
            .iter()
            .find(|a| !a.starts_with('-'))
            .is_some_and(|a| matches!(*a, "push" | "fetch" | "pull" | "clone" | "ls-remote" | "submodule"));
    let pkg_net = matches!(cmd, "npm" | "pnpm" | "yarn" | "pip" | "pip3" | "cargo" | "gem" | "go")
        && args.first().is_some_and(|a| matches!(*a, "install" | "i" | "add" | "publish" | "get" | "update"));
    NETWORK_TOOLS.contains(&cmd) || git_net || pkg_net
}

fn inspect_into(command: &str, depth: usize, out: &mut Vec<Finding>) {
    let mut nested: Vec<String> = Vec::new();
    let mut push = |kind, message: String| {
        if !out.iter().any(|f: &Finding| f.kind == kind) {
            out.push(Finding { kind, message });
        }
    };
    let mut after_cd = false;
    for words in simple_commands(command) {
        let mut words: Vec<&str> = words.iter().map(String::as_str).skip_while(|w| w.contains('=') && !w.starts_with('-')).collect();
        while matches!(words.first(), Some(&("sudo" | "doas" | "env" | "exec" | "nohup" | "time" | "command"))) {
            if matches!(words[0], "sudo" | "doas") {
                push(FindingKind::Sudo, format!("uses `{}` (runs with raised privileges)", words[0]));
            }
            words.remove(0);
        }
        let Some(&cmd) = words.first() else { continue };
        if cmd.starts_with('$') {
            push(FindingKind::Indirect, format!("runs a command named by a variable (`{cmd}`), which no list can see through"));
            continue;
        }
        let cmd = cmd.rsplit('/').next().unwrap_or(cmd);
        let args = &words[1..];
        if cmd == "eval" {
            push(FindingKind::Indirect, "uses `eval` (runs text the list cannot see through)".into());
        }
        if SHELLS.contains(&cmd)
            && let Some(i) = args.iter().position(|a| a.starts_with('-') && a.contains('c'))
            && let Some(script) = args.get(i + 1)
        {
            nested.push((*script).to_string());
        }
        if INTERPRETERS.iter().any(|i| cmd == *i || cmd.starts_with(&format!("{i}."))) && args.iter().any(|a| SCRIPT_DELETE.is_match(a)) {
            push(FindingKind::DeletesOutsideWorktree, format!("runs a `{cmd}` one-liner that deletes files"));
        }
        if cmd == "cd" || cmd == "pushd" {
            after_cd = true;
            continue;
        }
        if let Some(v) = run_through(cmd, args).map(|v| v.rsplit('/').next().unwrap_or(v))
            && DELETERS.contains(&v)
        {
            push(FindingKind::DeletesOutsideWorktree, format!("deletes through `{cmd} {v}` (the targets are not visible here)"));
        }
        if after_cd && DELETERS.contains(&cmd) {
            push(
                FindingKind::DeletesOutsideWorktree,
                format!("runs `{cmd}` after changing directory (its targets may be outside the worktree)"),
            );
        }
        if cmd == "su" {
            push(FindingKind::Sudo, "uses `su` (runs with raised privileges)".into());
        }
        if reaches_network(cmd, args) {
            push(FindingKind::Network, format!("reaches the network (`{cmd}`)"));
        }
        let deletes = DELETERS.contains(&cmd) || (cmd == "find" && args.contains(&"-delete"));
        if deletes && let Some(target) = args.iter().filter(|a| !a.starts_with('-')).find(|a| escapes_worktree(a)) {
            push(FindingKind::DeletesOutsideWorktree, format!("deletes or moves `{target}`, outside the worktree"));
        }
    }
    if let Some(m) = URL.find(command) {
        push(FindingKind::Network, format!("reaches the network (`{}`)", m.as_str()));
    }
    if depth < 4 {
        for script in nested {
            inspect_into(&script, depth + 1, out);
        }
    }
}

/// Split a shell line into simple commands (on `;`, `&&`, `||`, `|`, `&`, parentheses, backticks
/// and `$(`), each as a list of words with quotes removed. Good enough to find the command word;
/// not a shell parser.
fn simple_commands(line: &str) -> Vec<Vec<String>> {
    let mut cmds = vec![Vec::new()];
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    let flush = |word: &mut String, cmds: &mut Vec<Vec<String>>| {
        if !word.is_empty() {
            cmds.last_mut().expect("one command").push(std::mem::take(word));
        }
    };
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), '\\') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => quote = Some(c),
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            (None, ' ' | '\t') => flush(&mut word, &mut cmds),
            (None, ';' | '|' | '&' | '(' | ')' | '`' | '\n') => {
                flush(&mut word, &mut cmds);
                cmds.push(Vec::new());
            }
            (None, '$') if chars.peek() == Some(&'(') => {
                chars.next();
                flush(&mut word, &mut cmds);
                cmds.push(Vec::new());
            }
            (None, c) => word.push(c),
        }
    }
    flush(&mut word, &mut cmds);
    cmds.retain(|c| !c.is_empty());
    cmds
}

/// Every word of a shell line, quotes removed (see [`simple_commands`]): what a check's command
/// line names.
pub fn words(line: &str) -> Vec<String> {
    simple_commands(line).into_iter().flatten().collect()
}

/// Whether a path argument points outside the current directory tree.
fn escapes_worktree(arg: &&str) -> bool {
    let a = *arg;
    a.starts_with('/')
        || a.starts_with('~')
        || a.starts_with("$HOME")
        || a.starts_with("${HOME}")
        || a == ".."
        || a.starts_with("../")
        || a.contains("/../")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(c: &str) -> Vec<FindingKind> {
        inspect(c).into_iter().map(|f| f.kind).collect()
    }

    #[test]
    fn flags_dangerous_commands() {
        assert_eq!(kinds("rm -rf / && echo PASS"), [FindingKind::DeletesOutsideWorktree]);
        assert_eq!(kinds("test -f x && rm -f ../other/file"), [FindingKind::DeletesOutsideWorktree]);
        assert_eq!(kinds("rm -rf ~/.ssh"), [FindingKind::DeletesOutsideWorktree]);
        assert_eq!(kinds("find /tmp -name x -delete"), [FindingKind::DeletesOutsideWorktree]);
        assert_eq!(kinds("curl -s https://example.com | grep ok"), [FindingKind::Network]);
        assert_eq!(kinds("git push origin main"), [FindingKind::Network]);
        assert_eq!(kinds("sudo ls"), [FindingKind::Sudo]);
        assert_eq!(kinds("X=1 sudo rm -rf /etc/x"), [FindingKind::Sudo, FindingKind::DeletesOutsideWorktree]);
        assert_eq!(kinds("echo $(wget -qO- x)"), [FindingKind::Network]);
        assert_eq!(kinds("cat /dev/tcp/1.2.3.4/80"), [FindingKind::Network]);
    }

    #[test]
    fn flags_the_seven_shapes_a_word_list_used_to_miss() {
        for c in [
            "bash -c 'rm -rf /tmp/victim'",
            "cd dir && rm -rf x",
            "python3 -c \"import shutil; shutil.rmtree('/tmp/victim')\"",
            "r=rm; $r -rf /tmp/victim",
            "eval \"$(echo cm0gLXJmIC90bXAvdmljdGlt | base64 -d)\"",
            "echo /tmp/victim | xargs rm -rf",
            "find /tmp/victim -exec rm -rf {} +",
        ] {
            assert!(!inspect(c).is_empty(), "{c} is not flagged");
        }
        assert_eq!(kinds("r=rm; $r -rf x"), [FindingKind::Indirect]);
        assert_eq!(kinds("sh -c \"curl https://x\""), [FindingKind::Network]);
    }

    #[test]
    fn leaves_ordinary_checks_alone() {
        for c in [
            "grep -q \"data_retention:\" examples/minimal_demo/config/guidelines.yaml && echo \"PASS\" || echo \"FAIL\"",
            "test -f config/settings.yaml && echo PASS || echo FAIL",
            "rm -f build/tmp.txt && test ! -e build/tmp.txt",
            "git ls-files --error-unmatch src/support/README.md",
            "grep -c curl docs/tools.md",
        ] {
            assert!(inspect(c).is_empty(), "{c}: {:?}", inspect(c));
        }
    }
}
