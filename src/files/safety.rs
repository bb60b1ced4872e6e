//! Findings about verification commands themselves: they are untrusted code written by agents
//! (docs/design.md#the-check-sandbox-and-read-only-git-folders). A command that deletes outside
//! the worktree, reaches the network or uses `sudo` is flagged by `validate` and never run by a
//! dry run.
//!
//! This is a first, explained warning and nothing more: no list of words can be complete (a
//! deleter can hide behind `eval`, a variable, a nested shell or an interpreter). What protects
//! the machine is the sandbox every check runs in ([`crate::exec::sandbox`]). The list does catch the
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
    /// Writes the repository's git data: a file under `.git` (deleted, moved, copied over or
    /// redirected into) or a git command that moves refs, rewrites config or prunes objects.
    WritesGitData,
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

/// Commands that write the paths they are given (besides [`DELETERS`]).
const WRITERS: &[&str] = &["cp", "tee", "touch", "mkdir", "ln", "chmod", "chown", "install", "dd", "rsync", "sed", "perl"];

/// A redirection into the git folder (`> .git/config`, `>> x/.git/info/exclude`).
static GIT_REDIRECT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#">\|?>?\s*['"]?(?:[^\s'"]*/)?\.git(?:/|['"\s;|&)]|$)"#).expect("valid regex"));

/// Whether a path argument names the git folder or something in it (`.git`, `.git/hooks/x`,
/// `sub/.git/config`; not `.gitignore`).
fn in_git_folder(arg: &str) -> bool {
    let a = arg.trim_start_matches(['=', '@']);
    a.split('/').any(|part| part == ".git")
        || a.contains("$GIT_DIR")
        || a.contains("${GIT_DIR}")
        || a.contains("--git-common-dir")
        || a.contains("--git-dir")
}

/// The git subcommand of `git args…` and its own arguments (global options such as `-C dir`
/// and `-c key=value` skipped).
fn git_subcommand<'a, 'b>(args: &'b [&'a str]) -> Option<(&'a str, &'b [&'a str])> {
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if matches!(*a, "-C" | "-c" | "--git-dir" | "--work-tree" | "--namespace" | "--exec-path") {
            i += 2;
        } else if a.starts_with('-') {
            i += 1;
        } else {
            return Some((a, &args[i + 1..]));
        }
    }
    None
}

/// Whether `git sub rest…` writes git's data (refs, config, objects, the index, HEAD); the
/// reason in a few words when it does.
fn git_writes(sub: &str, rest: &[&str]) -> Option<&'static str> {
    let flags = |set: &[&str]| rest.iter().any(|a| set.iter().any(|f| a == f || a.starts_with(&format!("{f}="))));
    let operands = rest.iter().filter(|a| !a.starts_with('-')).count();
    match sub {
        "update-ref" | "symbolic-ref" if sub == "update-ref" || operands >= 2 || flags(&["-d", "--delete"]) => {
            Some("moves or deletes a ref")
        }
        "gc" | "prune" | "repack" | "prune-packed" => Some("prunes or repacks objects"),
        "reflog" if rest.first().is_some_and(|a| matches!(*a, "expire" | "delete")) => Some("expires the reflog"),
        "config" => {
            let reads = flags(&["--get", "--get-all", "--get-regexp", "--get-urlmatch", "-l", "--list", "--get-color", "--get-colorbool"])
                || rest.first().is_some_and(|a| matches!(*a, "get" | "list"));
            let writes =
                flags(&["--unset", "--unset-all", "--add", "--replace-all", "--remove-section", "--rename-section", "-e", "--edit"])
                    || rest.first().is_some_and(|a| matches!(*a, "set" | "unset" | "rename-section" | "remove-section" | "edit"))
                    || operands >= 2;
            (writes && !reads).then_some("changes git's config")
        }
        "branch"
            if flags(&[
                "-d",
                "-D",
                "--delete",
                "-f",
                "--force",
                "-m",
                "-M",
                "--move",
                "-c",
                "-C",
                "--copy",
                "--set-upstream-to",
                "-u",
                "--unset-upstream",
                "--edit-description",
            ]) || (operands > 0
                && !flags(&[
                    "-l",
                    "--list",
                    "--contains",
                    "--no-contains",
                    "--merged",
                    "--no-merged",
                    "--points-at",
                    "--show-current",
                    "-a",
                    "-r",
                    "--all",
                    "--remotes",
                    "-v",
                    "-vv",
                    "--verbose",
                ])) =>
        {
            Some("creates, moves or deletes a branch")
        }
        "tag"
            if flags(&["-d", "--delete", "-f", "--force", "-a", "-s", "-m"])
                || (operands > 0
                    && !flags(&["-l", "--list", "--contains", "--no-contains", "--merged", "--no-merged", "--points-at", "-n"])) =>
        {
            Some("creates or deletes a tag")
        }
        "push" => Some("pushes"),
        "reset" | "commit" | "merge" | "rebase" | "cherry-pick" | "revert" | "am" | "pull" | "fetch" | "stash" | "checkout" | "switch"
        | "update-index" | "add" | "rm" | "mv" | "filter-branch" | "filter-repo" | "replace" | "notes" | "clean" => {
            Some("changes refs, HEAD, the index or the work it tracks")
        }
        "worktree" | "remote" | "submodule"
            if rest.first().is_some_and(|a| !matches!(*a, "list" | "show" | "get-url" | "-v" | "status")) =>
        {
            Some("changes the worktree, remote or submodule records")
        }
        _ => None,
    }
}

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
        while matches!(
            words.first(),
            Some(
                &("sudo"
                    | "doas"
                    | "env"
                    | "exec"
                    | "nohup"
                    | "time"
                    | "command"
                    | "{"
                    | "!"
                    | "if"
                    | "then"
                    | "else"
                    | "elif"
                    | "do"
                    | "while"
                    | "until")
            )
        ) {
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
        if cmd == "git"
            && let Some((sub, rest)) = git_subcommand(args)
            && let Some(why) = git_writes(sub, rest)
        {
            push(FindingKind::WritesGitData, format!("writes the repository's git data (`git {sub}` {why})"));
        }
        if (DELETERS.contains(&cmd) || WRITERS.contains(&cmd) || (cmd == "find" && args.contains(&"-delete")))
            && let Some(target) = args.iter().find(|a| in_git_folder(a))
        {
            push(FindingKind::WritesGitData, format!("writes the repository's git data (`{cmd}` on `{target}`)"));
        }
        if reaches_network(cmd, args) {
            push(FindingKind::Network, format!("reaches the network (`{cmd}`)"));
        }
        let deletes = DELETERS.contains(&cmd) || (cmd == "find" && args.contains(&"-delete"));
        if deletes && let Some(target) = args.iter().filter(|a| !a.starts_with('-')).find(|a| escapes_worktree(a)) {
            push(FindingKind::DeletesOutsideWorktree, format!("deletes or moves `{target}`, outside the worktree"));
        }
    }
    if let Some(m) = GIT_REDIRECT.find(command) {
        push(FindingKind::WritesGitData, format!("writes the repository's git data (redirects into `{}`)", m.as_str().trim()));
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

/// Every word of a shell line, quotes removed (see `simple_commands`): what a check's command
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
        assert_eq!(kinds("git push origin main"), [FindingKind::WritesGitData, FindingKind::Network]);
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
    fn flags_writes_into_git_data() {
        for c in [
            "rm -rf .git/objects",
            "grep -q licence README || { rm -rf .git/objects; echo FAIL; }",
            "mv .git/config /tmp/x",
            "cp evil .git/hooks/post-commit",
            "echo '*.rs' >> .git/info/exclude",
            "printf x > ./.git/hooks/pre-push",
            "echo x >.git/config && echo PASS",
            "git update-ref refs/heads/main HEAD~2",
            "git -C . update-ref -d refs/heads/x",
            "git config core.fsmonitor 'touch pwned'",
            "git config --unset user.name",
            "git config set core.hooksPath /tmp",
            "git gc --prune=now",
            "git reflog expire --expire=now --all",
            "git branch -D main",
            "git branch -f main HEAD~1",
            "git tag -d v1",
            "git push origin main",
            "git reset --hard HEAD~1",
            "git stash",
            "git symbolic-ref HEAD refs/heads/x",
            "sh -c 'git update-ref refs/heads/main HEAD~1'",
            "touch \"$(git rev-parse --git-dir)/hooks/post-commit\"",
            "sed -i s/a/b/ .git/config",
        ] {
            assert!(inspect(c).iter().any(|f| f.kind == FindingKind::WritesGitData), "{c}: {:?}", inspect(c));
        }
    }

    #[test]
    fn reading_git_data_is_not_flagged() {
        for c in [
            "git config --get user.name",
            "git config user.name",
            "git branch --show-current",
            "git branch -a",
            "git tag -l 'v*'",
            "git log --oneline -5",
            "git diff --quiet HEAD -- src",
            "git status --porcelain",
            "cat .git/HEAD",
            "grep -q x .gitignore && echo PASS > /dev/null",
            "echo x > .gitignore.tmp; rm .gitignore.tmp",
            "git reflog show",
            "git worktree list",
            "git remote -v",
        ] {
            assert!(inspect(c).iter().all(|f| f.kind != FindingKind::WritesGitData), "{c}: {:?}", inspect(c));
        }
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
