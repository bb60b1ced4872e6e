//! The flags every command accepts, defined once for the parser and read by the context, the
//! output handle and the commands.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::agents::presets::Preset;

/// Flags every command accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Use the repository at (or above) this path instead of the current directory
    #[arg(long, global = true, help_heading = "Global options", value_name = "PATH")]
    pub repo: Option<PathBuf>,
    /// Print machine-readable JSON on stdout (errors as JSON on stderr)
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
    /// Catalog file, relative to the repository root (overrides lanes.yaml)
    #[arg(long, global = true, help_heading = "Global options", value_name = "PATH")]
    pub catalog: Option<PathBuf>,
    /// Issues folder, relative to the repository root (overrides lanes.yaml)
    #[arg(long, global = true, help_heading = "Global options", value_name = "PATH")]
    pub issues: Option<PathBuf>,
    /// Print no progress or status messages (data and errors still print)
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub quiet: bool,
    /// When to use colour
    #[arg(long, global = true, help_heading = "Global options", value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// `--worker` values: a preset name or any shell command line, kept as written. Shell completion
/// offers the preset names (from `Preset::ALL`); help does not list them as the only choices.
#[derive(Debug, Clone, Copy)]
pub struct WorkerValue;

impl clap::builder::TypedValueParser for WorkerValue {
    type Value = String;

    fn parse_ref(&self, cmd: &clap::Command, arg: Option<&clap::Arg>, value: &std::ffi::OsStr) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(Preset::ALL.into_iter().map(|p| clap::builder::PossibleValue::new(p.name()))))
    }
}
