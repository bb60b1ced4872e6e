//! What every command needs: the global flags, the output handle, and lazily the repository,
//! its configuration and its loaded workspace.

use std::path::PathBuf;

use crate::base::error::Problem;
use crate::cli::args::GlobalArgs;
use crate::cli::error::CliError;
use crate::cli::ui::Ui;
use crate::files::catalog::Catalog;
use crate::files::config::{Config, Overrides};
use crate::files::workspace::Workspace;
use crate::git::repo::Repo;

/// Per-invocation context.
pub struct Ctx {
    pub global: GlobalArgs,
    pub ui: Ui,
}

impl Ctx {
    pub fn new(global: GlobalArgs, ui: Ui) -> Ctx {
        Ctx { global, ui }
    }

    /// Open the repository (`--repo`, else git's environment and the current directory).
    pub fn repo(&self) -> Result<Repo, CliError> {
        Ok(Repo::open(self.global.repo.as_deref())?)
    }

    pub fn overrides(&self) -> Overrides {
        Overrides { catalog: self.global.catalog.clone(), issues: self.global.issues.clone() }
    }

    /// Repository, configuration and loaded workspace.
    pub fn workspace(&self) -> Result<(Repo, Workspace), CliError> {
        let repo = self.repo()?;
        let config = Config::load(&repo.root, &self.overrides())?;
        let ws = Workspace::load(&repo.root, config)?;
        Ok((repo, ws))
    }

    /// Like [`Ctx::workspace`], for commands that need a git-lanes set-up: outside one (no
    /// catalog, no `lanes.yaml`, no lane, no run state) they stop with "run `git lanes init`" and exit 5 (state)
    /// instead of reporting on a catalog that does not exist.
    pub fn setup_workspace(&self) -> Result<(Repo, Workspace), CliError> {
        let (repo, ws) = self.workspace()?;
        require_setup(&ws)?;
        Ok((repo, ws))
    }

    /// [`Ctx::setup_workspace`] through the summary cache (see [`Ctx::summaries`]).
    pub fn setup_summaries(&self, write_back: bool) -> Result<(Repo, Workspace), CliError> {
        let (repo, ws) = self.summaries(write_back)?;
        require_setup(&ws)?;
        Ok((repo, ws))
    }

    /// Repository, configuration and workspace loaded through the summary cache (issues without
    /// their text): for the catalog commands that only read issue files. `write_back`: whether
    /// the cache is brought up to date (see [`Workspace::load_cached`]).
    pub fn summaries(&self, write_back: bool) -> Result<(Repo, Workspace), CliError> {
        let repo = self.repo()?;
        let config = Config::load(&repo.root, &self.overrides())?;
        let ws = Workspace::load_cached(&repo.root, config, &repo.cache_dir(), write_back)?;
        Ok((repo, ws))
    }

    /// Read and parse the catalog; `Ok(None)` when the file does not exist.
    pub fn catalog(&self, ws: &Workspace) -> Result<Option<Result<Catalog, Problem>>, CliError> {
        let path: PathBuf = ws.config.catalog.clone();
        match crate::base::fsutil::read_optional_capped(&ws.root.join(&path), crate::files::text::MAX_FILE_BYTES)? {
            None => Ok(None),
            Some(bytes) => Ok(Some(Catalog::parse(&path, bytes))),
        }
    }

    /// The catalog, which must exist and parse.
    pub fn require_catalog(&self, ws: &Workspace) -> Result<Catalog, CliError> {
        let bytes = crate::base::fsutil::read_optional_capped(&ws.root.join(&ws.config.catalog), crate::files::text::MAX_FILE_BYTES)?;
        self.parse_catalog(ws, bytes)
    }

    /// The catalog from `bytes` already read (`None`: there is no catalog file), which must
    /// exist and parse.
    pub fn parse_catalog(&self, ws: &Workspace, bytes: Option<Vec<u8>>) -> Result<Catalog, CliError> {
        match bytes {
            Some(b) => Ok(Catalog::parse(&ws.config.catalog, b)?),
            None => Err(CliError::state(format!("no catalog at {}", ws.config.catalog.display()))
                .hint("run `git lanes init` to create one, or pass `--catalog <path>`")),
        }
    }
}

/// Outside a git-lanes set-up (no catalog, no `lanes.yaml`, no lane, no run state): an error
/// saying "run `git lanes init`".
fn require_setup(ws: &Workspace) -> Result<(), CliError> {
    require_setup_of(&ws.root, &ws.config, !ws.lanes(&[]).is_empty())
}

/// `require_setup` for a command that knows whether there are lanes without a workspace.
pub fn require_setup_of(root: &std::path::Path, config: &Config, has_lanes: bool) -> Result<(), CliError> {
    let has_catalog = root.join(&config.catalog).exists();
    let has_state = root.join(&config.state).exists();
    if !has_catalog && !has_state && !config.from_file && !has_lanes {
        return Err(CliError::new(
            crate::cli::error::ExitKind::State,
            format!("no git-lanes set-up in {}: no catalog ({}), no lanes.yaml, no lane", root.display(), config.catalog.display()),
        )
        .hint("run `git lanes init` to set this repository up (or pass `--catalog <path>` / `--repo <path>`)"));
    }
    Ok(())
}
