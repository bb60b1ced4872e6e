//! Output: stdout for data, stderr for people; human or JSON; colour only when wanted.

use std::io::{self, Write};

use console::Style;

use crate::base::error::Problem;

/// Set once per invocation from the global flags and the environment.
#[derive(Debug, Clone)]
pub struct Ui {
    pub json: bool,
    pub quiet: bool,
    pub color: bool,
    /// stdin and stderr are terminals and `CI` is unset: prompts and live progress are allowed.
    pub interactive: bool,
}

/// The schema version of every `--json` document.
pub const SCHEMA_VERSION: u32 = 1;

impl Ui {
    pub fn new(json: bool, quiet: bool, color: crate::cli::args::ColorChoice) -> Ui {
        use std::io::IsTerminal;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match color {
            crate::cli::args::ColorChoice::Always => true,
            crate::cli::args::ColorChoice::Never => false,
            crate::cli::args::ColorChoice::Auto => !no_color && io::stderr().is_terminal() && io::stdout().is_terminal(),
        };
        console::set_colors_enabled(color);
        console::set_colors_enabled_stderr(color);
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0");
        let interactive = io::stdin().is_terminal() && io::stderr().is_terminal() && !ci;
        Ui { json, quiet, color, interactive }
    }

    /// A line of data on stdout.
    pub fn out(&self, line: impl AsRef<str>) -> io::Result<()> {
        let mut o = io::stdout().lock();
        o.write_all(crate::base::redact::redact(line.as_ref()).as_bytes())?;
        o.write_all(b"\n")
    }

    /// Lines of data on stdout, each as [`Ui::out`] writes it, in one write.
    pub fn out_lines(&self, lines: &[String]) -> io::Result<()> {
        let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for line in lines {
            text.push_str(&crate::base::redact::redact(line));
            text.push('\n');
        }
        io::stdout().lock().write_all(text.as_bytes())
    }

    /// A JSON document on stdout, with `schema_version` first.
    pub fn json(&self, mut value: serde_json::Value) -> io::Result<()> {
        if let serde_json::Value::Object(map) = &mut value {
            let mut with = serde_json::Map::new();
            with.insert("schema_version".into(), SCHEMA_VERSION.into());
            with.extend(std::mem::take(map));
            *map = with;
        }
        let text = serde_json::to_string_pretty(&value).map_err(io::Error::from)?;
        let mut o = io::stdout().lock();
        // Secret values are replaced inside the JSON strings (a value never spans a quote).
        o.write_all(crate::base::redact::redact_values(&text).as_bytes())?;
        o.write_all(b"\n")
    }

    /// A status line for people on stderr (silenced by `-q`).
    pub fn info(&self, line: impl AsRef<str>) {
        if !self.quiet && !self.json {
            eprintln!("{}", crate::base::redact::redact(line.as_ref()));
        }
    }

    /// A warning on stderr (shown even with `-q`, but not in JSON mode).
    pub fn warn(&self, line: impl AsRef<str>) {
        if !self.json {
            eprintln!("{} {}", self.yellow("warning:"), crate::base::redact::redact(line.as_ref()));
        }
    }

    pub fn bold(&self, s: impl std::fmt::Display) -> String {
        Style::new().bold().apply_to(s).to_string()
    }
    pub fn green(&self, s: impl std::fmt::Display) -> String {
        Style::new().green().apply_to(s).to_string()
    }
    pub fn red(&self, s: impl std::fmt::Display) -> String {
        Style::new().red().apply_to(s).to_string()
    }
    pub fn yellow(&self, s: impl std::fmt::Display) -> String {
        Style::new().yellow().apply_to(s).to_string()
    }
    pub fn dim(&self, s: impl std::fmt::Display) -> String {
        Style::new().dim().apply_to(s).to_string()
    }

    /// `path:line: message` and an indented `hint:` line, for a problem on stdout.
    pub fn problem_lines(&self, p: &Problem, label: &str) -> String {
        let tag = if label == "error" { self.red("error:") } else { self.yellow(format!("{label}:")) };
        let mut s = format!("{}: {tag} {}", self.bold(p.location()), p.message);
        if let Some(h) = &p.hint {
            s += &format!("\n  {} {h}", self.dim("hint:"));
        }
        s
    }
}
